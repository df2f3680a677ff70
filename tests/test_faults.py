"""The `world-fault` generator (bench.generation.faults): level 0 is the `real` control exactly, each fault is graded
(measured against the true world samples), draws are deterministic and independent of batching, one sample per
condition in order, and a bad option is a one-line UsageError."""

from __future__ import annotations

import numpy as np
import pytest

from bench.core.errors import UsageError
from bench.generation.base import get_generator
from bench.generation.faults import FAULTS, LEVELS, POOL_START, SKEW_GROUP, VARIANTS, variant_name
from bench.publish.submit import NAME
from bench.world.conditions import world_conditions
from bench.world.params import WorldConfig, sample_params
from bench.world.render import render

WORLD = {"seed": 0, "image_size": 32}  # 32 px renders 4x faster than the protocols' 64
N = 96
GRADES = (0.0, *LEVELS)


@pytest.fixture(scope="module")
def conds():
    return world_conditions(WORLD, "val", N)


@pytest.fixture(scope="module")
def real(conds):
    return list(get_generator("real", world=WORLD).generate(conds))


def fault(name: str, level: float, conds, **options) -> list:
    return list(get_generator("world-fault", {"fault": name, "level": level, **options}, world=WORLD).generate(conds))


def images(samples) -> np.ndarray:
    return np.stack([s.image for s in samples]).astype(np.float64)  # (n, H, W, 3)


def same_sample(a, b) -> bool:
    return (np.array_equal(a.image, b.image) and np.array_equal(a.intensity, b.intensity)
            and a.expression == b.expression and a.identity == b.identity and a.attributes == b.attributes
            and a.prompt == b.prompt and a.seed == b.seed)


def high_frequency(x: np.ndarray) -> float:
    """Mean squared horizontal + vertical pixel difference of (n, H, W, 3) images."""
    return float((np.diff(x, axis=1) ** 2).mean() + (np.diff(x, axis=2) ** 2).mean())


def strictly_increasing(v) -> bool:
    return all(a < b for a, b in zip(v, v[1:]))


# -- level 0, determinism, order -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(FAULTS))
def test_level_zero_is_the_real_control(name, conds, real):
    out = fault(name, 0.0, conds)
    assert len(out) == len(real)
    assert all(same_sample(a, b) for a, b in zip(out, real))


@pytest.mark.parametrize("name", [f for f in FAULTS if f != "none"])
def test_deterministic_and_independent_of_batching(name, conds):
    """Two runs are identical, and generating the suite in two pieces (as shards do) gives the same samples."""
    a, b = fault(name, 0.5, conds), fault(name, 0.5, conds)
    split = fault(name, 0.5, conds[:37]) + fault(name, 0.5, conds[37:])
    assert all(same_sample(x, y) for x, y in zip(a, b))
    assert all(same_sample(x, y) for x, y in zip(a, split))
    assert len(a) == N and [s.seed for s in a] == [c.seed for c in conds]  # one per condition, in order


def test_seed_changes_the_draws(conds):
    a, b = fault("label_noise", 0.5, conds), fault("label_noise", 0.5, conds, seed=1)
    assert any(not np.array_equal(x.intensity, y.intensity) for x, y in zip(a, b))


def test_start_answers_a_redrawn_condition_set(conds):
    """start=k answers condition i with world sample i + k (the real control on conditions k..k+n-1)."""
    shifted = list(get_generator("real", world=WORLD).generate(world_conditions(WORLD, "val", 20, start=500)))
    out = fault("none", 0.0, conds[:20], start=500)
    assert all(np.array_equal(a.image, b.image) and np.array_equal(a.intensity, b.intensity)
               for a, b in zip(out, shifted))
    with pytest.raises(UsageError, match="replacement pool"):
        fault("none", 0.0, conds[:5], start=POOL_START)


# -- graded faults, measured against the truth -------------------------------------------------------------------


