"""What beside a protocol's settings decides its numbers, as typed parts of its hash (bench.core.protocol's
`protocol_hash` reads their rendered text): `HashPart`s and `hash_text`, the one place that text is written.

Parts, in the order a results file's hash takes them: the judge's weights (bare sha256), the reference set's content
(`ref:`, faces), an external AU tool's readings (bare tool id), extra feature judges (`<judge id>:<sha256>`), the
headline's downstream protocol (`downstream:`), a real dataset's label files (`data:`) and a pretrained backbone
(`backbone:`, real). Results whose parts differ are never ranked together.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HashPart:
    """One thing beside the protocol's settings that decides its numbers."""

    label: str  # what it is: "judge", "ref", "au_tool", a feature judge's id, "downstream", "data", "backbone"
    value: str  # its content: a weights sha256, a set's content hash, a tool id, a protocol hash
    bare: bool = False  # written without its label (the judge's sha256 and an AU tool's id, as first filed)


def judge_part(sha256: str) -> HashPart:
    return HashPart("judge", sha256, bare=True)


def au_tool_part(tool_id: str) -> HashPart:
    return HashPart("au_tool", tool_id, bare=True)


def hash_text(parts: list[HashPart]) -> str:
    """The text the protocol hash adds to its settings: parts joined by `|`, each `label:value` (bare: `value`)."""
    return "|".join(p.value if p.bare else f"{p.label}:{p.value}" for p in parts)
