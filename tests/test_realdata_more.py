"""rafdb-v1 and disfa-v1 on small RAF-DB- and DISFA-format datasets made from world faces (true labels known): the
official layouts read through the protocols' readers, the downstream family end to end with its validation split
(training value; utility = the one kappa each dataset labels), and bad inputs refused by file and row."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from bench.core.errors import DataError
from bench.data.aus import AU_INDEX, subset
from bench.downstream.realdata import bp4d_fold, load_split, split_rows
from bench.generation.base import get_generator, write_generated
from bench.scoring.protocols import load_protocol
from bench.scoring.score import score
from bench.world.conditions import world_conditions
from tests.helpers.realdata import disfa_folder, rafdb_folder, tiny_real_protocol, world_faces


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    out = tmp_path_factory.mktemp("syn") / "set"
    return write_generated(get_generator("real", world={"seed": 0, "image_size": 64}),
                           world_conditions({"seed": 0, "image_size": 64}, "val", 120), out)


@pytest.fixture(scope="module")
def rafdb(tmp_path_factory):
    return rafdb_folder(tmp_path_factory.mktemp("rafdb"))


@pytest.fixture(scope="module")
def disfa(tmp_path_factory):
    return disfa_folder(tmp_path_factory.mktemp("disfa"))


def test_protocols_load():
    for pid, reader in (("rafdb-v1", "rafdb"), ("disfa-v1", "disfa")):
        p = load_protocol(pid)
        assert p.kind == "real" and p.data.reader == reader and p.downstream.val.n == 2000
        assert "downstream_training_value" in p.metric_info


def test_rafdb_splits_hold_the_seven_classes_as_affectnet_codes(rafdb, tmp_path):
    p = load_protocol(tiny_real_protocol(tmp_path, "rafdb-v1", real_train={"n": 60, "seed": 0}, val={"n": 30}))
    s, d = p.downstream, p.data
    test = load_split(d, s, rafdb, "test")
    assert len(test) == 56 and torch.isnan(test.aus).all() and test.occ is None
    _, params = world_faces("test", np.arange(3 * 56))
    want = [int(e) for e in params.expression if e != 7][:56]  # contempt faces were left out of the fixture
    assert test.expression.tolist() == want
    train, val = split_rows(d, s, rafdb, "train")[0], split_rows(d, s, rafdb, "val")[0]
    assert len(train) == 60 and len(val) == 30 and not {r.file for r in train} & {r.file for r in val}


def test_rafdb_downstream_end_to_end(synthetic, rafdb, tmp_path, monkeypatch):
    monkeypatch.setenv("AUGEN_CACHE", str(tmp_path / "cache"))
    p = load_protocol(tiny_real_protocol(tmp_path, "rafdb-v1", real_train={"n": 60, "seed": 0}, val={"n": 30}))
    m = score(synthetic, p, data_root=rafdb)["metrics"]
    assert 0 <= m["downstream_expression_accuracy_1x"]["value"] <= 1
    assert m["downstream_au_kappa_1x"]["value"] is None  # no AU labels: left out of utility
    assert m["downstream_utility_1x"]["value"] == pytest.approx(m["downstream_expression_kappa_1x"]["value"])
    assert np.isfinite(m["downstream_training_value"]["value"])


def test_disfa_split_is_subject_exclusive_with_intensities(disfa, tmp_path):
    assert bp4d_fold([f"SN00{i}" for i in range(1, 7)], 3) == {"SN001": 0, "SN002": 1, "SN003": 2, "SN004": 0,
                                                               "SN005": 1, "SN006": 2}
    p = load_protocol(tiny_real_protocol(tmp_path, "disfa-v1", real_train={"n": 100, "seed": 0}, val={"n": 40}))
    s, d = p.downstream, p.data
    test = load_split(d, s, disfa, "test")
    assert len(test) == 2 * 40 and (test.expression == -1).all()  # SN001, SN004 held out
    _, params = world_faces("val", np.arange(40))  # SN001's frames
    au12 = np.clip(np.round(params.aus[:, AU_INDEX[12]]), 0, 5)
    assert test.aus[:40, AU_INDEX[12]].tolist() == au12.tolist()
    assert torch.isnan(test.aus[:, AU_INDEX[7]]).all()  # not a DISFA AU: unknown
    train, val = split_rows(d, s, disfa, "train")[0], split_rows(d, s, disfa, "val")[0]
    assert {r.identity for r in train + val} == {"SN002", "SN003", "SN005", "SN006"}
    assert not {r.file for r in train} & {r.file for r in val}


def test_disfa_downstream_end_to_end(synthetic, disfa, tmp_path, monkeypatch):
    monkeypatch.setenv("AUGEN_CACHE", str(tmp_path / "cache"))
    p = load_protocol(tiny_real_protocol(tmp_path, "disfa-v1", real_train={"n": 100, "seed": 0}, val={"n": 40}))
    res = score(synthetic, p, data_root=disfa)
    m = res["metrics"]
    assert 0 <= m["downstream_au_f1_1x"]["value"] <= 1 and np.isfinite(m["downstream_au_icc_1x"]["value"])
    assert m["downstream_expression_kappa_1x"]["value"] is None  # no expression labels
    assert m["downstream_utility_1x"]["value"] == pytest.approx(m["downstream_au_kappa_1x"]["value"])
    assert np.isfinite(m["downstream_training_value"]["value"]) and len(subset(p.downstream.au_f1)) == 12
    other = tmp_path / "other"  # one label changed: another protocol hash
    shutil.copytree(disfa, other)
    f = other / "ActionUnit_Labels" / "SN002" / "SN002_au12.txt"
    lines = f.read_text().splitlines()
    lines[0] = "0," + ("4" if lines[0] == "0,5" else "5")
    f.write_text("\n".join(lines) + "\n")
    assert score(synthetic, p, data_root=other)["protocol"]["hash"] != res["protocol"]["hash"]


def _edit(path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize("which, break_it, message", [
    ("rafdb", lambda r: _edit(r / "EmoLabel" / "list_patition_label.txt", "train_00002.jpg ", "train_00002.jpg 9"),
     "label"),
    ("rafdb", lambda r: _edit(r / "EmoLabel" / "list_patition_label.txt", "train_00003.jpg", "../../x.jpg"),
     "not train_NNNNN.jpg"),
    ("rafdb", lambda r: [f.write_bytes(b"not a jpeg") for f in (r / "Image" / "aligned").glob("train_*")],
     r"train_\d{5}_aligned\.jpg"),
    ("disfa", lambda r: (r / "ActionUnit_Labels" / "SN002" / "SN002_au9.txt").unlink(), "AU9 of SN002"),
    ("disfa", lambda r: _edit(r / "ActionUnit_Labels" / "SN003" / "SN003_au4.txt", "\n1,", "\n1,7\n99,"),
     "intensity"),
])
def test_bad_data_is_one_clear_error(rafdb, disfa, tmp_path, which, break_it, message):
    root = tmp_path / "copy"
    shutil.copytree(rafdb if which == "rafdb" else disfa, root)
    break_it(root)
    p = load_protocol(tiny_real_protocol(tmp_path, f"{which}-v1", real_train={"n": 60, "seed": 0}, val={"n": 10}))
    with pytest.raises(DataError, match=message):
        load_split(p.data, p.downstream, root, "train")
