"""Real-data downstream protocols on small AffectNet- and BP4D-format datasets made here from world faces (whose
true labels are known): files in the official layouts, read through the same readers a real copy goes through."""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from bench.core.errors import DataError, UsageError
from bench.core.protocol import Selection
from bench.data.aus import AU_INDEX, subset
from bench.downstream.data import LabelledImages
from bench.downstream.harness import evaluate
from bench.downstream.realdata import bp4d_fold, load_split, split_rows
from bench.generation.base import get_generator, write_generated
from bench.scoring.protocols import load_protocol
from bench.scoring.score import score
from bench.world.conditions import world_conditions
from bench.world.params import sample_params
from bench.world.render import render
from tests.helpers.realdata import WORLD, affectnet_folder, tiny_real_protocol, world_faces


def _bp4d(root: Path, subjects=("F001", "F002", "M001", "M002", "F003", "M003"), frames: int = 60) -> Path:
    aus = subset("BP4D12")
    (root / "AU_OCC").mkdir(parents=True)
    for k, subj in enumerate(subjects):
        xs, p = world_faces("val", np.arange(k * frames, (k + 1) * frames))
        rows = [[0, *aus]]  # BP4D header: 0 (the frame column), then AU numbers
        folder = root / "images" / subj / "T1"
        folder.mkdir(parents=True)
        for f in range(frames):
            Image.fromarray(xs[f]).save(folder / f"{f + 1:04d}.jpg", quality=95)
            occ = [int(p.aus[f, AU_INDEX[a]] >= 1.0) for a in aus]
            if f % 7 == 3:
                occ[0] = 9  # unknown
            rows.append([f + 1, *occ])
        with open(root / "AU_OCC" / f"{subj}_T1.csv", "w", newline="") as fh:
            csv.writer(fh).writerows(rows)
    return root


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("syn") / "set"
    return write_generated(get_generator("real", world={"seed": 0, "image_size": 64}),
                           world_conditions({"seed": 0, "image_size": 64}, "val", 200), out)


@pytest.fixture(scope="module")
def affectnet(tmp_path_factory) -> Path:
    return affectnet_folder(tmp_path_factory.mktemp("affectnet"))


@pytest.fixture(scope="module")
def bp4d(tmp_path_factory) -> Path:
    return _bp4d(tmp_path_factory.mktemp("bp4d"))


def test_real_protocols_load_with_downstream_metrics():
    for name in ("affectnet-v1", "bp4d-v1"):
        p = load_protocol(name)
        assert p.kind == "real" and p.downstream.recognizer == "resnet18"
        assert "downstream_expression_accuracy_5x" in p.metric_info and "downstream_au_f1_mixed" in p.metric_info


def test_affectnet_split_is_balanced_cropped_and_labelled(affectnet, tmp_path):
    proto = load_protocol(tiny_real_protocol(tmp_path, "affectnet-v1", real_train={"n": 100, "seed": 0},
                                test={"per_class": 6}))
    s, d = proto.downstream, proto.data
    test = load_split(d, s, affectnet, "test")
    assert len(test) == 48 and torch.bincount(test.expression, minlength=8).tolist() == [6] * 8
    assert torch.isnan(test.aus).all() and test.occ is None
    # the crop is the face itself: it equals the world render resized the same way
    first = sorted(np.flatnonzero(sample_params(WORLD, "test", np.arange(1500)).expression == 0))[0]
    ref = torch.from_numpy(render(sample_params(WORLD, "test", np.array([first])), 64)).permute(0, 3, 1, 2)
    ref32 = torch.nn.functional.interpolate(ref.float(), size=(32, 32), mode="area")
    assert (test.x[0].float() - ref32[0]).abs().mean() < 4.0  # JPEG only
    train = load_split(d, s, affectnet, "train")
    assert len(train) == 100 and (train.expression >= 0).all()  # the code-9 row was skipped
    assert load_split(d, s, affectnet, "train").key == train.key
    s2 = dataclasses.replace(s, real_train=Selection(n=100, seed=1))
    assert load_split(d, s2, affectnet, "train").key != train.key


