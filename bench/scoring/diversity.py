"""Diversity: spread of the scored set's judge features (identity similarity, Vendi), predicted demographic
distributions (entropy, KL to uniform, worst-group share) and AU-combination coverage."""

from __future__ import annotations

import numpy as np

from bench.core.registry import register_metric
from bench.metrics import diversity as D
from bench.scoring.context import NotApplicable, ScoreInputs, Value

DEMOGRAPHICS = {"skin_tone": 6, "gender": 2, "age_group": 3}  # attribute -> number of groups the judge reads


def _centred(x: ScoreInputs) -> np.ndarray:
    """Generated features minus the reference mean (post-ReLU features all point one way: measure spread around
    the world's mean)."""
    return x.memo("centred", lambda: x.gen["features"].astype(np.float64)
                  - x.ref["features"].astype(np.float64).mean(0))


@register_metric("identity_similarity", family="diversity", higher_is_better=False, reads=("features",))
def identity_similarity(x: ScoreInputs) -> Value:
    return Value(D.mean_pairwise_cosine(_centred(x)), x.n)


@register_metric("vendi", family="diversity", higher_is_better=True, label="Vendi", title="Vendi",
                 reads=("features",))
def vendi(x: ScoreInputs) -> Value:
    return Value(D.vendi_score(_centred(x)), x.n)


def _distribution(x: ScoreInputs, attr: str) -> np.ndarray:
    """The judged groups' shares; rows the judge could not read (NaN, e.g. a skin tone outside the ITA bands) are
    left out rather than counted as group 0."""
    def compute() -> np.ndarray:
        p = x.gen[f"{attr}_prob"]
        ok = np.isfinite(p).all(1)
        if not ok.any():
            raise NotApplicable(f"the judge read no {attr} in this set")
        return D.distribution(p[ok].argmax(1), DEMOGRAPHICS[attr])
    return x.memo(f"dist_{attr}", compute)


def _entropy(attr: str, label: str | None = None, title: str | None = None):
    @register_metric(f"{attr}_entropy", family="diversity", higher_is_better=True, label=label, title=title,
                     reads=(f"{attr}_prob",))
    def entropy(x: ScoreInputs) -> Value:
        dist = _distribution(x, attr)
        return Value(D.normalized_entropy(dist), x.n, extra={"distribution": dist.tolist()})
    return entropy


skin_tone_entropy = _entropy("skin_tone", "skin-tone H", "skin-tone entropy")
gender_entropy = _entropy("gender")
age_group_entropy = _entropy("age_group")


@register_metric("demographic_kl", family="diversity", higher_is_better=False,
                 reads=tuple(f"{a}_prob" for a in DEMOGRAPHICS))
def demographic_kl(x: ScoreInputs) -> Value:
    """Sum over attributes of KL(predicted distribution || uniform)."""
    kls = [D.kl_divergence(_distribution(x, a), np.full(k, 1.0 / k)) for a, k in DEMOGRAPHICS.items()]
    return Value(float(np.sum(kls)), x.n)


@register_metric("worst_group_share", family="diversity", higher_is_better=True,
                 reads=tuple(f"{a}_prob" for a in DEMOGRAPHICS))
def worst_group_share(x: ScoreInputs) -> Value:
    return Value(float(np.min([D.worst_group_share(_distribution(x, a)) for a in DEMOGRAPHICS])), x.n)


@register_metric("au_combination_coverage", family="diversity", higher_is_better=True, reads=("au_prob",))
def au_combination_coverage(x: ScoreInputs) -> Value:
    c = x.cols
    return Value(D.au_combination_coverage(x.ref["au_prob"][:, c] >= 0.5, x.gen["au_prob"][:, c] >= 0.5), x.n)
