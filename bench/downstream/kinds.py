"""The downstream metric kinds in the metric registry: each kind of bench.downstream.harness (`downstream_<kind>`,
suffixed by scale, `mixed`, `slope`) and the training value, with their board labels, report titles and
documentation (bench.core.registry.DOC_FIELDS). Imported by the package, so they are registered whenever
bench.downstream is; the functions computing them are named as "module:function" and loaded on first use, so
registering them (and loading a protocol) imports neither torch nor the harness."""

from __future__ import annotations

from bench.core.registry import register_metric
from bench.downstream.spec import TASK_KINDS

# The functions that compute them, resolved on first use (as entry points are): registering reads no torch.
downstream_metrics = "bench.downstream.harness:downstream_metrics"
task_metrics = "bench.downstream.tasks:task_metrics"

#: kind -> (headline labels by suffix, report titles by suffix)
KIND_LABELS: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "expression_accuracy": ({"1x": "DS expr. 1x", "slope": "DS expr. /2x"},
                            {"1x": "recognizer on 1x: expression acc. (real test)"}),
    "expression_mca": ({}, {}),
    "au_f1": ({"1x": "DS AU F1 1x"}, {}),
    "au_icc": ({}, {}),
    # chance-corrected kinds (protocols with a validation split, world-v2 on)
    "expression_kappa": ({}, {"1x": "recognizer on 1x: expression kappa (real test)"}),
    "au_kappa": ({}, {"1x": "recognizer on 1x: AU kappa (real test)"}),
    "utility": ({"5x": "DS util. 5x"}, {"1x": "recognizer on 1x: utility = mean of expression and AU kappa"}),
}


# Each kind's documentation (bench.core.registry.DOC_FIELDS): what, formula, units, and what it is sensitive to.
_KIND_DOCS: dict[str, tuple[str, str, str, str]] = {
    "expression_accuracy": (
        "Expression accuracy on the real test set of recognizers trained on the set's claimed expression labels.",
        "share of labelled test images whose predicted expression (argmax of the recognizer's 8-way output) is the "
        "true one",
        "share of test images, 0-1 (not chance-corrected: the results carry the majority-class and base-rate "
        "baselines beside); n/a for a set that claims no expression",
        "the test set's class balance (the majority class scores its share)"),
    "expression_mca": (
        "Mean per-class expression accuracy on the real test set of recognizers trained on the set's claimed "
        "expression labels.",
        "mean over the expression classes present in the test set of the share of that class's test images "
        "predicted as it",
        "0-1 (a constant prediction scores 1 / number of classes present); n/a for a set that claims no expression",
        "rare test classes weigh as much as common ones"),
    "au_f1": (
        "AU detection on real test faces by recognizers trained on the set's claimed AU labels: mean per-AU F1.",
        "mean over the downstream au_f1 subset of per-AU F1 of predicted occurrence (logit above the per-AU "
        "threshold that maximises F1 on the validation split, or above 0 without one) against the true occurrence; "
        "AUs the set never labels are predicted absent",
        "F1, 0-1 (not chance-corrected: the results carry the test set's 'every AU present' and base-rate F1 "
        "beside); n/a on a test set without AU labels",
        "the test set's AU base rates and the decision thresholds; AUs the set does not label (F1 0 where the test "
        "set has them)"),
    "au_icc": (
        "AU intensity estimation on real test faces by recognizers trained on the set's claimed intensities: mean "
        "per-AU ICC(3,1).",
        "mean over the downstream au_icc subset of ICC(3,1) between predicted intensity (clipped to 0-5; 0 for AUs "
        "never labelled) and true intensity",
        "ICC, at most 1; n/a on a test set without AU intensities (BP4D's occurrence files)",
        "AUs the set does not label (predicted 0); the intensity spread of the test set"),
    "expression_kappa": (
        "Chance-corrected expression recognition on the real test set by recognizers trained on the set's "
        "claimed expression labels (protocols with a validation split).",
        "Cohen's kappa over the 8 expression classes of predicted vs true expression on labelled test images; 0 "
        "for a set that claims no expression (no expression recognizer is trained)",
        "kappa: 0 = chance, 1 = perfect; n/a on a test set without expression labels (BP4D)",
        "the test set's class balance and the recognizer's confusions"),
    "au_kappa": (
        "Chance-corrected AU detection on real test faces by recognizers trained on the set's claimed AU labels "
        "(protocols with a validation split).",
        "mean over the downstream au_f1 subset of per-AU Cohen's kappa of predicted occurrence (logit above the "
        "per-AU threshold that maximises F1 on the validation split) vs true occurrence; AUs the set never labels "
        "are predicted absent",
        "kappa: 0 = chance, 1 = perfect; n/a on a test set without AU labels (AffectNet)",
        "the validation-chosen thresholds; rare AUs (their kappa is noisy); AUs the set does not label"),
    "utility": (
        "The chance-corrected usefulness of recognizers trained on the set: the mean of their expression kappa "
        "and AU kappa, of those the test set labels (protocols with a validation split).",
        "the mean of au_kappa and expression_kappa over those defined (world: both; AffectNet: expression only; "
        "BP4D: AUs only)",
        "kappa scale: 0 = chance, 1 = perfect",
        "which label kinds the test set has; on the world a set that claims one kind only scores 0 on the other"),
}
for _kind, (_labels, _titles) in KIND_LABELS.items():
    _what, _formula, _units, _sensitive = _KIND_DOCS[_kind]
    register_metric(
        f"downstream_{_kind}", family="downstream", higher_is_better=True, suffixed=True, labels=_labels,
        titles=_titles, what=_what,
        formula=f"for each training, {_formula}; then the mean over the protocol's seeds (suffix `<scale>x`: trained "
                "on scale x 1x of the set's first images; `mixed`: real 1x + synthetic `mixed_scale` x; `slope`: "
                "least-squares gain per doubling of the synthetic set, over every scale and seed)",
        units=f"{_units}; slope: the same units per doubling",
        interval="Student t 95% interval over the protocol's training seeds for `<scale>x` and `mixed` (one "
                 "training per seed; the test images are fixed, not resampled); none for `slope`, nor with one seed",
        sensitive=f"{_sensitive}; the recognizer, input size, training length and 1x real size the protocol's "
                  "downstream section fixes; the real test set")(downstream_metrics)
