"""Per-sample readings: one row per image of a scored SampleSet, the labels it claims beside what the judge reads.

`augen score --out` and `augen submit` write this table beside each results JSON as `<stem>.samples.csv.gz`
(`bench.core.results.write_samples`; docs/results.md). Columns, in order (a judge that lacks a reading lacks its
columns; floats rounded to 4 decimals; an empty cell is a label not given or a reading that is NaN):

    file, row                              the image's file name in images/ and its row index (0-based)
    claimed_AU01 ... claimed_AU26          the intensities the set claims (0-5)
    claimed_expression                     the expression the set claims (a name of bench.data.aus.EXPRESSIONS)
    judge_AU01 ... judge_AU26              the judge's AU intensities (an --au-readings tool's, when given)
    judge_AU01_p ... judge_AU26_p          the judge's AU occurrence probabilities
    judge_expression                       the most probable expression (a name)
    judge_expression_p_neutral ...         the judge's expression probabilities, one column per class
    judge_skin_tone, judge_gender, ...     the most probable class of every other `<name>_prob` reading (codes
                                           as in labels.csv, bench.data.sampleset.DEMOGRAPHIC_COLUMNS)

The judge's features (`features`, 256-d for the world judge) are not written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench import judges
from bench.core.protocol import DEFAULT_PROTOCOL, Protocol
from bench.data.aus import AU_COLUMNS, EXPRESSIONS, N_AUS
from bench.data.sampleset import SampleSet, opened
from bench.judges.cache import judge_sharded
from bench.scoring.protocols import load_protocol
from bench.scoring.score import score

DECIMALS = 4
AU_READINGS = {"au_intensity": "judge_{}", "au_prob": "judge_{}_p"}  # reading -> column pattern per AU
SKIPPED = ("features",)  # readings never written (large, and not a per-image label)


def _floats(a: np.ndarray) -> list[float]:
    """Python floats rounded to DECIMALS (NaN kept; -0.0 written as 0.0)."""
    return (np.round(np.asarray(a, np.float64), DECIMALS) + 0.0).tolist()


def _argmax(p: np.ndarray) -> list[int | None]:
    """Per row, the most probable class; None for a row with a NaN probability."""
    bad = np.isnan(p).any(axis=1)
    best = np.argmax(np.nan_to_num(p, nan=-1.0), axis=1)
    return [None if b else int(i) for i, b in zip(best, bad)]


def _expression_names(codes) -> list[str | None]:
    return [EXPRESSIONS[c] if c is not None and 0 <= c < len(EXPRESSIONS) else None for c in codes]


def per_sample_table(files: list[str], claimed_aus: np.ndarray, claimed_expression: np.ndarray,
                     readings: dict[str, np.ndarray]) -> dict[str, list]:
    """The per-sample table as columns (name -> one Python value per row, None = empty), in the module's order.

    `claimed_aus` (N, 17) intensities (NaN = not labelled), `claimed_expression` (N,) codes (-1 = not labelled),
    `readings` the judge's row-aligned arrays (`au_intensity`, `au_prob` (N, 17), `<name>_prob` (N, classes),
    `features` ignored). A reading of another length or shape is a bug upstream and raises ValueError.
    """
    n = len(files)
    claimed_aus = np.asarray(claimed_aus)
    claimed_expression = np.asarray(claimed_expression)
    if claimed_aus.shape != (n, N_AUS) or claimed_expression.shape != (n,):
        raise ValueError(f"claimed labels {claimed_aus.shape}, {claimed_expression.shape} do not match {n} files")
    for k, v in readings.items():
        if k not in SKIPPED and (np.ndim(v) != 2 or len(v) != n):
            raise ValueError(f"reading {k!r} has shape {np.shape(v)}; expected ({n}, classes)")
    cols: dict[str, list] = {"file": list(files), "row": list(range(n))}
    for j, c in enumerate(AU_COLUMNS):
        cols[f"claimed_{c}"] = _floats(claimed_aus[:, j])
    cols["claimed_expression"] = _expression_names([int(e) if e >= 0 else None for e in claimed_expression])
    for reading, pattern in AU_READINGS.items():
        if reading in readings:
            if readings[reading].shape[1] != N_AUS:
                raise ValueError(f"reading {reading!r} has {readings[reading].shape[1]} columns, not {N_AUS}")
            for j, c in enumerate(AU_COLUMNS):
                cols[pattern.format(c)] = _floats(readings[reading][:, j])
    if "expression_prob" in readings:
        p = np.asarray(readings["expression_prob"], np.float64)
        if p.shape[1] != len(EXPRESSIONS):
            raise ValueError(f"reading 'expression_prob' has {p.shape[1]} classes, not {len(EXPRESSIONS)}")
        cols["judge_expression"] = _expression_names(_argmax(p))
        for j, name in enumerate(EXPRESSIONS):
            cols[f"judge_expression_p_{name}"] = _floats(p[:, j])
    for k in sorted(readings):
        if k.endswith("_prob") and k != "expression_prob":
            cols[f"judge_{k.removesuffix('_prob')}"] = _argmax(np.asarray(readings[k], np.float64))
    return cols


def score_with_samples(source: SampleSet | str | Path, protocol: str | Protocol = DEFAULT_PROTOCOL, **kw
                       ) -> tuple[dict, dict[str, list]]:
    """`score(source, protocol, **kw)` (a world protocol) and the per-sample table of the readings its metrics
    read."""
    per_image: dict = {}
    res = score(source, protocol, per_image=per_image, **kw)
    return res, per_sample_table(per_image["files"], per_image["claimed_intensity"], per_image["claimed_expression"],
                                 per_image["readings"])


def sample_table(source: SampleSet | str | Path, protocol: str | Protocol = DEFAULT_PROTOCOL,
                 cache: Path | None = None) -> dict[str, list]:
    """The per-sample table of a set scored before under `protocol` (the judge's readings come from the feature
    cache, or are computed and cached if absent). Without --au-readings: the protocol's own judge."""
    proto = load_protocol(protocol)
    judge = judges.build_judge(proto.judge.kind, proto.judge.config)
    ss = opened(source)
    gen = judge_sharded(ss, judge, judge.id, folder=cache)
    c = ss.claims()
    return per_sample_table(list(c.files), c.intensity, c.expression, gen)
