"""Alignment: the labels a set *claims* against what the AU judge (or an external AU tool) and the expression
judge read from its images: per-AU F1 (raw and chance-corrected: kappa, ROC-AUC), intensity ICC(3,1), Pearson r,
MAE, and expression accuracy."""

from __future__ import annotations

import numpy as np

from bench.core.registry import register_metric
from bench.data.aus import AU_INDEX, N_EXPRESSIONS
from bench.metrics import alignment as A
from bench.metrics.stats import bootstrap_ci, bootstrap_ci_counts
from bench.scoring.context import NotApplicable, ScoreInputs, Value

AU_READS = ("au_intensity", "au_prob")


def occurrence_at(intensity: np.ndarray, threshold: float) -> np.ndarray:
    """(N, K) 0/1 occurrence of claimed or requested intensities at `threshold`, NaN where not labelled."""
    return np.where(np.isnan(intensity), np.nan, (intensity >= threshold).astype(np.float64))


def judge_occurrence(intensity: np.ndarray, prob: np.ndarray, threshold: float) -> np.ndarray:
    """(N, K) 0/1 occurrence an AU judge reads: its probability >= 0.5 where it gives one, else its intensity >=
    `threshold`, else unread (NaN)."""
    return np.where(~np.isnan(prob), (prob >= 0.5).astype(np.float64),
                    np.where(~np.isnan(intensity), (intensity >= threshold).astype(np.float64), np.nan))


def occurrence(x: ScoreInputs, intensity: np.ndarray) -> np.ndarray:
    """(N, K) 0/1 occurrence of intensities at the protocol's threshold, NaN where not labelled."""
    return occurrence_at(intensity, x.proto.occurrence_threshold)


