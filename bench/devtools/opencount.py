"""Count what one `augen` command reads: PNG reads and decodes per image, protocol files parsed, judge weights loaded.

    python -m bench.devtools.opencount [--json FILE] -- augen submit SET --protocol world-v3 --name x
    python -m bench.devtools.opencount --report FOLDER     FOLDER/counts.md from its before-*.json / after-*.json

runs the `augen` command line in this process with Python's audit hook on `open` (inherited by forked loader
workers; each event is appended as one line to a log file, so workers' reads count too) and a wrapper on PIL's
decoder. It prints, and with `--json` writes:

    images               distinct PNG files read
    png_opens_per_image  every open of a PNG for reading / images (a decode opens the file too)
    decodes_per_image    PIL decodes of a PNG / images
    hash_reads_per_image opens that were not decodes (full reads for a content hash or a check) / images
    protocol_parses      opens of a protocol YAML under bench/protocols (or of the --protocol file given)
    judge_builds         judges built (calls of a JUDGES factory in this process)

Processes started with `spawn` (the runner's generation workers) are not counted: the figures are for scoring.
Issue 28's counts (docs/architecture.md, "One scoring spine") come from this tool.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

USAGE = ("usage: python -m bench.devtools.opencount [--json FILE] -- augen ARGS...\n"
         "       python -m bench.devtools.opencount --report FOLDER")
COLUMNS = ("png_opens_per_image", "decodes_per_image", "hash_reads_per_image", "protocol_parses", "judge_builds")


def public_command(argv: list[str]) -> str:
    """`augen ARGS` as recorded: an argument naming an existing file or folder keeps only its name (no machine
    paths in filed counts)."""
    return "augen " + " ".join(Path(a).name if len(a) > 1 and Path(a).exists() else a for a in argv)


def report(folder: Path) -> Path:
    """counts.md in `folder`: each `before-X.json` beside its `after-X.json` (the counts this tool wrote)."""
    from bench.core.atomic import atomic_write_text

    rows = ["| command | code | " + " | ".join(c.replace("_", " ") for c in COLUMNS) + " |",
            "|---|---|" + "---:|" * len(COLUMNS)]
    for before in sorted(folder.glob("before-*.json")):
        for side, path in (("before", before), ("after", before.with_name("after-" + before.name[7:]))):
            if path.is_file():
                c = json.loads(path.read_text())
                rows.append(f"| `{c['command']}` | {side} | " + " | ".join(str(c[k]) for k in COLUMNS) + " |")
    text = ("# Reads per scored set: before and after the scoring spine\n\n"
            "Written by `python -m bench.devtools.opencount --report` from the counts beside it (each made by "
            "`python -m bench.devtools.opencount --json FILE -- augen ...`, images = 2,000; `before` ran the commit "
            "before the spine, 587a4c1).\n\n" + "\n".join(rows) + "\n")
    out = folder / "counts.md"
    atomic_write_text(out, text)
    return out


def _install(log: Path) -> None:
    """Audit hook (opens) and a PIL decode wrapper that append `kind<TAB>path` lines to `log`."""
    from PIL import ImageFile

    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def note(kind: str, path: str) -> None:
        os.write(fd, f"{kind}\t{path}\n".encode())

    def hook(event: str, args: tuple) -> None:
        if event == "open" and isinstance(args[0], str | bytes | os.PathLike):
            path, mode = os.fsdecode(args[0]), args[1]
            if isinstance(mode, str) and "r" in mode and not any(c in mode for c in "wax+"):
                note("open", path)
            elif mode is None or isinstance(mode, int):
                if isinstance(args[2], int) and args[2] & (os.O_WRONLY | os.O_RDWR) == 0:
                    note("open", path)

    sys.addaudithook(hook)
    load = ImageFile.ImageFile.load

    def counted_load(self):
        if getattr(self, "_augen_counted", False) is False and self.format == "PNG":
            self._augen_counted = True
            note("decode", str(getattr(self, "filename", "") or "?"))
        return load(self)

    ImageFile.ImageFile.load = counted_load

    import functools

    from bench.core.registry import JUDGES

    get = JUDGES.get

    def counted_get(name):
        factory = get(name)

        @functools.wraps(factory)
        def build(*args, **kwargs):
            note("judge", name)
            return factory(*args, **kwargs)
        return build

    JUDGES.get = counted_get


def summarise(lines: list[str], protocol_file: str | None = None) -> dict:
    """The counts of the module docstring from the log's `kind<TAB>path` lines (`protocol_file`: a protocol given by
    path, whose opens count as parses too)."""
    opens, decodes = Counter(), Counter()
    protocols = judges = 0
    for line in lines:
        kind, _, path = line.partition("\t")
        p = Path(path)
        if kind == "judge":
            judges += 1
        elif kind == "decode":
            decodes[path] += 1
        elif p.suffix.lower() == ".png":
            opens[path] += 1
        elif (p.suffix == ".yaml" and p.parent.name == "protocols" and p.parent.parent.name == "bench") or \
                (protocol_file is not None and path == protocol_file):
            protocols += 1
    n = len(opens)
    n_decodes = sum(decodes.values())
    per = (lambda k: round(k / n, 3)) if n else (lambda k: None)
    return {"images": n, "png_opens_per_image": per(sum(opens.values())), "decodes_per_image": per(n_decodes),
            "hash_reads_per_image": per(sum(opens.values()) - n_decodes), "protocol_parses": protocols,
            "judge_builds": judges}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--report"] and len(argv) == 2:
        print(f"wrote {report(Path(argv[1]))}")
        return 0
    out = None
    if argv[:1] == ["--json"] and len(argv) > 1:
        out, argv = Path(argv[1]), argv[2:]
    if argv[:2] != ["--", "augen"]:
        print(USAGE, file=sys.stderr)
        return 2
    from bench.cli import main as augen

    with tempfile.TemporaryDirectory(prefix="augen-opencount-") as d:
        log = Path(d) / "events.log"
        _install(log)
        rc = augen(argv[2:])
        given = argv[argv.index("--protocol") + 1] if "--protocol" in argv[:-1] else None
        given = given if given and Path(given).is_file() else None
        counts = {"command": public_command(argv[2:]), "exit": rc,
                  **summarise(log.read_text(errors="replace").splitlines(), given)}
    print(json.dumps(counts, indent=1))
    if out is not None:
        from bench.core.atomic import atomic_write_text

        atomic_write_text(out, json.dumps(counts, indent=1) + "\n")
    return rc


if __name__ == "__main__":
    sys.exit(main())
