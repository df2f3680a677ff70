"""The machinery under README.md's generated blocks (bench.devtools.readme): the repository's files read once
each (`Sources`), the block registry (`block`, `BLOCKS`, `LOADERS`), the formatting every block shares, and the
board the blocks read results through (LEADERBOARD.md's protocol and hash)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.core.errors import DataError
from bench.core.protocol import Protocol

LEADERBOARD = "leaderboards/LEADERBOARD.md"
RESULTS = "leaderboards/results"
REPORT_RESULTS = "reports/results"
BENCH_JSON = "reports/bench.json"
TIMING = "reports/bench_timing.json"
REFERENCES_TIMING = "reports/references_timing.json"  # `tox -e references` (bench.devtools.timed --file)
PROBE = "reports/world_difficulty.json"
VAE_CEILING = "reports/maugen_tiny_vae_ceiling.json"
REFERENCE_WEIGHTS = "reference/weights"
JUDGE_WEIGHTS = "bench/judges/weights"
JUDGECHECK = "reports/judge_independence.md"
BLOCK_COVERAGE = "reports/block_coverage.json"  # bench.studies.blockcoverage's measurements


# -- sources -----------------------------------------------------------------------------------------------------


class Sources:
    """The repository's files, read once each: `text` and `json` raise a DataError naming a missing file and the
    command that writes it."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._cache: dict[Any, Any] = {}

    def path(self, rel: str) -> Path:
        return self.root / rel

    def text(self, rel: str, writer: str) -> str:
        p = self.path(rel)
        if not p.is_file():
            raise DataError(p, f"missing (written by `{writer}`)")
        return p.read_text()

    def json(self, rel: str, writer: str) -> Any:
        if rel not in self._cache:
            try:
                self._cache[rel] = json.loads(self.text(rel, writer))
            except json.JSONDecodeError as e:
                raise DataError(self.path(rel), f"not valid JSON ({e})") from None
        return self._cache[rel]

    def memo(self, key: Any, make: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]


BLOCKS: dict[str, Callable[..., str]] = {}  # block name -> pure generator (keyword inputs -> markdown)
LOADERS: dict[str, Callable[[Sources], dict]] = {}  # block name -> its inputs read from the repository


def block(name: str, load: Callable[[Sources], dict]):
    """Register a generator for the README block `name` with the loader of its inputs."""
    def deco(fn: Callable[..., str]) -> Callable[..., str]:
        BLOCKS[name] = fn
        LOADERS[name] = load
        return fn
    return deco


def render_block(name: str, src: Sources) -> str:
    """The text of block `name` from the repository's files."""
    return BLOCKS[name](**LOADERS[name](src))


# -- formatting ----------------------------------------------------------------------------------------------------


def missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and not math.isfinite(v))


def num(v: Any, digits: int = 3) -> str:
    """A metric value: n/a when missing, else `digits` decimals."""
    return "n/a" if missing(v) else f"{v:.{digits}f}"


def join_words(items: list[str]) -> str:
    """a, b and c."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def scales_words(scales: tuple[float, ...] | list[float]) -> str:
    return join_words([f"{s:g}x" for s in scales])


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


# -- the board and its results ---------------------------------------------------------------------------------------

TITLE = re.compile(r"^# Leaderboard: `([^`]+)` \(hash `([0-9a-f]+)`\)\s*$")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[`A-Z*])")


def parse_leaderboard(text: str, path: str | Path = LEADERBOARD) -> dict:
    """{id, hash, sentence, table, notes} of a LEADERBOARD.md: the protocol and hash of its title, the first
    sentence of the paragraph under it (how it ranks), its table and the "Not ranked" lines after the table."""
    lines = text.splitlines()
    m = TITLE.match(lines[0]) if lines else None
    if m is None:
        raise DataError(path, "first line is not `# Leaderboard: `<protocol>` (hash `<hash>`)`", 1)
    i = 1
    while i < len(lines) and not lines[i].strip():
        i += 1
    para = []
    while i < len(lines) and lines[i].strip() and not lines[i].startswith("|"):
        para.append(lines[i].strip())
        i += 1
    start = next((k for k in range(i, len(lines)) if lines[k].startswith("|")), None)
    if not para or start is None:
        raise DataError(path, "no sentence under the title, or no table")
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    sentence = SENTENCE_END.split(" ".join(para), maxsplit=1)[0]
    notes = [ln for ln in lines[end:] if ln.startswith("Not ranked")]
    first = next((k for k in range(i, len(lines)) if lines[k].startswith("## ")), None)
    sections = None  # a board per task (world-v3 on): its task sections, up to the diagnostics
    if first is not None:
        last = next((k for k in range(first, len(lines)) if lines[k].startswith("## Diagnostics")), len(lines))
        sections = "\n".join(lines[first:last]).strip().replace("## ", "#### ")
    return {"id": m.group(1), "hash": m.group(2), "sentence": sentence, "table": "\n".join(lines[start:end]),
            "notes": notes, "sections": sections}


def board(src: Sources) -> dict:
    return src.memo("board", lambda: parse_leaderboard(src.text(LEADERBOARD, "augen leaderboard"),
                                                       src.path(LEADERBOARD)))


def board_results(src: Sources) -> list[tuple[str, dict]]:
    """(name, results) filed under the board's protocol whose hash is the board's, sorted by name."""
    from bench.publish.leaderboard import load_filed

    b = board(src)
    return src.memo("board_results", lambda: [(n, r) for n, r in load_filed(src.path(RESULTS) / b["id"])
                                              if r["protocol"]["hash"].startswith(b["hash"])])


def protocol(pid: str) -> Protocol:
    from bench.scoring.protocols import load_protocol

    return load_protocol(pid)
