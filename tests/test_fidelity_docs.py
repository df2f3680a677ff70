"""The fidelity docs' references to our code resolve (bench.devtools.docrefs): every `path::Symbol` of
docs/fidelity-maugen.md and docs/fidelity-synfer.md names a definition that exists, every component row cites both
sides, and a renamed symbol or a line outside the authors' file is caught."""

from pathlib import Path

import pytest

from bench.devtools import docrefs

ROOT = Path(__file__).resolve().parents[1]

TABLE = """`ab` = `their/file.py` (40 lines)

| # | component | theirs | ours | match | differences | v1 |
|---|---|---|---|---|---|---|
| 1 | x | `ab:3-9` | `pkg/mod.py::Model.forward` | same | none | — |
"""

SOURCE = '''
LIMIT = 3


class Model:
    scale: float = 1.0

    def __init__(self):
        self.weights = None

    def forward(self, x):
        return x


def helper():
    pass
'''


@pytest.fixture
def repo(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text(SOURCE)
    return tmp_path


@pytest.mark.parametrize("doc", docrefs.DOCS)
def test_fidelity_docs_references_resolve(doc):
    text = (ROOT / doc).read_text()
    assert docrefs.problems(text, ROOT, doc) == []
    rows = docrefs.component_rows(text)
    assert len(rows) >= 20  # every component row was parsed (a broken table would parse as none)
    assert len(docrefs.code_refs(text)) >= len(rows)
    assert docrefs.declared_files(text)  # the authors' files and their lengths are declared


def test_symbols_resolve_to_their_definition_lines(repo):
    found = {s: docrefs.definition_line(repo, "pkg/mod.py", s)
             for s in ("LIMIT", "Model", "Model.scale", "Model.__init__", "Model.weights", "Model.forward", "helper")}
    assert found == {"LIMIT": 2, "Model": 5, "Model.scale": 6, "Model.__init__": 8, "Model.weights": 9,
                     "Model.forward": 11, "helper": 15}


def test_a_renamed_symbol_is_caught(repo):
    assert docrefs.problems(TABLE, repo) == []
    (repo / "pkg" / "mod.py").write_text(SOURCE.replace("def forward", "def predict"))
    (msg,) = docrefs.problems(TABLE, repo, "doc.md")
    assert msg.startswith("doc.md:5: `pkg/mod.py::Model.forward`") and "'forward'" in msg


def test_the_real_docs_reject_a_bogus_symbol():
    text = TABLE.replace("pkg/mod.py::Model.forward", "reference/maugen/dig.py::AUBlok")
    (msg,) = docrefs.problems(text, ROOT)
    assert "AUBlok" in msg
    assert docrefs.problems(text.replace("AUBlok", "AUBlock"), ROOT) == []


@pytest.mark.parametrize("bad, expected", [
    ("`pkg/mod.py::Model.forward`", "cites no `path::Symbol`"),  # moved into another column below
    ("`ab:3-41`", "not inside their/file.py (40 lines)"),
    ("`cd:3`", "abbreviation 'cd' is not declared"),
    ("`pkg/mod.py::helper.inner`", "not a class"),
    ("`pkg/mod.py:Model`", None),  # not a reference at all: left alone
    ("`pkg/mod.py::`", "is not a reference of the form"),
    ("`tests/no_such_file.py`", "no such file or folder"),
    ("a | b", "8 cells where the header has 7"),
])
def test_malformed_rows_are_named(repo, bad, expected):
    if bad.startswith("`pkg/mod.py::Model"):
        text = TABLE.replace("| `pkg/mod.py::Model.forward` |", "| plain words |")
    elif bad.startswith("`ab:") or bad.startswith("`cd:"):
        text = TABLE.replace("`ab:3-9`", bad)
    else:
        text = TABLE.replace("| none |", f"| {bad} |")
    found = docrefs.problems(text, repo, "doc.md")
    if expected is None:
        assert found == []
    else:
        assert len(found) == 1 and expected in found[0] and found[0].startswith("doc.md:5:"), found


def test_every_row_needs_their_side_and_a_known_match(repo):
    text = TABLE.replace("`ab:3-9`", "their code").replace("| same |", "| similar |")
    found = docrefs.problems(text, repo)
    assert len(found) == 2
    assert "cites no `abbr:line`" in found[0] and "match 'similar'" in found[1]
    assert docrefs.problems(text.replace("their code", "absent").replace("similar", "inferred"), repo) == []


def test_the_cli_prints_current_lines(capsys):
    assert docrefs.main(["docs/fidelity-maugen.md"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "reference/maugen/dig.py::AUBlock ->" in x)
    assert line.endswith(f"reference/maugen/dig.py:{docrefs.definition_line(ROOT, 'reference/maugen/dig.py', 'AUBlock')}")


def ensemble_error_correlation(batches: int = 2, batch: int = 128) -> dict[str, float]:
    """synfer-tiny's guidance classifier against its "external" FER ensemble on world (seed 0) val faces, the
    measurement of docs/fidelity-synfer.md row 16: accuracies, how often the ensemble is wrong overall and where the
    classifier is wrong, and the share of those joint errors on the same class."""
    import torch

    from bench.world.params import WorldConfig
    from reference.common.worlddata import world_batch
    from reference.synfer.config import SynFERTinyConfig
    from reference.synfer.train import load_tiny_synfer

    pipe = load_tiny_synfer(SynFERTinyConfig(), stage="full")
    wbs = [world_batch(WorldConfig(seed=0), step, batch, split="val") for step in range(batches)]
    x, y = torch.cat([w.images for w in wbs]), torch.cat([w.expression for w in wbs])  # (N, 3, 64, 64), (N,)
    with torch.no_grad():
        clf = pipe.fer_classifier(x).argmax(-1)  # (N,)
        ens = pipe.fer_ensemble(x).argmax(-1)  # (N,) argmax of the members' mean probabilities
    wc, we = clf != y, ens != y
    return {"faces": len(y), "classifier_accuracy": 1 - wc.float().mean().item(),
            "ensemble_accuracy": 1 - we.float().mean().item(), "ensemble_wrong": we.float().mean().item(),
            "ensemble_wrong_where_classifier_wrong": we[wc].float().mean().item(),
            "same_wrong_class": (ens[wc & we] == clf[wc & we]).float().mean().item()}


def test_synfer_tiny_ensemble_errors_follow_the_guidance_classifier(one_thread):
    """Row 16's claim on 256 faces: where the guidance classifier errs the ensemble mostly errs too, on the same
    class (the ensemble was trained in one loss with it, on the same batches)."""
    r = ensemble_error_correlation(batches=2)
    assert r["ensemble_wrong_where_classifier_wrong"] >= 3 * r["ensemble_wrong"]
    assert r["same_wrong_class"] >= 0.8


def feranno_accuracy(batches: int = 2, batch: int = 128) -> dict[str, float]:
    """The measurement of docs/fidelity-synfer.md row 11: synfer-tiny's pseudo-labeller (FERAnno) accuracy on
    held-out world-train faces (world seed 0, samples from 60,000,000 on: no stage trained on them) by route to
    t_small, beside the external ensemble's. Not run as a test (about a minute on 2 cores)."""
    import torch

    from bench.world.params import WorldConfig
    from reference.common.worlddata import world_batch
    from reference.synfer.config import SynFERTinyConfig
    from reference.synfer.train import load_tiny_synfer

    pipe = load_tiny_synfer(SynFERTinyConfig(), stage="full")
    wbs = [world_batch(WorldConfig(seed=0), step, batch, offset=60_000_000) for step in range(batches)]
    x, y = torch.cat([w.images for w in wbs]), torch.cat([w.expression for w in wbs])  # (N, 3, 64, 64), (N,)
    out: dict[str, float] = {"faces": len(y)}
    for mode in ("renoise", "renoise-image", "invert"):
        labels = pipe.label_images(x, feranno=mode, rectify="hard", generator=torch.Generator().manual_seed(0))
        out[mode] = (labels.pseudo == y).float().mean().item()
        out["ensemble"] = (labels.ensemble == y).float().mean().item()
    return out