def test_bp4d_split_is_subject_exclusive_with_unknowns_kept(bp4d, tmp_path):
    assert bp4d_fold(["M001", "F001", "F002", "F001"], 2) == {"F001": 0, "F002": 1, "M001": 0}
    proto = load_protocol(tiny_real_protocol(tmp_path, "bp4d-v1", real_train={"n": 60, "seed": 0}, test={}))
    s, d = proto.downstream, proto.data
    test, train = load_split(d, s, bp4d, "test"), load_split(d, s, bp4d, "train")
    assert len(test) == 2 * 60 and len(train) == 60  # folds of 3 over 6 subjects: 2 tested
    occ = test.occ[:, AU_INDEX[1]]
    assert torch.isnan(occ).sum() == 2 * 9  # frames 4, 11, ..., 60 of each subject are labelled 9
    assert (train.expression == -1).all() and torch.isnan(train.aus).all()
    assert torch.isnan(test.occurrence(1.0)[:, AU_INDEX[5]]).all()  # not a BP4D AU: unknown, never 0


def test_occurrence_truth_skips_unknown_frames():
    truth = torch.tensor([[1.0], [0.0], [float("nan")], [1.0]])
    occ = torch.full((4, 17), float("nan"))
    occ[:, AU_INDEX[1]] = truth[:, 0]
    test = LabelledImages(torch.zeros(4, 3, 8, 8, dtype=torch.uint8), torch.full((4, 17), float("nan")),
                          torch.full((4,), -1), "t", occ)
    logit = np.full((4, 17), -5.0)
    logit[[0, 2], AU_INDEX[1]] = 5.0  # predicts rows 0 and 2: TP on row 0, row 2 unknown
    pred = {"au_logit": logit, "au_int": np.zeros((4, 17)), "expression": np.zeros((4, 8))}
    trained = np.zeros(17, bool)
    trained[AU_INDEX[1]] = True
    s = SimpleNamespace(au_f1="BP4D12", au_icc="FERA5", tasks=None)
    out = evaluate(pred, test, trained, False, s)
    assert out["au_f1"] == pytest.approx(2 * 1 / (2 + 1))  # rows 0,1,3: TP 1, FN 1, FP 0


def test_affectnet_downstream_end_to_end(synthetic, affectnet, tmp_path, monkeypatch):
    monkeypatch.setenv("AUGEN_CACHE", str(tmp_path / "cache"))
    proto = tiny_real_protocol(tmp_path, "affectnet-v1", real_train={"n": 100, "seed": 0}, test={"per_class": 6})
    res = score(synthetic, load_protocol(proto), data_root=affectnet)
    m = res["metrics"]
    for k in ("downstream_expression_accuracy_0.5x", "downstream_expression_accuracy_1x",
              "downstream_expression_accuracy_mixed"):
        assert 0.0 <= m[k]["value"] <= 1.0
    assert m["downstream_au_f1_1x"]["value"] is None  # AffectNet has no AU labels
    assert {k: res["data"][k] for k in ("reader", "train_n", "test_n")} == {"reader": "affectnet", "train_n": 100,
                                                                          "test_n": 48}
    assert ":px" in res["data"]["test_key"]  # the pixels' hash is recorded
    again = score(synthetic, load_protocol(proto), data_root=affectnet)  # cached trainings: same numbers
    assert json.dumps(again["metrics"], sort_keys=True) == json.dumps(m, sort_keys=True)  # NaN per-seed values
    assert again["protocol"]["hash"] == res["protocol"]["hash"]
    # filed like any result: the leaderboard (given the data root) ranks it, the paper table reads it
    from bench.core.results import write_results
    from bench.publish.leaderboard import build
    from bench.publish.papers import reproduce

    write_results(tmp_path / "results" / "affectnet-v1" / "synfer-tiny-sg-pl.json", res)
    with pytest.raises(ValueError, match="--data-root"):
        build(proto, tmp_path / "results", tmp_path / "lb.md", tmp_path / "lb.html")
    md, _ = build(proto, tmp_path / "results", tmp_path / "lb.md", tmp_path / "lb.html", data_root=affectnet)
    assert "| 1 | synfer-tiny-sg-pl |" in md.read_text()
    acc1 = m["downstream_expression_accuracy_1x"]["value"] * 100
    assert f"67.23 / {acc1:.2f}" in reproduce("synfer_scaling", "affectnet-v1", (tmp_path / "results",))
    # another copy of the dataset (one label changed) gives another hash: never ranked together
    other = tmp_path / "other"
    shutil.copytree(affectnet, other)
    lines = (other / "validation.csv").read_text().splitlines()
    lines[1] = lines[1].replace(",0.1,0.2", ",0.15,0.2")
    (other / "validation.csv").write_text("\n".join(lines) + "\n")
    assert score(synthetic, load_protocol(proto), data_root=other)["protocol"]["hash"] != res["protocol"]["hash"]


