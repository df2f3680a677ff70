"""The difficulty probe: its F1/Pearson helpers against scikit-learn/scipy, and a 1-epoch smoke run."""

from __future__ import annotations

import numpy as np
from scipy.stats import pearsonr
from sklearn.metrics import f1_score

from bench.world.params import WorldConfig
from bench.world.probe import ProbeConfig, difficulty_markdown, f1_scores, pearson, run_probe


def test_f1_and_pearson_match_independent_implementations(rng):
    true = rng.random((500, 5)) < 0.3
    pred = rng.random((500, 5)) < 0.4
    pred[:, 0] = true[:, 0]  # perfect column
    ours = f1_scores(true, pred)
    theirs = [f1_score(true[:, k], pred[:, k]) for k in range(5)]
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    assert ours[0] == 1.0
    a, b = rng.normal(size=(200, 4)), rng.normal(size=(200, 4))
    b[:, 1] = 2 * a[:, 1] + 1
    np.testing.assert_allclose(pearson(a, b), [pearsonr(a[:, k], b[:, k])[0] for k in range(4)], rtol=1e-9)


def test_probe_smoke():
    res = run_probe(WorldConfig(image_size=32), ProbeConfig(n_train=256, n_test=128, epochs=1, batch_size=64),
                    log=lambda m: None)
    assert 0.0 <= res["expression_accuracy"] <= 1.0 and len(res["au_f1"]) == 17
    assert "| AU01 |" in difficulty_markdown(res, "augen world probe")
