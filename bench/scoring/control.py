"""Control: do the images show what was *asked* for? The judge's readings against the protocol's requested
conditions (only for sets that answer the protocol's condition suite, row i = condition i)."""

from __future__ import annotations

import numpy as np

from bench.core.registry import register_metric
from bench.metrics import alignment as A
from bench.metrics.stats import bootstrap_ci
from bench.scoring.alignment import AU_READS, judged, judged_expression, mean_f1, mean_f1_ci, occurrence, per_au
from bench.scoring.context import NotApplicable, ScoreInputs, Value


def _requested_aus(x: ScoreInputs) -> np.ndarray:
    if x.requested is None:
        raise NotApplicable("the set does not answer the protocol's condition suite")
    return x.memo("requested", lambda: np.stack([c.aus for c in x.requested])[:, x.cols])


@register_metric("au_f1_condition", family="control", higher_is_better=True, label="AU F1 request",
                 title="AU F1 request vs judge", reads=AU_READS,
                 what="Do the images show the AUs that were asked for? Mean per-AU F1 of the requested AU "
                      "occurrences against what the AU judge reads from the images.",
                 formula="mean over the protocol's AUs of 2 |R & J| / (|R| + |J|), R = requested intensity >= "
                         "occurrence_threshold, J = judge occurrence (au_prob >= 0.5 where given, else au_intensity >= "
                         "the threshold)",
                 units="F1, 0-1 (not chance-corrected); n/a for a set that does not answer the "
                       "protocol's condition suite (row i = condition i)",
                 interval="percentile bootstrap over samples (rows resampled with their requested and judged "
                          "labels together), at the protocol's bootstrap level and count; conditional on the judge",
                 sensitive="AU base rates of the condition suite; the occurrence threshold; the judge's errors; it "
                           "ignores the set's claimed labels (au_f1 reads those)")
def au_f1_condition(x: ScoreInputs) -> Value:
    req_occ, jocc = occurrence(x, _requested_aus(x)), judged(x)[2]
    return Value(mean_f1(req_occ, jocc), x.n, mean_f1_ci(x, req_occ, jocc),
                 {"per_au": per_au(x, A.f1_per_column(req_occ, jocc))})


@register_metric("au_pearson_condition", family="control", higher_is_better=True, title="AU r request vs judge",
                 reads=AU_READS,
                 what="Do the images show the AU intensities that were asked for? Mean per-AU Pearson correlation of "
                      "requested and judged intensities.",
                 formula="mean over the protocol's AUs of Pearson r(requested intensity, judged intensity)",
                 units="correlation, -1 to 1; n/a for a set that does not answer the "
                       "protocol's condition suite (row i = condition i)",
                 interval="none (a point value; no interval is computed)",
                 sensitive="scale- and offset-free (intensities off by a constant factor score 1); the judge's "
                           "intensity readings")
def au_pearson_condition(x: ScoreInputs) -> Value:
    return Value(A.nanmean(A.pearson_per_column(_requested_aus(x), judged(x)[0])), x.n)


@register_metric("expression_accuracy_condition", family="control", higher_is_better=True, label="expr. request",
                 title="expression request vs judge", reads=("expression_prob",),
                 what="Do the images show the expression that was asked for? The share of images whose judged "
                      "expression is the requested one.",
                 formula="share of rows where the requested expression == argmax of the judge's expression_prob",
                 units="share of rows, 0-1 (not chance-corrected); n/a for a set that does not answer the "
                       "protocol's condition suite (row i = condition i)",
                 interval="percentile bootstrap over samples (rows resampled with their requested and judged "
                          "labels together), at the protocol's bootstrap level and count; conditional on the judge",
                 sensitive="the class balance of the condition suite; the judge's accuracy")
def expression_accuracy_condition(x: ScoreInputs) -> Value:
    _requested_aus(x)
    req, p = np.array([c.expression for c in x.requested]), judged_expression(x)
    return Value(A.accuracy(req, p), x.n, bootstrap_ci(A.accuracy, req, p, **x.boot))