register_metric(
    "downstream_training_value", family="downstream", higher_is_better=True, label="training value",
    title="training value (area under the utility curve)",
    what="How much the set's labelled images are worth as training data: the mean height of the utility curve of "
         "recognizers trained on them at the protocol's sizes (the board's headline).",
    formula="per seed, the trapezoid area of downstream utility over log2(scale) across the protocol's downstream "
            "scales, divided by the log2 range; then the mean over seeds",
    units="kappa scale (a mean of utility): 0 = chance, 1 = perfect; produced only by protocols with a validation "
          "split",
    interval="Student t 95% interval over the protocol's training seeds (the test images are fixed); the board's "
             "paired test between adjacent ranks resamples seeds and test items (bench.publish.significance)",
    sensitive="the protocol's scales and 1x real size; the recognizer and training length (world-v2: epochs "
              "capped by max_steps); the real test set; not the other entries"
)(downstream_metrics)

# The task verdicts (world-v3 on; bench.downstream.tasks): one metric per task kind.
for _kind, _task in TASK_KINDS.items():
    _on = "expression labels" if _kind == "expression" else "AU labels of the task's AU list"
    _cols = "expression" if _kind == "expression" else "each AU of the list the set labels"
    register_metric(
        _task.metric, family="downstream", higher_is_better=True,  # a board section each, not a column
        title=f"{_task.title}: training value on the labels the set claims",
        what=f"{_task.title} (one of a protocol's verdicts): how well recognizers trained on the set's claimed "
             f"{_on} do on real test faces, scored only on the labels the set claims.",
        formula=f"per replicate block and column ({_cols}), the trapezoid area of the {_task.score} over "
                "log2(scale) across the protocol's scales, divided by the log2 range; the mean over columns, then "
                "over blocks; a real-image equivalent reads the largest run's score on the protocol's real-only curve",
        units="kappa scale (expression, AU occurrence: 0 = chance, 1 = perfect) or ICC (AU intensity); null when "
              "the set claims no label of the task (not applicable, never 0)",
        interval="Student t 95% interval over the replicate blocks (each its own condition draw, generation seeds and "
                 "training seed: what a regeneration changes); the board's paired t test pairs blocks across "
                 "entries (same conditions and seed)",
        sensitive="the AUs the set labels (coverage is shown; the board compares entries on the AUs all ranked "
                  "entries label); the protocol's scales, 1x size, recognizer and training length; the real test "
                  "set")(task_metrics)
