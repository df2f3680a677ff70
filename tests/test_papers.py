"""Paper tables (bench.publish.papers): like compared with like, the differences said in generated text, titles that
say "world" over world numbers, results of either protocol, and reports/paper_tables/ never stale."""

from __future__ import annotations

import inspect
import json
import re
import struct
from pathlib import Path

import pytest
import yaml

from bench.core.errors import DataError
from bench.core.paths import PAPER_TABLES, result_roots
from bench.core.protocol import DEFAULT_PROTOCOL
from bench.publish.papers import like_row, load_table, reproduce, unet_parameters

ROOT = Path(__file__).resolve().parent.parent


def _res(v: float, weights: str | None = None) -> dict:
    def m(x, **kw):
        return {"value": x, "ci95": None, "n": 3, "higher_is_better": True, "family": "downstream", **kw}
    return {"generator": {"name": "synfer-tiny", "config": {"weights": weights} if weights else {}},
            "metrics": {"downstream_expression_accuracy_1x": m(v), "downstream_expression_accuracy_5x": m(v + 0.1),
                        "downstream_expression_accuracy_mixed": m(v + 0.2, real_only=0.5),
                        "fd_world": m(600.0), "expression_accuracy_condition": m(0.59)}}


def _file(root: Path, protocol: str, name: str, res: dict) -> None:
    p = root / protocol / f"{name}.json"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(res))


def test_default_protocol_is_the_current_one():
    assert inspect.signature(reproduce).parameters["protocol"].default == DEFAULT_PROTOCOL


def test_synfer_beside_its_like_row_with_the_differences_named(tmp_path):
    _file(tmp_path, "world-v1", "synfer-tiny-sg-pl", _res(0.32))
    _file(tmp_path, "world-v1", "synfer-tiny", _res(0.19))
    text = reproduce("synfer_scaling", "world-v1", (tmp_path,))
    assert text.startswith("# Training only on synthetic data, as its size grows: expression accuracy on world test "
                           "faces\n")
    assert "AffectNet accuracy" not in text
    assert "| SynFER — ours: `synfer-tiny-sg-pl` | 67.23 / 32.00 | 69.84 / 42.00 |" in text
    assert "| SynFER without semantic guidance or pseudo-labels (ours only) — ours: `synfer-tiny` | — / 19.00 |" in text
    assert "(the like-for-like row: SynFER)" in text
    assert "| size of \"1x\" | AffectNet's training set, about 287k images | 400 real world faces " \
           "(`downstream.real_train.n` of `world-v1`) |" in text
    assert "| image size | 512 px (Stable Diffusion 1.5's size; unverified) | 64 px (recognizer input 32 px) |" in text
    assert "| data | AffectNet: real photographs; recognizer tested on AffectNet's validation set | the embedded FACS " \
           "world: labels of 2,000 world val samples asked for, recognizers tested on 2,000 real world test faces |" \
           in text
    assert "| generator | SynFER on Stable Diffusion 1.5 (UNet about 860M parameters) | `synfer-tiny`, filed as " \
           "`synfer-tiny-sg-pl` |" in text


def test_the_same_table_reads_either_protocol(tmp_path):
    _file(tmp_path, "world-v2", "synfer-tiny-sg-pl", _res(0.25))
    v2 = reproduce("synfer_scaling", "world-v2", (tmp_path,))
    assert "Ours: protocol `world-v2` (world)" in v2 and "| SynFER — ours: `synfer-tiny-sg-pl` | 67.23 / 25.00 |" in v2
    assert "`downstream.real_train.n` of `world-v2`" in v2
    v1 = reproduce("synfer_scaling", "world-v1", (tmp_path,))  # nothing filed under world-v1 here
    assert "`synfer-tiny-sg-pl` (not run) | 67.23 / — |" in v1 and "| generator |" in v1 and "(not run) |" in v1


def test_a_real_protocol_says_affectnet(tmp_path):
    text = reproduce("synfer_scaling", "affectnet-v1", (tmp_path,))
    assert "expression accuracy on AffectNet test faces" in text
    assert "20,000 AffectNet training images (`downstream.real_train.n` of `affectnet-v1`)" in text
    assert "recognizer input 112 px" in text


