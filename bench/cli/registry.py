"""`augen list generators|judges|metrics|recognizers|readers|trainers|protocols|packages`: what is registered, with
what each entry needs (the world, a device, local weights) and, for metrics, family and direction; `packages`: the
package map (bench.core.packages), bottom layer first."""

from __future__ import annotations

KINDS = ("generators", "judges", "metrics", "recognizers", "readers", "trainers", "protocols", "packages")


def list_packages() -> None:
    from bench.core.packages import PACKAGES

    for p in sorted(PACKAGES, key=lambda p: (p.layer is None, p.layer or 0)):
        print(f"{'apart' if p.layer is None else p.layer:>5}  {p.name:<11} {p.purpose}")


def cmd_list(args) -> int:
    if args.kind == "packages":
        list_packages()
        return 0
    from bench.core import registry as R
    from bench.generation import base  # noqa: F401  (registers the controls)
    from bench.scoring.protocols import known_protocols

    if args.kind == "protocols":
        print("\n".join(known_protocols()))
        return 0
    if args.kind == "metrics":
        from bench.core.protocol import FAMILIES

        for e in sorted(R.METRICS.entries(), key=lambda e: FAMILIES.index(e.meta["family"])):
            m = e.meta
            name = f"{e.name}_<scale>x|mixed|slope" if m["suffixed"] else e.name
            print(f"{name:<44} {m['family']:<13} {'higher' if m['higher_is_better'] else 'lower'} is better")
        return 0
    reg = {"generators": R.GENERATORS, "judges": R.JUDGES, "recognizers": R.RECOGNIZERS, "readers": R.READERS,
           "trainers": R.TRAINERS}[args.kind]
    for name in reg.names():
        needs = sorted(reg.entry(name).needs)
        print(f"{name:<24} needs: {', '.join(needs) or '-'}")
    return 0


def add_commands(sub) -> None:
    ls = sub.add_parser("list", help="what is registered: generators, judges, metrics, recognizers, readers, "
                                     "trainers, protocols; and the package map (packages)")
    ls.add_argument("kind", choices=KINDS, help="what to list: " + ", ".join(KINDS))
    ls.set_defaults(func=cmd_list)
