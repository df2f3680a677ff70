"""`augen score`: a SampleSet x a protocol -> the results JSON of every family but downstream.

Stages (each timed): validate -> load judge -> judge the set (streamed, cached by content hash) ->
judge the protocol's reference and train-reference images (cached) -> realism, diversity, alignment,
memorization metrics with n and bootstrap CIs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from pathlib import Path

import numpy as np

from bench.data.aus import AU_INDEX, subset
from bench.data.safeio import DataError
from bench.data.sampleset import SampleSet
from bench.judges.cache import cached, judge_sharded
from bench.judges.world import WorldJudgeConfig, load_world_judge, predict
from bench.metrics import alignment as A
from bench.metrics import diversity as D
from bench.metrics import memorization as M
from bench.metrics import realism as R
from bench.metrics.stats import bootstrap_ci
from bench.protocols import Protocol, load_protocol
from bench.results import environment, metric, new_results
from bench.world.make import WORLD_VERSION
from bench.world.params import WorldConfig, sample_params
from bench.world.render import render

DEMOGRAPHICS = {"skin_tone": 6, "gender": 2, "age_group": 3}


class Stages:
    """Wall time per stage."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str):
        t = time.perf_counter()
        yield
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t


def judge_world_split(net, judge_id: str, world: dict, split: str, n: int, folder: Path | None = None) -> dict:
    """Judge outputs for world samples 0..n-1 of a split (rendered on the fly, cached)."""
    cfg = WorldConfig(seed=world["seed"], image_size=world["image_size"])
    key = f"world{WORLD_VERSION}-s{cfg.seed}-{cfg.image_size}px-{split}-0-{n}"

    def compute() -> dict[str, np.ndarray]:
        parts: dict[str, list] = {}
        for lo in range(0, n, 512):
            p = sample_params(cfg, split, np.arange(lo, min(n, lo + 512)))
            for k, v in predict(net, render(p, cfg.image_size)).items():
                parts.setdefault(k, []).append(v)
        return {k: np.concatenate(v) for k, v in parts.items()}

    return cached(key, judge_id, compute, folder)


def _claimed(ss: SampleSet) -> tuple[np.ndarray, np.ndarray, list[str]]:
    inten, expr, files = [], [], []
    for s in ss.rows():
        inten.append(s.intensity)
        expr.append(s.expression)
        files.append(s.file)
    return np.stack(inten), np.array(expr), files


def _requested(proto: Protocol, ss: SampleSet, files: list[str]) -> list | None:
    """The conditions behind each row, when the set answers this protocol's suite (row i = `{i:08d}.png`)."""
    from bench.controls import world_conditions

    c = proto["conditions"]
    n = len(files)
    if ss.manifest.protocol != proto.id or n > c["n"] or files != [f"{i:08d}.png" for i in range(n)]:
        return None
    return world_conditions(proto["world"], c["split"], n)