def test_ablation_columns_say_which_data_and_the_full_method_row_is_ours_only(tmp_path):
    text = reproduce("synfer_ablation", "world-v1", (tmp_path,))
    assert "| row | FER acc (paper / ours) | AU acc (paper / ours) | RAF-DB (paper / ours) | AffectNet / world " \
           "(paper / ours) |" in text
    assert "+ pseudo-labels (ours only) — ours: `synfer-ablation/pseudo-labels` (not run)" in text
    assert "(the like-for-like row: + SG)" in text


def test_every_paper_synfer_row_stands_beside_the_full_recipe():
    """SynFER as published is the full method (semantic guidance + pseudo-labels): the row beside it is ours with
    both; the unguided `synfer-tiny` may only appear as a row of ours alone."""
    for p in PAPER_TABLES.glob("*.yaml"):
        t = load_table(p.stem)
        for r in t["rows"]:
            if r.get("ours") == "synfer-tiny":
                assert all(v is None for v in r["paper"]), (p.name, r["name"])
            if "SynFER" in r["name"] and "without" not in r["name"] and any(v is not None for v in r["paper"]) \
                    and t["id"] != "synfer_ablation":
                assert r["ours"] in ("synfer-tiny-sg-pl", None), (p.name, r["name"])
        assert "{data}" in t["title"], p.name  # the title names our data, whichever protocol


def test_like_row_is_the_last_paired_one():
    t = {"rows": [{"name": "a", "paper": [1.0], "ours": "x"}, {"name": "b", "paper": [2.0], "ours": "y"},
                  {"name": "c", "paper": [None], "ours": "z"}, {"name": "d", "paper": [3.0], "ours": None}]}
    assert like_row(t)["name"] == "b"
    assert like_row({"rows": [{"name": "c", "paper": [None], "ours": "z"}]}) is None


def test_unet_parameters_from_the_safetensors_header(tmp_path):
    header = json.dumps({"a": {"dtype": "F32", "shape": [3, 4], "data_offsets": [0, 48]},
                         "b": {"dtype": "F32", "shape": [5], "data_offsets": [48, 68]},
                         "__metadata__": {"format": "pt"}}).encode()
    f = tmp_path / "w" / "unet" / "diffusion_pytorch_model.safetensors"
    f.parent.mkdir(parents=True)
    f.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 68)
    assert unet_parameters("w", (tmp_path,)) == 17
    assert unet_parameters("absent", (tmp_path,)) is None


def test_bad_setup_and_placeholders_are_refused(tmp_path):
    t = yaml.safe_load((PAPER_TABLES / "synfer_scaling.yaml").read_text())
    bad = {**t, "paper_setup": {**t["paper_setup"], "gpu": "A100"}}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    with pytest.raises(DataError, match="unknown field"):
        load_table(str(tmp_path / "bad.yaml"))
    bad = {k: v for k, v in t.items() if k != "paper_data"}
    bad["title"] = "on {paper_data}"
    (tmp_path / "bad2.yaml").write_text(yaml.safe_dump(bad))
    with pytest.raises(DataError, match="names no paper_data"):
        load_table(str(tmp_path / "bad2.yaml"))


@pytest.mark.parametrize("table", sorted(p.stem for p in PAPER_TABLES.glob("*.yaml")))
def test_reports_paper_tables_are_not_stale(table, monkeypatch):
    """reports/paper_tables/<id>.md is what `augen reproduce <id> --protocol P` writes from the filed results now (P
    as the file names it); when this fails, rerun that command."""
    path = ROOT / "reports" / "paper_tables" / f"{table}.md"
    text = path.read_text()
    m = re.search(r"written by `augen reproduce \S+ --protocol (\S+)`", text)
    assert m, f"{path} does not say how it was written"
    monkeypatch.chdir(ROOT)  # results are found under the workspace, the repository here
    monkeypatch.delenv("AUGEN_HOME", raising=False)
    assert reproduce(table, m.group(1), tuple(ROOT / r for r in result_roots())) == text
