"""Code references in the fidelity docs (docs/fidelity-maugen.md, docs/fidelity-synfer.md), resolved and checked.

A reference to our code is a code span `path::Symbol`: `path` from the repository root, `Symbol` a module-level
function, class or assigned name, or `Class.member` (a method, a class attribute or dataclass field, or an
attribute a method assigns as `self.member`; nested classes chain). No line numbers are written: they move with
every edit. This module finds each symbol's definition line with `ast` (nothing is imported), and checks:

- every `path::Symbol` resolves, and every code span naming a file of the repository (`reference/...`,
  `bench/...`, `tests/...`, `docs/...`, `tools/...`) names one that exists;
- every row of a component table (a table whose header has the columns `theirs`, `ours` and `match`) cites our
  code in `ours`, cites theirs in `theirs` as `abbr:N`, `abbr:N-M` or comma-separated ranges (an abbreviation the
  document declares with its file's length, `` `abbr` = `file` (N lines) ``; the lines must fall inside it) or
  says `absent`, and has a `match` value of MATCHES.

Their code itself is not read here (it is not on the test machine); the docs name the commit it was read at.

    python -m bench.devtools.docrefs docs/fidelity-maugen.md docs/fidelity-synfer.md   # each reference -> file:line
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DOCS = ("docs/fidelity-maugen.md", "docs/fidelity-synfer.md")
MATCHES = ("same", "differs", "inferred", "differs, inferred")  # the `match` column's values (defined in each doc)
REPO_DIRS = ("reference/", "bench/", "tests/", "docs/", "tools/")  # a code span starting so names a repository file
SPAN = re.compile(r"`([^`\n]+)`")
REF = re.compile(r"^([\w./-]+\.py)::([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)$")
THEIRS = re.compile(r"^([a-z]\w*):(\d+(?:-\d+)?(?:,\s?\d+(?:-\d+)?)*)$")  # `bm:508-509`, `msid:100-103,138-160`
DECLARED = re.compile(r"`([a-z]\w*)`\s*=\s*`([^`]+)`\s+\((\d+)\s+lines\)")


@dataclass(frozen=True)
class CodeRef:
    """One `path::Symbol` of a document."""

    path: str  # from the repository root
    symbol: str  # dotted: Name or Class.member[.member]
    line: int  # 1-based line of the document that cites it


def code_refs(text: str) -> list[CodeRef]:
    """Every `path::Symbol` code span of `text`, in order."""
    out = []
    for i, line in enumerate(text.splitlines(), 1):
        for span in SPAN.findall(line):
            if m := REF.match(span.strip()):
                out.append(CodeRef(m.group(1), m.group(2), i))
    return out


@cache
def _tree(file: Path, mtime: float) -> ast.Module:
    return ast.parse(file.read_text(), filename=str(file))


def _assigned(node: ast.AST) -> list[str]:
    """Names a module- or class-level statement binds (assignments, defs, classes; imports bind nothing here)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
    names = []
    for t in targets:
        names += [n.id for n in ast.walk(t) if isinstance(n, ast.Name)]
    return names