def score_sampleset(root: str | Path, protocol: str | Protocol = "world-v1", *, cache: Path | None = None,
                    progress: bool = False, au_readings: str | None = None, downstream: bool = False) -> dict:
    """Score a SampleSet under a protocol; returns the results dict (see bench.results).

    `au_readings` ('libreface:FILE.csv' or 'openface:FOLDER') replaces the world judge's AU readings in
    the alignment family by an external tool's (NaN where the tool reads nothing). `downstream` also trains
    the protocol's recognizers on the set (bench.downstream; minutes, cached per training).
    """
    st = Stages()
    proto = protocol if isinstance(protocol, Protocol) else load_protocol(protocol)
    world = proto["world"]
    with st("validate"):
        ss = SampleSet(root)
        size = (world["image_size"], world["image_size"])
        if ss.image_size != size:
            raise DataError(root, f"images are {ss.image_size}, protocol {proto.id} scores {size}")
        if len(ss) < 20:
            raise DataError(root, f"{len(ss)} samples; at least 20 are needed to score")
    with st("load_judge"):
        jcfg = WorldJudgeConfig(**proto["judge"].get("config", {}))
        net, report = load_world_judge(jcfg, progress=progress)
        jid = jcfg.judge_id
    with st("judge_generated"):
        content_hash = ss.content_hash()
        gen = judge_sharded(root, lambda b: predict(net, b), jid, folder=cache, content_hash=content_hash)
    with st("judge_reference"):
        ref = judge_world_split(net, jid, world, proto["reference"]["split"], proto["reference"]["n"], cache)
        trn = judge_world_split(net, jid, world, proto["train_reference"]["split"], proto["train_reference"]["n"],
                                cache)
    au_judge = {"id": jid, "sha256": report.get("weights_sha256")}
    if au_readings:
        from bench.judges.external import libreface_readings, openface_readings

        kind, _, where = au_readings.partition(":")
        readers = {"libreface": libreface_readings, "openface": openface_readings}
        if kind not in readers or not where:
            raise ValueError(f"--au-readings must be libreface:FILE.csv or openface:FOLDER, not {au_readings!r}")
        ext, ext_id = readers[kind](ss, where)
        gen = {**gen, **ext}
        au_judge = {"id": ext_id, "sha256": ext_id.rsplit("-", 1)[-1]}
    claimed_int, claimed_expr, files = _claimed(ss)
    n = len(ss)
    b = proto["bootstrap"]
    boot = dict(n_boot=b["n"], seed=b["seed"], alpha=b["alpha"])
    mdef = proto.metrics
    out: dict[str, dict] = {}

    def put(name: str, value: float, n_: int, ci=None, **extra):
        if name in mdef:
            out[name] = metric(value, n_, mdef[name]["higher_is_better"], mdef[name]["family"], ci, **extra)

    with st("realism"):
        fg, fr = gen["features"].astype(np.float64), ref["features"].astype(np.float64)
        put("fd_world", R.fd_from_features(fr, fg), n, bootstrap_ci(R.fd_against(fr), fg, **boot),
            n_reference=len(fr))
        rz = proto["realism"]
        kid_v, kid_sd = R.kid(fr, fg, rz["kid_subsets"], rz["kid_subset_size"], seed=b["seed"])
        half = 1.96 * kid_sd / np.sqrt(rz["kid_subsets"])
        put("kid_world", kid_v, n, (kid_v - half, kid_v + half))
        p, r = R.precision_recall(fr, fg, k=rz["k_pr"])
        nr = len(fr)
        put("precision", p, n, n_reference=nr)
        put("recall", r, n, n_reference=nr)
        dens, cov = R.density_coverage(fr, fg, k=rz["k_dc"])
        put("density", dens, n, n_reference=nr)
        put("coverage", cov, n, n_reference=nr)
    with st("diversity"):
        kls, worst = [], []
        for attr, k in DEMOGRAPHICS.items():
            dist = D.distribution(gen[f"{attr}_prob"].argmax(1), k)
            put(f"{attr}_entropy", D.normalized_entropy(dist), n, distribution=dist.tolist())
            kls.append(D.kl_divergence(dist, np.full(k, 1.0 / k)))
            worst.append(D.worst_group_share(dist))
        put("demographic_kl", float(np.sum(kls)), n)
        put("worst_group_share", float(np.min(worst)), n)
        centred = fg - fr.mean(0)  # post-ReLU features all point one way: measure spread around the world's mean
        put("identity_similarity", D.mean_pairwise_cosine(centred), n)
        put("vendi", D.vendi_score(centred), n)
        cols = [AU_INDEX[a] for a in subset(proto["aus"])]
        put("au_combination_coverage", D.au_combination_coverage(ref["au_prob"][:, cols] >= 0.5,
                                                                  gen["au_prob"][:, cols] >= 0.5), n)
    with st("alignment"):
        thr = proto["occurrence_threshold"]
        ci_, ji, jp = claimed_int[:, cols], gen["au_intensity"][:, cols], gen["au_prob"][:, cols]
        occ = np.where(np.isnan(ci_), np.nan, (ci_ >= thr).astype(np.float64))
        # judged occurrence: the tool's probability, else its intensity >= threshold, else unread (NaN)
        jocc = np.where(~np.isnan(jp), (jp >= 0.5).astype(float),
                        np.where(~np.isnan(ji), (ji >= thr).astype(float), np.nan))
        names = [f"AU{a:02d}" for a in subset(proto["aus"])]
        f1 = A.f1_per_column(occ, jocc)
        put("au_f1", A.nanmean(f1), n,
            bootstrap_ci(lambda o, p_: A.nanmean(A.f1_per_column(o, p_)), occ, jocc, **boot),
            per_au={k: (None if np.isnan(v) else round(float(v), 4)) for k, v in zip(names, f1)},
            au_judge=au_judge["id"])
        put("au_kappa", A.nanmean(A.kappa_per_column(occ, jocc)), n)
        put("au_auc", A.nanmean(A.roc_auc_per_column(occ, jp)), n)
        put("au_icc", A.nanmean(A.icc_per_column(ci_, ji)), n)
        put("au_pearson", A.nanmean(A.pearson_per_column(ci_, ji)), n)
        put("au_mae", A.nanmean(A.mae_per_column(ci_, ji)), n)
        pred_e = gen["expression_prob"].argmax(1)
        put("expression_accuracy", A.accuracy(claimed_expr, pred_e), int((claimed_expr >= 0).sum()),
            bootstrap_ci(A.accuracy, claimed_expr, pred_e, **boot))
    with st("control"):  # do the images show what was asked for? (judge readings vs the requested condition)
        if (conds := _requested(proto, ss, files)) is not None:
            req = np.stack([c.aus for c in conds])[:, cols]
            req_occ = np.where(np.isnan(req), np.nan, (req >= thr).astype(np.float64))
            f1c = A.f1_per_column(req_occ, jocc)
            put("au_f1_condition", A.nanmean(f1c), n,
                bootstrap_ci(lambda o, p_: A.nanmean(A.f1_per_column(o, p_)), req_occ, jocc, **boot),
                per_au={k: (None if np.isnan(v) else round(float(v), 4)) for k, v in zip(names, f1c)})
            put("au_pearson_condition", A.nanmean(A.pearson_per_column(req, ji)), n)
            req_e = np.array([c.expression for c in conds])
            put("expression_accuracy_condition", A.accuracy(req_e, pred_e), n,
                bootstrap_ci(A.accuracy, req_e, pred_e, **boot))
    with st("memorization"):
        ft = trn["features"].astype(np.float64)
        d_gen, d_ref = M.nn_distances(fg, ft), M.nn_distances(fr, ft)
        put("nn_distance_to_train", float(d_gen.mean()), n)
        put("near_copy_share", M.near_copy_share(d_gen, d_ref, proto["memorization"]["near_copy_quantile"]), n)
    if downstream and "downstream" in proto.settings:
        with st("downstream"):
            out.update(run_protocol_downstream(proto, root, content_hash, cache, progress))
    m = ss.manifest
    judged = st.seconds.get("judge_generated", 0.0)
    return new_results(
        protocol={"id": proto.id,  # an external AU judge makes the scores a different (unrankable-together) set
                  "hash": proto.hash(report.get("weights_sha256", "") + ("|" + au_judge["id"] if au_readings else ""))},
        generator={k: m.generator[k] for k in ("name", "version", "config", "stats") if k in m.generator},
        sampleset={"folder": Path(root).resolve().name, "content_hash": content_hash, "n": n,  # no machine paths
                   "labels_sha256": m.labels_sha256},
        metrics=out,
        au_judge=au_judge,
        judges={jid: {"sha256": report.get("weights_sha256"),
                      "ceiling": {k: report[k] for k in ("au_mean_f1", "au_min_f1", "au_min_r", "expression_accuracy",
                                                         "skin_tone_accuracy", "gender_accuracy",
                                                         "age_group_accuracy", "au_f1") if k in report},
                      "config": dataclasses.asdict(jcfg)}},
        seeds={"bootstrap": b["seed"], "world": world["seed"]},
        stage_seconds={k: round(v, 3) for k, v in st.seconds.items()},
        throughput_images_per_s=round(n / judged, 1) if judged > 0 else None,
        **environment(),
    )


