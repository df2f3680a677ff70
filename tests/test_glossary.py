"""The metric glossary and the leaderboard guide (bench.devtools.glossary): every metric documents every field, a
metric without them is refused at registration, the committed docs/metrics.md and docs/leaderboard.md are what
the registry renders (so they cannot drift), and the guide names every column of the boards it explains."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.core.registry import DOC_FIELDS, METRICS, metric_spec, register_metric
from bench.devtools import glossary as G
from bench.publish.leaderboard import headline
from bench.scoring.protocols import known_protocols, load_protocol

ROOT = Path(__file__).resolve().parent.parent
DOCS = dict(what="measures x.", formula="x", units="none", interval="none", sensitive="nothing")


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    return G.render_all()


def section(text: str, heading: str) -> str:
    """The text of one `## heading` section."""
    return text.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]


def test_every_metric_documents_every_field():
    entries = G.documented()
    assert entries
    for e in entries:
        for k in DOC_FIELDS:
            assert isinstance(e.meta[k], str) and e.meta[k].strip(), f"{e.name}: {k} is empty"


def test_every_listed_metric_name_has_its_documentation():
    for pid in known_protocols():
        for name in load_protocol(pid).metric_info:
            spec = metric_spec(name)
            assert all(spec[k] for k in DOC_FIELDS), f"{pid}: {name}"


@pytest.mark.parametrize("missing", DOC_FIELDS)
def test_a_metric_without_its_documentation_is_refused(missing):
    name = f"test_undocumented_{missing}"
    with pytest.raises(ValueError, match=f"undocumented: give {missing}"):
        register_metric(name, family="realism", higher_is_better=True, **{k: v for k, v in DOCS.items() if k != missing})
    with pytest.raises(ValueError, match="undocumented"):
        register_metric(name, family="realism", higher_is_better=True, **{**DOCS, missing: "  "})
    assert name not in METRICS.names()


def test_committed_docs_are_what_the_registry_renders(rendered):
    assert G.stale(ROOT, rendered) == [], f"run `{G.COMMAND}` and commit docs/metrics.md, docs/leaderboard.md"


def test_check_names_the_stale_files(tmp_path, capsys):
    assert G.main(["--check", "--root", str(tmp_path)]) == 1
    assert "docs/metrics.md" in capsys.readouterr().err
    assert G.main(["--root", str(tmp_path)]) == 0
    assert G.main(["--check", "--root", str(tmp_path)]) == 0
    assert (tmp_path / G.GLOSSARY).read_text(encoding="utf-8") == (ROOT / G.GLOSSARY).read_text(encoding="utf-8")


def test_glossary_has_every_metric_and_field(rendered):
    text = rendered[G.GLOSSARY]
    for e in G.documented():
        name = f"{e.name}_<suffix>" if e.meta["suffixed"] else e.name
        entry = text.split(f"### `{name}`\n", 1)[1].split("\n### ", 1)[0]
        for k in DOC_FIELDS:
            assert f"**{G.FIELD_NAMES[k]}**: {e.meta[k]}" in entry


def test_guide_lists_every_headline_label_of_world_v2(rendered):
    board = section(rendered[G.GUIDE], "## `world-v2`")
    for metric, label in headline(load_protocol("world-v2")):
        assert f"| {label} |" in board, label
        assert f"`{metric}`" in board, metric


def test_guide_lists_every_column_the_faces_board_prints(rendered):
    from bench.publish import facesboard

    proto = load_protocol("faces-v1")
    entry = {"protocol": {"hash": "0" * 64}, "metrics": {}, "generator": {"name": "example"},
             "sampleset": {"n": 10}}
    header = next(line for line in facesboard.markdown(proto, [("example", entry)]).splitlines()
                  if line.startswith("| #"))
    board = section(rendered[G.GUIDE], "## `faces-v1`")
    for h in (c.strip() for c in header.strip("|").split("|")):
        assert f"\n| {h} |" in board, h
