"""Generated blocks in a markdown file: the `<!-- augen:NAME -->` ... `<!-- /augen:NAME -->` marker pairs, their
rewrite (each block's text from a render function, prose wrapped to the file's width) and the check that no number
stands outside a block. Generic machinery; which blocks README.md holds and what writes them is
bench.devtools.readme."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from pathlib import Path

from bench.core.atomic import atomic_write_text
from bench.core.errors import DataError

README = "README.md"
MARKER = re.compile(r"^<!-- (/?)augen:([^ ]*) -->$")


WIDTH = 115  # README's prose is hard-wrapped at about this width
LINE_START = re.compile(r"^([-+*>#|=<]|\d+[.)])")  # a line starting with these would change what markdown reads


def wrap(line: str, width: int = WIDTH, indent: str = "") -> list[str]:
    """One paragraph (or bullet item) as lines of at most `width` characters, never breaking a line before a word
    that would start a list, quote, heading, table or HTML block (such a word stays on the line before)."""
    lines: list[str] = []
    cur = ""
    for word in line.split(" "):
        if cur and len(cur) + 1 + len(word) > width and not LINE_START.match(word):
            lines.append(cur)
            cur = indent + word
        else:
            cur = f"{cur} {word}" if cur else word
    return [*lines, cur]


def wrap_markdown(text: str, width: int = WIDTH) -> str:
    """Generated markdown with its paragraphs and bullet items hard-wrapped; tables and fenced code as they are."""
    out, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if fenced or line.startswith("|") or line.startswith("```") or len(line) <= width:
            out.append(line)
        else:
            out += wrap(line, width, "  " if line.startswith("- ") else "")
    return "\n".join(out)



def blocks_in(text: str, path: str | Path = README, known: Collection[str] = ()) -> list[tuple[str, int, int]]:
    """(name, start line, end line) of each marker pair (0-based line indices of the two markers), checked: every
    start has its end, no pair inside another, every name in `known`."""
    out, open_ = [], None
    for i, line in enumerate(text.splitlines()):
        m = MARKER.match(line.strip())
        if m is None:
            if "augen:" in line and "<!--" in line:
                raise DataError(path, f"malformed marker {line.strip()!r} (want `<!-- augen:NAME -->` or "
                                      f"`<!-- /augen:NAME -->` on a line of its own)", i + 1)
            continue
        closing, name = m.group(1) == "/", m.group(2)
        if not closing:
            if open_ is not None:
                raise DataError(path, f"block {name!r} starts inside block {open_[0]!r} (opened on line "
                                      f"{open_[1] + 1})", i + 1)
            if name not in known:
                raise DataError(path, f"unknown block {name!r} (known: {', '.join(sorted(known))})", i + 1)
            open_ = (name, i)
        else:
            if open_ is None or open_[0] != name:
                raise DataError(path, f"end of block {name!r} without its start" + (
                    f" (block {open_[0]!r} is open)" if open_ else ""), i + 1)
            out.append((name, open_[1], i))
            open_ = None
    if open_ is not None:
        raise DataError(path, f"block {open_[0]!r} is never closed (`<!-- /augen:{open_[0]} -->`)", open_[1] + 1)
    return out


def rewrite(text: str, render: Callable[[str], str], path: str | Path = README, known: Collection[str] = ()
            ) -> tuple[str, list[str]]:
    """`text` with the content of every block replaced by `render(name)` (a blank line on each side), and the names
    of the blocks whose content changed (a block not in `known` is an error)."""
    lines = text.splitlines()
    out, changed, last = [], [], 0
    for name, start, end in blocks_in(text, path, known):
        new = ["", *wrap_markdown(render(name).strip("\n")).splitlines(), ""]
        if lines[start + 1:end] != new:
            changed.append(name)
        out += lines[last:start + 1] + new
        last = end
    out += lines[last:]
    return "\n".join(out) + ("\n" if text.endswith("\n") or not text else ""), changed


NUMBER = re.compile(r"(?<![\w.\-/])\d+(?:[.,]\d+)*(?:-\d+)?")


def loose_numbers(text: str) -> list[tuple[int, str]]:
    """(line number, number) of each number in README text outside the generated blocks, fenced code, inline code
    and link targets: the numbers no code writes (tests/test_readme.py allows only settings and names)."""
    text = re.sub(r"<!-- augen:([^ ]+) -->.*?<!-- /augen:\1 -->", lambda m: "\n" * m.group(0).count("\n"), text,
                  flags=re.S)
    text = re.sub(r"```.*?```", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    out = []
    for i, line in enumerate(text.splitlines()):
        line = re.sub(r"\]\([^)]*\)", "]", re.sub(r"`[^`]*`", "", line))
        out += [(i + 1, m.group(0)) for m in NUMBER.finditer(line)]
    return out


def write_or_check(path: Path, doc: str, new: str, changed: bool, check: bool, stale: str) -> int:
    """The end of a doc-block writer: with `check`, write nothing and return 1 (printing `stale`) when the block
    changed; else write the new text if it changed. 0 otherwise."""
    import sys

    if changed and check:
        print(f"stale: {stale}", file=sys.stderr)
        return 1
    if changed:
        atomic_write_text(path, new)
    print(f"wrote {doc}" if changed else f"{doc}: up to date")
    return 0