def protocol_hash(proto: Protocol) -> str:
    """The hash results scored now under `proto` carry (settings + the world judge's weights), as in
    `score_sampleset` without external AU readings."""
    _, report = load_world_judge(WorldJudgeConfig(**proto["judge"].get("config", {})), train_if_missing=False)
    return proto.hash(report.get("weights_sha256", ""))


def run_protocol_downstream(proto: Protocol, root: str | Path, content_hash: str | None = None,
                            cache: Path | None = None, progress: bool = False) -> dict[str, dict]:
    """The downstream family of a world protocol for one SampleSet: metric name -> results entry."""
    from bench import downstream as DS

    s, world = proto["downstream"], proto["world"]
    n1 = s["real_train"]["n"]
    need = int(round(max([*s["scales"], s["mixed_scale"]]) * n1))
    syn = DS.from_sampleset(root, need, s["input_size"], content_hash)
    real = DS.from_world(world, s["real_train"]["split"], n1, s["input_size"])
    test = DS.from_world(world, s["test"]["split"], s["test"]["n"], s["input_size"])
    log = (lambda m: print(m, flush=True)) if progress else None
    raw = DS.run_downstream(syn, real, test, s, proto["occurrence_threshold"],
                            cache=None if cache is None else Path(cache) / "downstream", progress=log)
    return DS.downstream_metrics(raw, s)

