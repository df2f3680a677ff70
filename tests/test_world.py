"""The FACS world: determinism, label ranges, per-AU landmark and pixel effects, splits, prompts, resume, CLI."""

from __future__ import annotations

import filecmp
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.data.aus import AU_INDEX, AUS, N_AUS
from bench.data.sampleset import SampleSet, validate
from bench.world import make as world_make
from bench.world.geometry import LANDMARK_MOVES, landmarks
from bench.world.params import SPLITS, WorldConfig, neutral_pose, sample_params, split_identity_range
from bench.world.prompts import level, levels_from_prompt, prompt_from_aus
from bench.world.render import render

CFG = WorldConfig()
indices = st.lists(st.integers(0, 10**9), min_size=1, max_size=6)


@settings(max_examples=25, deadline=None)
@given(idx=indices, split=st.sampled_from(SPLITS), seed=st.integers(0, 2**31))
def test_rendering_is_deterministic_and_batch_independent(idx, split, seed):
    cfg = WorldConfig(seed=seed, image_size=32)
    p = sample_params(cfg, split, idx)
    batch = render(p, 32)
    again = render(sample_params(cfg, split, idx), 32)
    alone = np.concatenate([render(sample_params(cfg, split, [i]), 32) for i in idx])
    np.testing.assert_array_equal(batch, again)
    np.testing.assert_array_equal(batch, alone)


@settings(max_examples=25, deadline=None)
@given(idx=indices, split=st.sampled_from(SPLITS), seed=st.integers(0, 2**31))
def test_labels_stay_in_range(idx, split, seed):
    p = sample_params(WorldConfig(seed=seed), split, idx)
    assert p.aus.dtype == np.float32 and p.aus.shape == (len(idx), N_AUS)
    assert np.all((p.aus >= 0) & (p.aus <= 5)) and not np.isnan(p.aus).any()
    assert np.all((0 <= p.expression) & (p.expression <= 7))
    assert np.all(p.skin_tone < 6) and np.all(p.gender < 2) and np.all(p.age_group < 3)
    lo, hi = split_identity_range(WorldConfig(seed=seed), split)
    assert np.all((lo <= p.identity) & (p.identity < hi))
    # every prototype face has its core AU active
    core = {1: 12, 2: 15, 3: 1, 4: 1, 5: 9, 6: 4, 7: 12}
    for e, a in zip(p.expression, p.aus):
        if int(e) in core:
            assert a[AU_INDEX[core[int(e)]]] >= 1.0


def _axis_value(lm: np.ndarray, axis: str) -> np.ndarray:
    """y, or distance from the midline ('out') of landmark arrays (..., 2)."""
    return lm[..., 1] if axis == "y" else np.abs(lm[..., 0])


@settings(max_examples=60, deadline=None)
@given(index=st.integers(0, 10**6), au=st.sampled_from(AUS),
       levels=st.lists(st.integers(0, 100), min_size=3, max_size=6, unique=True),
       others=st.lists(st.floats(0, 5), min_size=N_AUS, max_size=N_AUS))
def test_each_au_moves_its_landmarks_monotonically(index, au, levels, others):
    """Raising one AU moves its landmarks the right way, strictly monotonically, whatever the identity
    and whatever the other AUs are doing."""
    base = sample_params(CFG, "train", [index]).replace(asym=np.zeros(1))
    levels = [v / 20 for v in sorted(levels)]  # 0.05 steps (world labels use a 0.01 grid)
    aus = np.tile(np.array(others, np.float32), (len(levels), 1))
    aus[:, AU_INDEX[au]] = levels
    p = base.take(np.zeros(len(levels), dtype=int)).replace(aus=aus)
    lm = landmarks(p)
    for name, axis, sign in LANDMARK_MOVES[au]:
        v = _axis_value(lm[name], axis) * sign  # (levels, [2 sides])
        steps = np.diff(v, axis=0)
        assert np.all(steps > 0), (au, name, axis, levels, v)


@pytest.mark.parametrize("au", AUS)
def test_each_au_visibly_changes_pixels_monotonically(au):
    """Rendered with everything else neutral, an AU's pixels move away from the AU-free face the more
    it is raised, for several identities."""
    p = neutral_pose(sample_params(CFG, "train", np.arange(8))).replace(asym=np.zeros(8))
    diffs = []
    for v in (0.0, 1.0, 3.0, 5.0):
        aus = np.zeros((8, N_AUS), np.float32)
        aus[:, AU_INDEX[au]] = v
        diffs.append(render(p.replace(aus=aus), 64).astype(np.int16))
    change = [np.abs(d - diffs[0]).sum(axis=(1, 2, 3)) for d in diffs[1:]]  # per identity
    assert np.all(change[0] > 0) and np.all(change[1] > change[0]) and np.all(change[2] > change[1]), change
    # at full intensity some pixel changes by >= 30% of the face's skin brightness (clearly visible on every tone)
    skin = p.skin_rgb.max(1) * 255
    assert np.all(np.abs(diffs[3] - diffs[0]).reshape(8, -1).max(1) >= 0.3 * skin)


def test_contempt_is_one_sided():
    p = sample_params(CFG, "train", np.arange(400))
    k = np.flatnonzero(p.expression == 7)
    assert len(k) > 10 and set(np.unique(p.asym[k])) == {-1.0, 1.0}
    assert np.all(p.asym[p.expression != 7] == 0)
    lm = landmarks(p.take(k))["mouth_corner"]  # (n, 2, 2)
    raised = np.where(p.asym[k] > 0, 1, 0)
    y_raised = lm[np.arange(len(k)), raised, 1]
    y_other = lm[np.arange(len(k)), 1 - raised, 1]
    assert np.all(y_raised < y_other)  # the one-sided corner sits higher


