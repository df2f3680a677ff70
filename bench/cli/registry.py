"""`augen list generators|judges|metrics|recognizers|readers|trainers|protocols|packages`: what is registered, with
what each entry needs before it runs (the protocol's world settings, local weights) and where it runs (an entry
declaring `device` takes a torch device and runs on the CPU unless told otherwise: a GPU is never needed) and, for
metrics, family and direction; `packages`: the package map (bench.core.packages), bottom layer first."""

from __future__ import annotations

KINDS = ("generators", "judges", "metrics", "recognizers", "readers", "trainers", "protocols", "packages")
#: What each declared need (bench.core.registry.NEEDS) asks of whoever runs the entry, by registry kind.
NEED_WORDS = {"world": "world settings (the harness passes the protocol's)",
              "weights": {"generators": "local weights (--option weights=DIR)",
                          "judges": "local weight files (when missing, it names which and where)"}}
#: `device` is not a need: every entry that declares it runs on the CPU by default.
DEVICE_WORDS = {"generators": "CPU (a GPU with --option device=cuda)", "judges": "CPU (or the device it is given)"}


def needs_text(kind: str, needs: frozenset[str] | set[str]) -> str:
    """One entry's `needs: ...` (what must be there before it runs; '-' for nothing) and, for entries taking a torch
    device, `runs on: ...`."""
    words = [w if isinstance(w := NEED_WORDS[n], str) else w.get(kind, f"local {n}") for n in sorted(needs)
             if n != "device"]
    text = f"needs: {'; '.join(words) or '-'}"
    return text + (f"; runs on: {DEVICE_WORDS.get(kind, 'CPU')}" if "device" in needs else "")


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
        print(f"{name:<24} {needs_text(args.kind, reg.entry(name).needs)}")
    return 0


def add_commands(sub) -> None:
    ls = sub.add_parser("list", help="what is registered: generators, judges, metrics, recognizers, readers, "
                                     "trainers, protocols; and the package map (packages)")
    ls.add_argument("kind", choices=KINDS, help="what to list: " + ", ".join(KINDS))
    ls.set_defaults(func=cmd_list)