def test_affectnet_validation_split_gives_the_training_value(synthetic, affectnet, tmp_path, monkeypatch):
    """With `val: {n}` the next rows of the training draw (disjoint from 1x) choose thresholds, and the harness
    reports expression kappa, utility (expression only: AffectNet has no AU labels) and the training value."""
    monkeypatch.setenv("AUGEN_CACHE", str(tmp_path / "cache"))
    p = load_protocol(tiny_real_protocol(tmp_path, "affectnet-v1", real_train={"n": 100, "seed": 0}, val={"n": 40},
                            test={"per_class": 6}))
    s, d = p.downstream, p.data
    train, val = split_rows(d, s, affectnet, "train")[0], split_rows(d, s, affectnet, "val")[0]
    assert len(val) == 40 and not {r.file for r in train} & {r.file for r in val}
    res = score(synthetic, p, data_root=affectnet)
    m = res["metrics"]
    assert res["data"]["val_n"] == 40
    for sfx in ("0.5x", "1x"):
        assert m[f"downstream_au_kappa_{sfx}"]["value"] is None  # no AU truth: undefined, left out of utility
        assert m[f"downstream_utility_{sfx}"]["value"] == pytest.approx(m[f"downstream_expression_kappa_{sfx}"]["value"])
    tv = m["downstream_training_value"]
    assert np.isfinite(tv["value"]) and len(tv["per_seed"]) == 1


def test_bp4d_occurrence_only_labels_train_the_detector(bp4d, tmp_path):
    """Real-only training on BP4D-format occurrence labels (no intensities) learns the AUs: mean F1 on held-out
    subjects beats the same training on labels shuffled between frames."""
    from bench.downstream.harness import run_one

    p = load_protocol(tiny_real_protocol(tmp_path, "bp4d-v1", real_train={"n": 240, "seed": 0}, test={}, recognizer="small-cnn",
                            width=16, steps=400, batch_size=64, lr=0.003))
    s, d = p.downstream, p.data
    train, test = load_split(d, s, bp4d, "train"), load_split(d, s, bp4d, "test")
    f1 = run_one(train, test, s, 0, cache=tmp_path / "c")["au_f1"]
    perm = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))
    shuffled = LabelledImages(train.x, train.aus, train.expression, train.key + ":shuffled", train.occ[perm])
    f1_shuffled = run_one(shuffled, test, s, 0, cache=tmp_path / "c")["au_f1"]
    print(f1, f1_shuffled)
    assert f1 > f1_shuffled + 0.1  # measured: 0.44 vs 0.21 (0.44 with the same labels given as intensities)


def test_bp4d_downstream_via_the_cli(synthetic, bp4d, tmp_path, monkeypatch, capsys):
    from bench.cli import main

    monkeypatch.setenv("AUGEN_CACHE", str(tmp_path / "cache"))
    proto = tiny_real_protocol(tmp_path, "bp4d-v1", real_train={"n": 60, "seed": 0}, test={})
    out = tmp_path / "r.json"
    assert main(["downstream", str(synthetic), "--protocol", proto, "--data-root", str(bp4d), "--out", str(out),
                 "--quiet"]) == 0
    m = json.loads(out.read_text())["metrics"]
    assert 0.0 <= m["downstream_au_f1_1x"]["value"] <= 1.0
    assert m["downstream_expression_accuracy_1x"]["value"] is None  # BP4D has no expression labels
    assert m["downstream_au_icc_mixed"]["value"] is None  # BP4D carries no intensities
    assert "downstream" in capsys.readouterr().out


