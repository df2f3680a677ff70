"""Control: do the images show what was *asked* for? The judge's readings against the protocol's requested
conditions (only for sets that answer the protocol's condition suite, row i = condition i)."""

from __future__ import annotations

import numpy as np

from bench.core.registry import register_metric
from bench.metrics import alignment as A
from bench.metrics.stats import bootstrap_ci
from bench.scoring.alignment import AU_READS, judged, judged_expression, mean_f1, occurrence, per_au
from bench.scoring.context import NotApplicable, ScoreInputs, Value


def _requested_aus(x: ScoreInputs) -> np.ndarray:
    if x.requested is None:
        raise NotApplicable("the set does not answer the protocol's condition suite")
    return x.memo("requested", lambda: np.stack([c.aus for c in x.requested])[:, x.cols])


@register_metric("au_f1_condition", family="control", higher_is_better=True, label="AU F1 request",
                 title="AU F1 request vs judge", reads=AU_READS)
def au_f1_condition(x: ScoreInputs) -> Value:
    req_occ, jocc = occurrence(x, _requested_aus(x)), judged(x)[2]
    return Value(mean_f1(req_occ, jocc), x.n, bootstrap_ci(mean_f1, req_occ, jocc, **x.boot),
                 {"per_au": per_au(x, A.f1_per_column(req_occ, jocc))})


@register_metric("au_pearson_condition", family="control", higher_is_better=True, title="AU r request vs judge",
                 reads=AU_READS)
def au_pearson_condition(x: ScoreInputs) -> Value:
    return Value(A.nanmean(A.pearson_per_column(_requested_aus(x), judged(x)[0])), x.n)


@register_metric("expression_accuracy_condition", family="control", higher_is_better=True, label="expr. request",
                 title="expression request vs judge", reads=("expression_prob",))
def expression_accuracy_condition(x: ScoreInputs) -> Value:
    _requested_aus(x)
    req, p = np.array([c.expression for c in x.requested]), judged_expression(x)
    return Value(A.accuracy(req, p), x.n, bootstrap_ci(A.accuracy, req, p, **x.boot))