def judged(x: ScoreInputs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(intensity, probability, occurrence) the AU judge reads on the protocol's AU subset, each (N, K)."""
    def compute():
        if "au_intensity" not in x.gen:
            raise NotApplicable(f"the judge reads no AUs ({x.au_judge}); give AU readings (a protocol's au_readings "
                                f"or --au-readings) or an AU judge")
        ji, jp = x.gen["au_intensity"][:, x.cols], x.gen["au_prob"][:, x.cols]
        return ji, jp, judge_occurrence(ji, jp, x.proto.occurrence_threshold)
    return x.memo("judged", compute)


def judged_intensity(x: ScoreInputs) -> np.ndarray:
    """(N, K) intensities the AU judge reads; NotApplicable when it reads none (an occurrence-only reader)."""
    ji = judged(x)[0]
    if np.isnan(ji).all():
        raise NotApplicable(f"the AU readings ({x.au_judge}) hold no intensities (an occurrence proxy)")
    return ji


def mean_f1(true: np.ndarray, pred: np.ndarray) -> float:
    return A.nanmean(A.f1_per_column(true, pred))


def mean_f1_ci(x: ScoreInputs, true: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    """Percentile bootstrap interval of `mean_f1` over the protocol's row resamples (those of `bootstrap_ci`),
    every resample's counts from one matrix product."""
    return bootstrap_ci_counts(A.mean_f1_resampled, true, pred, w=x.boot_counts(), alpha=x.proto.bootstrap.alpha)


def mean_kappa_ci(x: ScoreInputs, true: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    """Percentile bootstrap interval of `mean_kappa`, as `mean_f1_ci`."""
    return bootstrap_ci_counts(A.mean_kappa_resampled, true, pred, w=x.boot_counts(),
                               alpha=x.proto.bootstrap.alpha)


def per_au(x: ScoreInputs, values: np.ndarray) -> dict[str, float | None]:
    return {k: (None if np.isnan(v) else round(float(v), 4)) for k, v in zip(x.au_names, values)}


def _claimed(x: ScoreInputs) -> tuple[np.ndarray, np.ndarray]:
    """(intensity, occurrence) the set claims on the protocol's AU subset."""
    return x.memo("claimed", lambda: (x.claimed_aus[:, x.cols], occurrence(x, x.claimed_aus[:, x.cols])))


@register_metric("au_f1", family="alignment", higher_is_better=True, label="AU F1 claimed",
                 title="AU F1 claimed vs judge", reads=AU_READS,
                 what="How well the AU occurrences a set claims for its images match what the AU judge (or the "
                      "protocol's external AU tool) reads from them: mean per-AU F1 over the protocol's AU subset.",
                 formula="mean over AUs of 2 |C & J| / (|C| + |J|), C = claimed intensity >= occurrence_threshold, "
                         "J = judge occurrence (au_prob >= 0.5 where given, else au_intensity >= the threshold); AUs "
                         "with no labelled row, or no positive in either, left out",
                 units="F1, 0-1 (not chance-corrected: claiming every AU present scores 2p / (1 + p) at base rate p)",
                 interval="percentile bootstrap over samples (rows resampled with their claimed and judged labels "
                          "together), at the protocol's bootstrap level and count; conditional on the judge",
                 sensitive="AU base rates (raw F1 rewards claiming common AUs; au_kappa corrects for chance); the "
                           "occurrence threshold; the AU subset; the judge's own errors (on photographs the "
                           "reference set's own value is reported beside, as the reference agreement)")
def au_f1(x: ScoreInputs) -> Value:
    """Mean per-AU F1 of claimed vs judged occurrence; interval: percentile bootstrap over samples."""
    occ, jocc = _claimed(x)[1], judged(x)[2]
    return Value(mean_f1(occ, jocc), x.n, mean_f1_ci(x, occ, jocc),
                 {"per_au": per_au(x, A.f1_per_column(occ, jocc)), "au_judge": x.au_judge})


def mean_kappa(true: np.ndarray, pred: np.ndarray) -> float:
    return A.nanmean(A.kappa_per_column(true, pred))


@register_metric("au_kappa", family="alignment", higher_is_better=True, label="AU kappa claimed", reads=AU_READS,
                 what="Chance-corrected agreement between the AU occurrences a set claims and what the AU judge reads "
                      "from its images: mean per-AU Cohen's kappa (a label-validity gate of the board).",
                 formula="mean over AUs of (p_o - p_e) / (1 - p_e), p_o = share of rows where claimed and judged "
                         "occurrence agree, p_e = agreement expected from their marginals; claimed occurrence = "
                         "intensity >= occurrence_threshold, judge occurrence = au_prob >= 0.5 where given, else "
                         "au_intensity >= the threshold",
                 units="kappa: 1 = perfect, 0 = chance (any image-blind labelling), below 0 = worse than chance; "
                       "n/a for a set that labels none of the AUs",
                 interval="percentile bootstrap over samples (rows resampled with their claimed and judged labels "
                          "together), at the protocol's bootstrap level and count; conditional on the judge; its lower "
                          "bound gates the board",
                 sensitive="the judge's errors (they cap it below 1 even for true labels); the occurrence threshold; "
                           "AUs that are rare in the set (kappa of a rare AU is noisy)")
def au_kappa(x: ScoreInputs) -> Value:
    """Mean per-AU Cohen's kappa of claimed vs judged occurrence (0 = chance); interval: percentile bootstrap over
    samples (its lower bound gates the leaderboard: docs/verdicts.md). n/a for a set that labels none of the AUs."""
    occ, jocc = _claimed(x)[1], judged(x)[2]
    return Value(mean_kappa(occ, jocc), x.n, mean_kappa_ci(x, occ, jocc),
                 {"per_au": per_au(x, A.kappa_per_column(occ, jocc)), "au_judge": x.au_judge})


@register_metric("au_kappa_gate", family="alignment", higher_is_better=True, reads=AU_READS,
                 what="au_kappa restricted to the protocol's au_gate: the AUs whose readings were validated for the "
                      "AU reader in use; the board's AU gate reads its lower bound.",
                 formula="mean over the au_gate AUs of Cohen's kappa of claimed occurrence (intensity >= "
                         "occurrence_threshold) vs judged occurrence (au_prob >= 0.5 where given, else au_intensity >= "
                         "the threshold), as au_kappa",
                 units="kappa: 1 = perfect, 0 = chance; n/a for a set that labels none of the gate's AUs",
                 interval="percentile bootstrap over samples (rows resampled with their claimed and judged labels "
                          "together), at the protocol's bootstrap level and count; its lower bound gates the board",
                 sensitive="which AUs the validation study admits (au_gate); the AU reader's errors on those AUs; "
                           "AUs that are rare in the set")
def au_kappa_gate(x: ScoreInputs) -> Value:
    """Mean per-AU kappa over the protocol's `au_gate` AUs only (the validated ones): what the AU gate reads."""
    if not x.proto.au_gate:
        raise NotApplicable("the protocol names no au_gate (the AUs validated for its AU reader)")
    if "au_intensity" not in x.gen:
        judged(x)  # raises NotApplicable saying what is missing
    cols = [AU_INDEX[a] for a in x.proto.au_gate]
    ji, jp = x.gen["au_intensity"][:, cols], x.gen["au_prob"][:, cols]
    occ = occurrence(x, x.claimed_aus[:, cols])
    jocc = judge_occurrence(ji, jp, x.proto.occurrence_threshold)
    names = [f"AU{a:02d}" for a in x.proto.au_gate]
    per = A.kappa_per_column(occ, jocc)
    return Value(mean_kappa(occ, jocc), x.n, mean_kappa_ci(x, occ, jocc),
                 {"per_au": {k: (None if np.isnan(v) else round(float(v), 4)) for k, v in zip(names, per)},
                  "au_judge": x.au_judge, "aus": names})


@register_metric("au_auc", family="alignment", higher_is_better=True, reads=AU_READS,
                 what="How well the judge's AU probabilities rank the images a set claims an AU for above those it "
                      "claims without it: mean per-AU ROC-AUC, a threshold-free, chance-corrected agreement.",
                 formula="mean over AUs of the Mann-Whitney AUC (tie-averaged ranks) of judge au_prob against claimed "
                         "occurrence (intensity >= occurrence_threshold); AUs with no claimed positive or negative "
                         "left out",
                 units="AUC, 0-1; 0.5 = chance",
                 interval="none (a point value; no interval is computed)",
                 sensitive="reads only the judge's probabilities (rows without one are left out); AUs with few "
                           "claimed positives or negatives")
def au_auc(x: ScoreInputs) -> Value:
    return Value(A.nanmean(A.roc_auc_per_column(_claimed(x)[1], judged(x)[1])), x.n)


@register_metric("au_icc", family="alignment", higher_is_better=True, reads=AU_READS,
                 what="Agreement between the AU intensities a set claims and those the judge reads: mean per-AU "
                      "intraclass correlation ICC(3,1) (consistency, two raters).",
                 formula="mean over AUs of (MS_rows - MS_err) / (MS_rows + MS_err), two-way ANOVA on the (n, 2) "
                         "table of claimed and judged intensity (Shrout & Fleiss 1979)",
                 units="ICC, at most 1; 0 = no agreement beyond chance",
                 interval="none (a point value; no interval is computed)",
                 sensitive="consistency, not absolute agreement: a constant offset between claim and judge is not "
                           "penalised (au_mae is); the spread of intensities in the set")
def au_icc(x: ScoreInputs) -> Value:
    return Value(A.nanmean(A.icc_per_column(_claimed(x)[0], judged_intensity(x))), x.n)


@register_metric("au_pearson", family="alignment", higher_is_better=True, reads=AU_READS,
                 what="Linear correlation between the AU intensities a set claims and those the judge reads, "
                      "averaged over the protocol's AUs.",
                 formula="mean over AUs of Pearson r(claimed intensity, judged intensity) over labelled rows",
                 units="correlation, -1 to 1",
                 interval="none (a point value; no interval is computed)",
                 sensitive="scale- and offset-free (a claim off by a constant factor scores 1); AUs with little "
                           "spread in the set; outliers")
def au_pearson(x: ScoreInputs) -> Value:
    return Value(A.nanmean(A.pearson_per_column(_claimed(x)[0], judged_intensity(x))), x.n)


@register_metric("au_mae", family="alignment", higher_is_better=False, reads=AU_READS,
                 what="How far the AU intensities a set claims are from those the judge reads, in intensity units.",
                 formula="mean over AUs of mean |claimed intensity - judged intensity| over labelled rows",
                 units="FACS intensity units (the 0-5 scale)",
                 interval="none (a point value; no interval is computed)",
                 sensitive="AU base rates: most intensities are 0, so claiming 0 everywhere scores well; the judge's "
                           "intensity calibration")
def au_mae(x: ScoreInputs) -> Value:
    return Value(A.nanmean(A.mae_per_column(_claimed(x)[0], judged_intensity(x))), x.n)


def judged_expression(x: ScoreInputs) -> np.ndarray:
    return x.memo("expression", lambda: x.gen["expression_prob"].argmax(1))


@register_metric("expression_accuracy", family="alignment", higher_is_better=True, label="expr. claimed",
                 title="expression claimed vs judge", reads=("expression_prob",),
                 what="How often the expression a set claims for an image is the one the expression judge reads "
                      "from it.",
                 formula="share of rows with a claimed expression where claimed == argmax of the judge's "
                         "expression_prob",
                 units="share of labelled rows, 0-1 (not chance-corrected: the majority class scores its share); n "
                       "is the number of labelled rows",
                 interval="percentile bootstrap over samples (rows resampled with their claimed and judged labels "
                          "together), at the protocol's bootstrap level and count; conditional on the judge",
                 sensitive="the class balance of the claims (expression_kappa corrects for chance); the judge's "
                           "accuracy (on photographs the reference set's own value is reported beside, as the "
                           "reference agreement)")
def expression_accuracy(x: ScoreInputs) -> Value:
    """Claimed vs judged expression over labelled rows; interval: percentile bootstrap over samples."""
    e, p = x.claimed_expression, judged_expression(x)
    return Value(A.accuracy(e, p), int((e >= 0).sum()), bootstrap_ci(A.accuracy, e, p, **x.boot))


def _kappa8(e: np.ndarray, p: np.ndarray) -> float:
    return A.cohen_kappa(e, p, N_EXPRESSIONS)


@register_metric("expression_kappa", family="alignment", higher_is_better=True, label="expr. kappa claimed",
                 title="expression kappa claimed vs judge", reads=("expression_prob",),
                 what="Chance-corrected agreement between the expressions a set claims and those the expression "
                      "judge reads: Cohen's kappa over the 8 expression classes (a label-validity gate of the board).",
                 formula="(p_o - p_e) / (1 - p_e) over rows with a claimed expression, p_o = share where claimed == "
                         "judge argmax, p_e = sum over classes of the product of the two marginal shares",
                 units="kappa: 1 = perfect, 0 = chance (a constant or random labelling), below 0 = worse; n/a for a "
                       "set that labels no expression",
                 interval="percentile bootstrap over samples (rows resampled with their claimed and judged labels "
                          "together), at the protocol's bootstrap level and count; conditional on the judge; its lower "
                          "bound gates the board",
                 sensitive="the judge's confusions (they cap it below 1 even for true labels); class balance")
def expression_kappa(x: ScoreInputs) -> Value:
    """Cohen's kappa of claimed vs judged expression over labelled rows (0 = chance); interval: percentile bootstrap
    over samples (its lower bound gates the leaderboard). NaN for a set that labels no expression."""
    e, p = x.claimed_expression, judged_expression(x)
    return Value(_kappa8(e, p), int((e >= 0).sum()), bootstrap_ci(_kappa8, e, p, **x.boot))