def test_real_only_recognizer_learns_the_faces_it_reads(affectnet, tmp_path):
    """The labels, crops and images line up: a recognizer trained on the AffectNet-format training rows beats
    chance (1/8) clearly on the balanced validation rows; with the labels permuted it does not."""
    from bench.downstream.harness import run_one

    proto = load_protocol(tiny_real_protocol(tmp_path, "affectnet-v1", real_train={"n": 240, "seed": 0}, test={"per_class": 6},
                                recognizer="small-cnn", width=16, steps=300, batch_size=64, lr=0.003))
    s, d = proto.downstream, proto.data
    train, test = load_split(d, s, affectnet, "train"), load_split(d, s, affectnet, "test")
    acc = run_one(train, test, s, 0, cache=tmp_path / "c")["expression_accuracy"]
    perm = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))
    shuffled = LabelledImages(train.x, train.aus, train.expression[perm], train.key + ":shuffled")
    acc_shuffled = run_one(shuffled, test, s, 0, cache=tmp_path / "c")["expression_accuracy"]
    print(acc, acc_shuffled)
    assert acc >= 0.3 and acc_shuffled < acc


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize("part, break_it, message", [
    ("test", lambda r: (r / "validation.csv").unlink(), r"missing under --data-root: validation.csv \(test labels\)"),
    ("test", lambda r: (r / "Manually_Annotated_Images" / "0" / "va00000.jpg").write_bytes(b"not a jpeg"), "va00000"),
    ("train", lambda r: _edit(r / "training.csv", ",0.1,0.2\n", ",0.1,7\n"), "arousal"),
    ("train", lambda r: _edit(r / "training.csv", "0/tr00001.jpg", "../../etc/passwd"), "passwd"),
    ("test", lambda r: _edit(r / "validation.csv", ",10,6,64,64,", ",900,900,64,64,"), "face box"),
    ("test", lambda r: _edit(r / "validation.csv", ",10,6,64,64,", ",10,6,64,64,x,"), "fields"),
    ("train", lambda r: (r / "training.csv").unlink() or (r / "training.csv").symlink_to(r / "validation.csv"),
     "symlink"),
])
def test_bad_data_is_one_clear_error(affectnet, tmp_path, part, break_it, message):
    root = tmp_path / "copy"
    shutil.copytree(affectnet, root)
    break_it(root)
    proto = load_protocol(tiny_real_protocol(tmp_path, "affectnet-v1", real_train={"n": 100, "seed": 0}, test={"per_class": 6}))
    with pytest.raises(DataError, match=message):
        load_split(proto.data, proto.downstream, root, part)


def test_bad_protocol_data_settings_are_refused(affectnet, tmp_path, monkeypatch):
    for edit, message in ((lambda s: s["data"]["test"].update(labels="../validation.csv"), "escapes"),
                          (lambda s: s["data"]["test"].update(labels=str(affectnet / "validation.csv")), "absolute"),
                          (lambda s: s["data"].update(reader="bp4d", split={"folds": 3, "test_fold": 0},
                                                      frame_stride=0), "frame_stride")):
        s = yaml.safe_load(Path(tiny_real_protocol(tmp_path, "affectnet-v1", test={"per_class": 6})).read_text())
        edit(s)
        (tmp_path / "p.yaml").write_text(yaml.safe_dump(s))
        with pytest.raises(DataError, match=message):
            p = load_protocol(str(tmp_path / "p.yaml"))
            load_split(p.data, p.downstream, affectnet, "test")
    monkeypatch.setenv("AUGEN_MAX_DOWNSTREAM_GB", "0.0005")  # 48 test images at 32 px fit; all 288 do not
    p = load_protocol(tiny_real_protocol(tmp_path, "affectnet-v1", real_train={"n": 100, "seed": 0}, test={"per_class": 6}))
    assert len(load_split(p.data, p.downstream, affectnet, "test")) == 48
    with pytest.raises(DataError, match="GiB of decoded pixels on disk"):
        score(tmp_path / "unused", p, data_root=affectnet)


def test_split_key_follows_the_pixels(affectnet, tmp_path):
    p = load_protocol(tiny_real_protocol(tmp_path, "affectnet-v1", test={"per_class": 6}))
    a = load_split(p.data, p.downstream, affectnet, "test")
    b = load_split(dataclasses.replace(p.data, crop_face=False), p.downstream, affectnet, "test")
    assert a.key != b.key and not torch.equal(a.x[:], b.x[:])


def test_missing_root_and_wrong_kind_are_refused(synthetic, tmp_path):
    proto = tiny_real_protocol(tmp_path, "affectnet-v1")
    with pytest.raises(DataError, match="missing"):
        score(synthetic, load_protocol(proto), data_root=tmp_path / "nowhere")
    with pytest.raises(UsageError, match="world-v1 is a world protocol: data_root does not apply"):
        score(synthetic, load_protocol("world-v1"), data_root=tmp_path)
    bad = yaml.safe_load(Path(proto).read_text())
    bad["data"]["reader"] = "fer2013"
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    with pytest.raises(DataError, match="data.reader"):
        load_protocol(str(tmp_path / "bad.yaml"))


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