def test_region_rendering_equals_full_frame():
    p = sample_params(CFG, "val", np.arange(64))
    for size in (32, 64, 96):
        np.testing.assert_array_equal(render(p, size), render(p, size, full_frame=True))


def test_sizes_and_config_validation():
    p = sample_params(CFG, "train", np.arange(3))
    for size in (32, 128, 256):
        assert render(p, size).shape == (3, size, size, 3)
    with pytest.raises(ValueError, match="image_size"):
        WorldConfig(image_size=16)
    with pytest.raises(ValueError, match="unknown split"):
        sample_params(CFG, "dev", [0])


def test_splits_have_disjoint_identities_and_differ():
    ids = {s: set(sample_params(CFG, s, np.arange(2000)).identity.tolist()) for s in SPLITS}
    assert not ids["train"] & ids["val"] and not ids["train"] & ids["test"] and not ids["val"] & ids["test"]
    a, b = render(sample_params(CFG, "train", [5]), 32), render(sample_params(CFG, "test", [5]), 32)
    assert not np.array_equal(a, b)


def test_world_is_balanced_and_not_degenerate():
    p = sample_params(CFG, "train", np.arange(20000))
    for values, k in ((p.expression, 8), (p.skin_tone, 6), (p.gender, 2), (p.age_group, 3)):
        share = np.bincount(values, minlength=k) / len(values)
        assert np.all(np.abs(share - 1 / k) < 0.03), share
    occ = (p.aus >= 1).mean(0)
    assert np.all(occ > 0.05) and np.all(occ < 0.6), occ  # every AU occurs, none is always on


def test_prompts_round_trip_levels():
    p = sample_params(CFG, "train", np.arange(300))
    for a in p.aus:
        np.testing.assert_array_equal(levels_from_prompt(prompt_from_aus(a)), [level(float(v)) for v in a])
    assert prompt_from_aus(np.zeros(N_AUS)) == "a face with a neutral, relaxed expression"
    one = np.zeros(N_AUS, np.float32)
    one[AU_INDEX[12]] = 3.2
    assert prompt_from_aus(one) == "a face with clearly pulled-up lip corners"


def _tree_equal(a, b) -> bool:
    cmp = filecmp.dircmp(a, b)
    files_ok = not cmp.left_only and not cmp.right_only and not cmp.diff_files and not cmp.funny_files
    return files_ok and all(_tree_equal(a / d, b / d) for d in cmp.common_dirs)


def test_sharded_make_resumes_after_a_crash_with_identical_files(tmp_path, monkeypatch):
    cfg = WorldConfig(image_size=32)
    clean = world_make.make_world_set(tmp_path / "clean", cfg, "train", 50, shard_size=20, progress=False)
    real = world_make.world_batches
    calls = {"n": 0}

    def crashing(*a, **k):  # die in the middle of the second shard
        for batch in real(*a, **k):
            calls["n"] += 1
            if calls["n"] == 2:
                raise KeyboardInterrupt("simulated crash")
            yield batch

    monkeypatch.setattr(world_make, "world_batches", crashing)
    with pytest.raises(KeyboardInterrupt):
        world_make.make_world_set(tmp_path / "resumed", cfg, "train", 50, shard_size=20, progress=False)
    assert (tmp_path / "resumed" / "shard-00000" / "manifest.yaml").exists()
    assert not (tmp_path / "resumed" / "shard-00001").exists()  # the half-written shard left nothing
    assert not (tmp_path / "resumed" / "manifest.yaml").exists()
    monkeypatch.setattr(world_make, "world_batches", real)
    resumed = world_make.make_world_set(tmp_path / "resumed", cfg, "train", 50, shard_size=20, progress=False)
    assert resumed.labels_sha256 == clean.labels_sha256 and resumed.count == 50
    for d in ("shard-00000", "shard-00001", "shard-00002"):
        assert _tree_equal(tmp_path / "clean" / d / "images", tmp_path / "resumed" / d / "images")
        assert filecmp.cmp(tmp_path / "clean" / d / "labels.csv", tmp_path / "resumed" / d / "labels.csv", False)
    assert validate(tmp_path / "resumed").count == 50


@pytest.mark.multiprocess
def test_two_worker_processes_write_the_same_set(tmp_path):
    cfg = WorldConfig(image_size=32)
    one = world_make.make_world_set(tmp_path / "one", cfg, "val", 40, shard_size=20, progress=False)
    two = world_make.make_world_set(tmp_path / "two", cfg, "val", 40, shard_size=20, workers=2, progress=False)
    assert one.labels_sha256 == two.labels_sha256
    assert [s.file for s in SampleSet(tmp_path / "two").rows()] == [f"{i:08d}.png" for i in range(40)]


def test_cli_make_show_validate(tmp_path):
    def augen(*args):
        return subprocess.run([sys.executable, "-m", "bench.cli", *args], capture_output=True, text=True)

    r = augen("world", "make", "--split", "test", "--n", "12", "--size", "32", "--out", str(tmp_path / "w"))
    assert r.returncode == 0, r.stderr
    assert "img" in r.stderr  # progress bar
    r = augen("validate", str(tmp_path / "w"))
    assert r.returncode == 0 and "12 images 32x32" in r.stdout
    r = augen("world", "show", "--n", "6", "--cols", "3", "--out", str(tmp_path / "sheet.png"))
    assert r.returncode == 0, r.stderr
    from PIL import Image
    with Image.open(tmp_path / "sheet.png") as im:
        assert im.size == (3 * 128, 2 * (128 + 64))
    r = augen("world", "make", "--n", "3", "--out", str(tmp_path / "w"))
    assert r.returncode == 2 and "already exists" in r.stderr  # refuses to clobber, one clear line
