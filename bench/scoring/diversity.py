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


@register_metric("identity_similarity", family="diversity", higher_is_better=False, reads=("features",),
                 what="How alike the scored images are to each other in the judge's feature space (the world judge's "
                      "embedding, which carries identity; face-api's identity descriptor on photographs): the mean "
                      "cosine similarity over all pairs, after centring on the reference mean.",
                 formula="mean over pairs i != j of cos(f_i - m, f_j - m), f = generated features, m = mean of the "
                         "reference features",
                 units="cosine similarity, -1 to 1; about 0 for a set as spread as the reference, 1 when all images "
                       "are alike",
                 interval="none (a point value; no interval is computed)",
                 sensitive="the centring on the reference mean (without it post-ReLU features all point one way); "
                           "the judge's feature space")
def identity_similarity(x: ScoreInputs) -> Value:
    return Value(D.mean_pairwise_cosine(_centred(x)), x.n)


@register_metric("vendi", family="diversity", higher_is_better=True, label="Vendi", title="Vendi",
                 reads=("features",),
                 what="Vendi score (Friedman & Dieng 2023): the effective number of distinct images in the set, from "
                      "the spectrum of the cosine-similarity kernel of its judge features centred on the reference "
                      "mean.",
                 formula="exp(-sum_i l_i ln l_i), l_i = eigenvalues of K / n, K_ij = cos(f_i - m, f_j - m), f = "
                         "generated features, m = mean of the reference features",
                 units="effective count of distinct samples: 1 (all identical) up to min(n, feature width)",
                 interval="none (a point value; no interval is computed)",
                 sensitive="set size n and feature width d (it cannot exceed either: compare sets of equal size under "
                           "one judge); the centring on the reference mean")
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
                     reads=(f"{attr}_prob",),
                     what=f"How evenly the judge's predicted {attr.replace('_', ' ')} classes "
                          f"({DEMOGRAPHICS[attr]} of them) spread over the scored set: the normalised Shannon "
                          "entropy of their shares.",
                     formula=f"-sum_g p_g ln p_g / ln {DEMOGRAPHICS[attr]}, p_g = share of readable rows whose "
                             f"argmax {attr}_prob is class g (rows the judge cannot read are left out)",
                     units="0 (one class) to 1 (uniform)",
                     interval="none (a point value; no interval is computed)",
                     sensitive="the judge's demographic classifier and its errors; the set size (few rows give "
                               "noisy shares); a uniform target: a set matching a skewed population scores below 1")
    def entropy(x: ScoreInputs) -> Value:
        dist = _distribution(x, attr)
        return Value(D.normalized_entropy(dist), x.n, extra={"distribution": dist.tolist()})
    return entropy


skin_tone_entropy = _entropy("skin_tone", "skin-tone H", "skin-tone entropy")
gender_entropy = _entropy("gender")
age_group_entropy = _entropy("age_group")


@register_metric("demographic_kl", family="diversity", higher_is_better=False,
                 reads=tuple(f"{a}_prob" for a in DEMOGRAPHICS),
                 what="How far the judge's predicted skin-tone, gender and age-group distributions of the scored set "
                      "are from uniform, summed over the three attributes.",
                 formula="sum over attributes a of KL(p_a || uniform) = sum_a sum_g p_ag ln(p_ag k_a), "
                         f"k = {', '.join(f'{k} {a}' for a, k in DEMOGRAPHICS.items())} groups",
                 units=f"nats; 0 = every attribute uniform, at most ln({' * '.join(map(str, DEMOGRAPHICS.values()))})",
                 interval="none (a point value; no interval is computed)",
                 sensitive="the judge's demographic classifiers; the uniform target; set size (noisy shares at "
                           "small n)")
def demographic_kl(x: ScoreInputs) -> Value:
    """Sum over attributes of KL(predicted distribution || uniform)."""
    kls = [D.kl_divergence(_distribution(x, a), np.full(k, 1.0 / k)) for a, k in DEMOGRAPHICS.items()]
    return Value(float(np.sum(kls)), x.n)


@register_metric("worst_group_share", family="diversity", higher_is_better=True,
                 reads=tuple(f"{a}_prob" for a in DEMOGRAPHICS),
                 what="How well the scored set's least represented demographic group is represented: over skin tone, "
                      "gender and age group, the smallest ratio of a group's predicted share to its uniform share.",
                 formula="min over attributes a and groups g of p_ag / (1 / k_a) = k_a p_ag, p_ag = share of readable "
                         "rows the judge puts in group g",
                 units="ratio, 0 (some group absent) to 1 (every group at least its uniform share)",
                 interval="none (a point value; no interval is computed)",
                 sensitive="one group alone decides it (the rarest group of any attribute); the judge's classifier "
                           "errors on that group; set size (a rare group's share is noisy at small n)")
def worst_group_share(x: ScoreInputs) -> Value:
    return Value(float(np.min([D.worst_group_share(_distribution(x, a)) for a in DEMOGRAPHICS])), x.n)


@register_metric("au_combination_coverage", family="diversity", higher_is_better=True, reads=("au_prob",),
                 what="The share of the AU combinations common among the reference images that the scored set also "
                      "shows, both read by the judge (not the claimed labels).",
                 formula="|R & G| / |R|, R = occurrence patterns (judge au_prob >= 0.5 on the protocol's AU subset) "
                         "seen at least 5 times in the reference, G = patterns seen at least once in the scored set",
                 units="share of reference patterns, 0-1 (n/a when no pattern reaches 5 reference images)",
                 interval="none (a point value; no interval is computed)",
                 sensitive="set size (a larger set shows more patterns); the AU subset (17 AUs make many rare "
                           "patterns); the reference size (it decides which patterns count); the judge's AU errors")
def au_combination_coverage(x: ScoreInputs) -> Value:
    c = x.cols
    return Value(D.au_combination_coverage(x.ref["au_prob"][:, c] >= 0.5, x.gen["au_prob"][:, c] >= 0.5), x.n)