def test_image_faults_are_graded(conds, real):
    truth = images(real)
    hf = [high_frequency(images(fault("blur", lv, conds))) for lv in GRADES]
    assert strictly_increasing([-h for h in hf])  # more blur, less high-frequency energy
    hf = [high_frequency(images(fault("downsample", lv, conds))) for lv in GRADES]
    assert strictly_increasing([-h for h in hf])
    for name in ("pixel_noise", "jpeg"):
        err = [((images(fault(name, lv, conds)) - truth) ** 2).mean() for lv in GRADES]
        assert err[0] == 0 and strictly_increasing(err), (name, err)
    for name in ("pixel_noise", "blur", "jpeg", "downsample"):  # the labels stay true
        assert all(np.array_equal(a.intensity, b.intensity) and a.expression == b.expression
                   for a, b in zip(fault(name, 1.0, conds), real))


def _occurrence_disagreement(out, real) -> float:
    return float(np.mean([(a.intensity >= 1) != (b.intensity >= 1) for a, b in zip(out, real)]))


def _expression_disagreement(out, real) -> float:
    return float(np.mean([a.expression != b.expression for a, b in zip(out, real)]))


def test_label_faults_are_graded(conds, real):
    truth = images(real)
    noise = [fault("label_noise", lv, conds) for lv in GRADES]
    occ = [_occurrence_disagreement(o, real) for o in noise]
    expr = [_expression_disagreement(o, real) for o in noise]
    assert occ[0] == 0 and strictly_increasing(occ) and strictly_increasing(expr)
    assert abs(occ[-1] - 0.5) < 0.06 and abs(expr[-1] - 0.5) < 0.15  # p = 0.5 * level

    drop = [fault("au_dropout", lv, conds) for lv in GRADES]
    present = sum(int((s.intensity >= 1).sum()) for s in real)
    kept = [sum(int((s.intensity >= 1).sum()) for s in o) for o in drop]
    assert strictly_increasing([-k for k in kept]) and kept[-1] == 0  # p = level: all dropped at 1
    assert abs(kept[1] / present - 0.75) < 0.08

    bias = []
    for lv in GRADES:
        out = fault("intensity_bias", lv, conds)
        assert _occurrence_disagreement(out, real) == 0  # occurrence unchanged
        bias.append(np.mean([(a.intensity - b.intensity)[b.intensity >= 1].mean() for a, b in zip(out, real)
                             if (b.intensity >= 1).any()]))
    assert bias[0] == 0 and strictly_increasing(bias)

    swap = [_expression_disagreement(fault("expression_swap", lv, conds), real) for lv in GRADES]
    assert swap[0] == 0 and strictly_increasing(swap) and swap[-1] == 1.0
    for name in ("label_noise", "au_dropout", "intensity_bias", "expression_swap"):  # the images stay real
        assert np.array_equal(images(fault(name, 1.0, conds)), truth)


def _world_twin(cfg: WorldConfig, samples, split: str, index: int) -> bool:
    """Whether a sample is world sample (split, index), image and labels."""
    p = sample_params(cfg, split, [index])
    return (np.array_equal(render(p, cfg.image_size)[0], samples.image) and np.array_equal(p.aus[0], samples.intensity)
            and int(p.expression[0]) == samples.expression)


def test_distribution_faults_change_the_mix_not_the_consistency(conds, real):
    cfg = WorldConfig(seed=WORLD["seed"], image_size=WORLD["image_size"])
    share = [np.mean([s.expression == 1 for s in fault("expression_imbalance", lv, conds)]) for lv in GRADES]
    assert strictly_increasing(share) and share[-1] > 0.75
    classes = [len({s.expression for s in fault("mode_drop", lv, conds)}) for lv in GRADES]
    assert strictly_increasing([-c for c in classes]) and classes[-1] == 1
    ids = [len({s.identity for s in fault("identity_collapse", lv, conds)}) for lv in GRADES]
    assert strictly_increasing([-k for k in ids]) and ids[-1] == 1
    group = [np.mean([all(s.attributes[k] == v for k, v in SKEW_GROUP.items())
                      for s in fault("demographic_skew", lv, conds)]) for lv in GRADES]
    assert strictly_increasing(group) and group[-1] > 0.6
    # a replaced sample is a whole world sample (image and labels of the same face), never a relabelled one
    gen = get_generator("world-fault", {"fault": "expression_imbalance", "level": 1.0}, world=WORLD)
    out = list(gen.generate(conds[:24]))
    src = gen._sources(conds[:24])
    assert sum(i >= POOL_START for _, i in src) > 10
    assert all(_world_twin(cfg, s, split, i) for s, (split, i) in zip(out, src))


