"""Metric validity on the world: known degradations move each metric the right way, monotonically,
as read by the committed world judge; and the `real` control scores best on every family."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from PIL import Image, ImageFilter

from bench.data.aus import N_AUS
from bench.judges.world import load_world_judge, predict
from bench.metrics import alignment as A
from bench.metrics import diversity as D
from bench.metrics import realism as R
from bench.world.params import WorldConfig, sample_params
from bench.world.render import render

CFG = WorldConfig()
N = 400
KNOWN_WEAK = {"AU14", "AU23"}  # dimpler / lip tightener: just below the 0.9 F1 DESIGN asks for (open work)


@pytest.fixture(scope="module")
def judge():
    net, report = load_world_judge(train_if_missing=False)  # the committed weights; a clear error if missing
    return net


@pytest.fixture(scope="module")
def world():
    p = sample_params(CFG, "val", np.arange(N))
    ref = sample_params(CFG, "test", np.arange(N))
    return p, render(p, 64), render(ref, 64)


def _monotonic(values, increasing: bool):
    d = np.diff(values)
    return bool(np.all(d > 0) if increasing else np.all(d < 0))


def test_judge_reads_the_truth(judge):
    """Regression guard on the committed judge's held-out ceiling (DESIGN asks >= 0.9 F1 for every AU;
    AU14/AU23 are just below it, see reports/world_judge.md), and a fresh evaluation agrees with the report."""
    _, report = load_world_judge(train_if_missing=False)
    below = {au for au, f1 in report["au_f1"].items() if f1 < 0.9}
    assert below <= KNOWN_WEAK, f"AUs fell below DESIGN's 0.9 F1: {sorted(below - KNOWN_WEAK)}"
    assert report["au_mean_f1"] >= 0.95 and report["au_min_f1"] >= 0.85 and report["au_min_r"] >= 0.85
    assert report["expression_accuracy"] >= 0.88
    assert min(report[f"{h}_accuracy"] for h in ("skin_tone", "gender", "age_group")) >= 0.98
    p = sample_params(CFG, "test", np.arange(1000))
    out = predict(judge, render(p, 64))
    f1 = A.f1_per_column((p.aus >= 1).astype(float), (out["au_prob"] >= 0.5).astype(float))
    assert abs(float(np.mean(f1)) - report["au_mean_f1"]) < 0.03  # the weights are the ones the report describes


def test_noise_and_blur_worsen_realism_monotonically(judge, world):
    p, images, ref_images = world
    fr = predict(judge, ref_images)["features"]
    rng = np.random.default_rng(0)
    noise = rng.normal(size=images.shape)
    fd_noise, prec = [], []
    for sigma in (0, 8, 16, 32, 64):
        x = np.clip(images + sigma * noise, 0, 255).astype(np.uint8)
        f = predict(judge, x)["features"]
        fd_noise.append(R.fd_from_features(fr, f))
        prec.append(R.precision_recall(fr, f)[0])
    assert _monotonic(fd_noise, increasing=True), fd_noise
    assert prec[-1] < prec[0] - 0.2
    fd_blur, f1_blur = [], []
    occ = (p.aus >= 1).astype(float)
    for radius in (0, 0.6, 1.2, 2.4):
        x = np.stack([np.asarray(Image.fromarray(im).filter(ImageFilter.GaussianBlur(radius))) for im in images])
        out = predict(judge, x)
        fd_blur.append(R.fd_from_features(fr, out["features"]))
        f1_blur.append(A.nanmean(A.f1_per_column(occ, (out["au_prob"] >= 0.5).astype(float))))
    assert _monotonic(fd_blur, increasing=True), fd_blur
    assert _monotonic(f1_blur, increasing=False), f1_blur


def test_label_shuffle_and_au_zeroing_worsen_alignment(judge, world):
    p, images, _ = world
    out = predict(judge, images)
    judged_occ = (out["au_prob"] >= 0.5).astype(float)
    rng = np.random.default_rng(1)
    f1s, accs, kappas = [], [], []
    for frac in (0.0, 0.25, 0.5, 1.0):
        idx = np.arange(N)
        k = int(frac * N)
        chosen = rng.permutation(N)[:k]
        idx[chosen] = chosen[np.roll(np.arange(k), 1)] if k > 1 else chosen
        claimed = p.aus[idx]
        f1s.append(A.nanmean(A.f1_per_column((claimed >= 1).astype(float), judged_occ)))
        kappas.append(A.nanmean(A.kappa_per_column((claimed >= 1).astype(float), judged_occ)))
        accs.append(A.accuracy(p.expression[idx], out["expression_prob"].argmax(1)))
    assert _monotonic(f1s, False) and _monotonic(accs, False) and _monotonic(kappas, False), (f1s, accs, kappas)
    assert kappas[-1] < 0.1  # fully shuffled: chance level once corrected for chance
    zeroed = []
    for frac in (0.0, 0.3, 0.6, 1.0):
        claimed = p.aus.copy()
        claimed[: int(frac * N)] = 0.0
        zeroed.append(A.nanmean(A.f1_per_column((claimed >= 1).astype(float), judged_occ)))
    assert _monotonic(zeroed, False), zeroed


def test_identity_collapse_shrinks_diversity(judge, world):
    p, _, ref_images = world
    centre = predict(judge, ref_images)["features"].mean(0)
    ident = [f.name for f in __import__("dataclasses").fields(p)
             if f.name in {"identity", "skin_tone", "gender", "age_group", "skin_rgb", "hair_rgb", "iris_rgb", "lip_rgb",
                           "long_hair", "stubble", "face_w", "face_hu", "face_hl", "jaw_x", "eye_dx", "eye_y", "eye_w",
                           "eye_h", "eye_hl", "iris_r", "brow_gap", "brow_t", "nose_len", "nose_w", "mouth_y",
                           "mouth_w", "lip_tu", "lip_tl", "hairline"}]
    vendi, sim, ent = [], [], []
    for frac in (0.0, 0.5, 0.9, 1.0):
        k = int(frac * N)
        q = p.replace(**{f: np.concatenate([np.repeat(getattr(p, f)[:1], k, axis=0), getattr(p, f)[k:]]) for f in ident})
        out = predict(judge, render(q, 64))
        feats = out["features"] - centre
        vendi.append(D.vendi_score(feats))
        sim.append(D.mean_pairwise_cosine(feats))
        ent.append(D.normalized_entropy(D.distribution(out["skin_tone_prob"].argmax(1), 6)))
    assert _monotonic(vendi, False) and _monotonic(sim, True), (vendi, sim)
    assert ent[-1] < 0.2 < ent[0] - 0.5


def test_real_control_scores_best_on_every_family(tmp_path, monkeypatch):
    from bench.core.paths import PROTOCOLS as PROTOCOL_DIR
    from bench.generation.base import get_generator, write_generated
    from bench.scoring.protocols import load_protocol
    from bench.scoring.score import score
    from bench.world.conditions import world_conditions

    monkeypatch.setenv("AUGEN_CACHE", str(tmp_path / "cache"))
    s = yaml.safe_load((PROTOCOL_DIR / "world-v1.yaml").read_text())
    s.update(id="small-v1", conditions={"split": "val", "n": 300}, reference={"split": "test", "n": 600},
             train_reference={"split": "train", "n": 600}, bootstrap={"n": 20, "seed": 0, "alpha": 0.05})
    (tmp_path / "small-v1.yaml").write_text(yaml.safe_dump(s))
    proto = load_protocol(str(tmp_path / "small-v1.yaml"))
    conds = world_conditions(s["world"], "val", 300)
    res = {}
    for name in ("real", "shuffled", "collapsed", "noise"):
        root = write_generated(get_generator(name, world=s["world"]), conds, tmp_path / name, protocol=proto.id)
        res[name] = score(root, proto)["metrics"]
    # per family, the metric that family is about (precision is left out: a one-identity set can be precise)
    families = {"realism": ["fd_world", "kid_world", "coverage", "recall"],
                "diversity": ["vendi", "identity_similarity", "skin_tone_entropy"],
                "alignment": ["au_f1", "au_kappa", "au_icc", "expression_accuracy"]}
    for fam, names in families.items():
        for name in names:
            m = res["real"][name]
            tol = 0.02 if fam == "alignment" else 1e-9  # labels of `collapsed` are true too: a tie within noise
            for other in ("shuffled", "collapsed", "noise"):
                o = res[other][name]["value"]
                better = m["value"] >= o - tol if m["higher_is_better"] else m["value"] <= o + tol
                assert better, (fam, name, other, m["value"], o)
    assert res["shuffled"]["au_kappa"]["value"] < 0.1 < res["real"]["au_kappa"]["value"]
    assert res["collapsed"]["vendi"]["value"] < 0.5 * res["real"]["vendi"]["value"]
    assert res["noise"]["fd_world"]["value"] > 10 * res["real"]["fd_world"]["value"]
    # control (images vs the request): real and shuffled hold the same images; noise shows nothing asked for
    for name in ("au_f1_condition", "expression_accuracy_condition"):
        assert res["shuffled"][name]["value"] == res["real"][name]["value"] > 0.85
    assert res["noise"]["au_f1_condition"]["value"] < 0.5 and res["noise"]["au_pearson_condition"]["value"] < 0.1
    assert N_AUS == 17