def _self_attributes(cls: ast.ClassDef) -> dict[str, int]:
    """member -> first line where a method of `cls` assigns `self.member`."""
    out: dict[str, int] = {}
    for fn in cls.body:
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) or not fn.args.args:
            continue
        me = fn.args.args[0].arg
        for node in ast.walk(fn):
            targets = (node.targets if isinstance(node, ast.Assign) else
                       [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else [])
            for t in targets:
                for a in ast.walk(t):
                    if (isinstance(a, ast.Attribute) and isinstance(a.value, ast.Name) and a.value.id == me
                            and a.attr not in out):
                        out[a.attr] = a.lineno
    return out


def definition_line(root: Path, path: str, symbol: str) -> int:
    """The line where `symbol` is defined in `root/path`; LookupError naming what is missing."""
    file = root / path
    if not file.is_file():
        raise LookupError(f"{path}: no such file")
    body: list[ast.stmt] = _tree(file, file.stat().st_mtime).body
    where, line, cls = path, 0, None
    parts = symbol.split(".")
    for k, part in enumerate(parts):
        found = next((n for n in body if part in _assigned(n)), None)
        if found is not None:
            line = found.lineno
        elif cls is not None and part in (attrs := _self_attributes(cls)):
            line, found = attrs[part], None
        else:
            raise LookupError(f"{path}: no {part!r} in {where}")
        if k < len(parts) - 1:
            if not isinstance(found, ast.ClassDef):
                raise LookupError(f"{path}: {where}.{part} is not a class, so {symbol} cannot resolve")
            body, cls = found.body, found
        where = f"{where}::{part}" if where == path else f"{where}.{part}"
    return line


def _cells(line: str) -> list[str]:
    """A markdown table row's cells (a `\\|` inside a cell is not a separator)."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]


def component_rows(text: str) -> list[tuple[int, dict[str, str]]]:
    """(document line, {column: cell}) of every row of every component table (header with theirs, ours, match);
    a row whose cell count is not the header's gets the key "cells" saying so (an unescaped `|` splits a cell)."""
    lines, out, i = text.splitlines(), [], 0
    while i < len(lines):
        if lines[i].startswith("|") and i + 1 < len(lines) and set(lines[i + 1].replace("|", "").strip()) <= set("-: "):
            header = [h.lower() for h in _cells(lines[i])]
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                if {"theirs", "ours", "match"} <= set(header):
                    cells = _cells(lines[i])
                    row = dict(zip(header, cells))
                    if len(cells) != len(header):
                        row["cells"] = f"{len(cells)} cells where the header has {len(header)}"
                    out.append((i + 1, row))
                i += 1
        else:
            i += 1
    return out


def declared_files(text: str) -> dict[str, tuple[str, int]]:
    """abbreviation -> (their file, its length in lines), as the document declares them."""
    return {m.group(1): (m.group(2), int(m.group(3))) for m in DECLARED.finditer(text)}


def problems(text: str, root: Path, doc: str = "document") -> list[str]:
    """Everything wrong with the references of a fidelity document (an empty list: all resolve)."""
    out = []
    for r in code_refs(text):
        try:
            definition_line(root, r.path, r.symbol)
        except LookupError as e:
            out.append(f"{doc}:{r.line}: `{r.path}::{r.symbol}`: {e}")
    for i, line in enumerate(text.splitlines(), 1):
        for span in SPAN.findall(line):
            s = span.strip()
            if "::" in s and ("/" in s or ".py" in s) and not REF.match(s):
                out.append(f"{doc}:{i}: `{s}` is not a reference of the form `path/file.py::Symbol`")
            elif s.startswith(REPO_DIRS) and "::" not in s and " " not in s and not (root / s.rstrip("/")).exists():
                out.append(f"{doc}:{i}: `{s}`: no such file or folder")
    files = declared_files(text)
    for n, row in component_rows(text):
        if "cells" in row:
            out.append(f"{doc}:{n}: {row['cells']} (an unescaped `|`?)")
            continue
        if not any(REF.match(s.strip()) for s in SPAN.findall(row.get("ours", ""))):
            out.append(f"{doc}:{n}: the `ours` cell cites no `path::Symbol`")
        theirs = [m for s in SPAN.findall(row.get("theirs", "")) if (m := THEIRS.match(s.strip()))]
        if not theirs and "absent" not in row.get("theirs", "").lower():
            out.append(f"{doc}:{n}: the `theirs` cell cites no `abbr:line` and does not say `absent`")
        for m in theirs:
            if m.group(1) not in files:
                out.append(f"{doc}:{n}: `{m.group(0)}`: abbreviation {m.group(1)!r} is not declared "
                           "(`` `abbr` = `file` (N lines) ``)")
                continue
            length = files[m.group(1)][1]
            for part in m.group(2).replace(" ", "").split(","):
                lo, _, hi = part.partition("-")
                if not 1 <= int(lo) <= int(hi or lo) <= length:
                    out.append(f"{doc}:{n}: `{m.group(0)}`: lines {part} are not inside {files[m.group(1)][0]} "
                               f"({length} lines)")
        if row.get("match", "").strip("* ") not in MATCHES:
            out.append(f"{doc}:{n}: match {row.get('match')!r} is not one of {', '.join(MATCHES)}")
    return out


def main(argv: list[str] | None = None) -> int:
    root = Path(__file__).resolve().parents[2]
    bad = []
    for doc in (argv if argv else DOCS):
        text = (root / doc).read_text()
        for r in code_refs(text):
            try:
                print(f"{doc}:{r.line}  {r.path}::{r.symbol} -> {r.path}:{definition_line(root, r.path, r.symbol)}")
            except LookupError:
                pass
        bad += problems(text, root, doc)
    for p in bad:
        print(p, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