def test_train_copies_and_mixture(conds, real):
    cfg = WorldConfig(seed=WORLD["seed"], image_size=WORLD["image_size"])
    train = list(get_generator("real", {"split": "train"}, world=WORLD).generate(conds))
    copies = []
    for lv in GRADES:
        out = fault("train_copies", lv, conds)
        copies.append(sum(same_sample(a, b) for a, b in zip(out, train)))
        assert all(same_sample(a, b) or same_sample(a, t) for a, b, t in zip(out, real, train))
    assert copies[0] == 0 and strictly_increasing(copies) and copies[-1] == N
    assert _world_twin(cfg, fault("train_copies", 1.0, conds[:1])[0], "train", 0)
    gen = get_generator("world-fault", {"fault": "mixture", "level": 0.5, "n": N}, world=WORLD)
    out = list(gen.generate(conds))
    noise = [not np.array_equal(a.image, b.image) for a, b in zip(out, real)]
    assert 0.3 < np.mean(noise) < 0.7
    assert all(np.array_equal(a.intensity, b.intensity) for a, b in zip(out, real))  # labels kept
    assert gen.real_data == {"labelled_images": N - sum(noise), "split": "val", "train_images": 0}
    share = [np.mean([not np.array_equal(a.image, b.image) for a, b in zip(fault("mixture", lv, conds), real)])
             for lv in GRADES]
    assert strictly_increasing(share) and share[-1] == 1.0


# -- options and the variant list --------------------------------------------------------------------------------


@pytest.mark.parametrize("options, match", [
    ({"fualt": "blur", "level": 0.5}, "has no option 'fualt'; valid: fault, level, n, seed, split, start"),
    ({"level": 0.5}, "needs option"),
    ({"fault": "blurr", "level": 0.5}, "unknown fault 'blurr'; known: none, pixel_noise"),
    ({"fault": "blur", "level": 1.5}, r"level must be a number in \[0, 1\]"),
    ({"fault": "blur", "level": "high"}, "option level must be float, not 'high'"),  # the declared type, checked first
    ({"fault": "none", "level": 0.5}, "its level must be 0"),
    ({"fault": "blur", "level": 0.5, "start": -1}, "start must be an integer >= 0"),
    ({"fault": "blur", "level": 0.5, "seed": 1.5}, "option seed must be int, not 1.5"),
])
def test_option_errors_are_one_line(options, match):
    with pytest.raises(UsageError, match=match) as e:
        get_generator("world-fault", options, world=WORLD)
    assert "\n" not in str(e.value)


def test_variants():
    assert len(VARIANTS) >= 36 and len(set(VARIANTS)) == len(VARIANTS)
    assert VARIANTS[0] == ("none", 0.0)
    for f in FAULTS:
        if f != "none":
            assert sorted(lv for g, lv in VARIANTS if g == f) == sorted(LEVELS)
    names = [variant_name(f, lv) for f, lv in VARIANTS]
    assert variant_name("blur", 0.5) == "fault-blur-0.50" and len(set(names)) == len(names)
    assert all(NAME.fullmatch(n) for n in names)  # also valid submission names
    assert {f for f, _ in VARIANTS[:len(FAULTS)]} == set(FAULTS)  # the first variants cover every fault
    g = get_generator("world-fault", {"fault": "blur", "level": 0.5}, world=WORLD)
    assert g.config["fault"] == "blur" and g.config["level"] == 0.5 and g.config["seed"] == 0
    assert g.real_data == {}  # nothing declared without n
