"""Downstream harness: train recognizers on a generator's labelled images at several sizes, test on real data.

What one protocol's `downstream` section fixes (world-v1 shown):

    recognizer: small-cnn     # bench.downstream.recognizers kind (resnet18 for real-data protocols)
    width: 32                 # recognizer width
    input_size: 32            # images are area-resized to this side before training and testing
    real_train: {split: train, n: 400}   # the real training set; its size defines "1x"
    test: {split: test, n: 2000}         # the real test set
    scales: [0.5, 1, 2, 5]    # synthetic set sizes, as multiples of the real training size
    mixed_scale: 1            # real + synthetic at this scale is trained too
    seeds: [0, 1, 2]          # one training per seed and size; values are seed means, CIs over seeds
    steps: 400                # optimizer steps per training (equal compute at every size); world-v2 instead:
    # epochs: 30              #   passes over the training set (training length follows data size),
    # max_steps: 1000         #   at most this many steps (so at most max_steps * batch_size distinct images)
    # val: {split: val, start: 900000, n: 1000}   # real validation split: per-AU thresholds (max F1 on it)
    batch_size: 64
    lr: 0.003                 # AdamW peak (cosine to 0 after a 5% warm-up)
    weight_decay: 0.0005
    au_f1: BP4D12             # AU detector: mean occurrence F1 over this subset
    au_icc: FERA5             # and mean ICC(3,1) of intensities over this subset

Every recognizer learns from the labels the set *claims*: an AU the set does not label is never trained, so the
detector reports it absent (F1 0 where the test set has it); a set without expression labels gets no expression
metrics (n/a). The same code runs real-data protocols: there `real_train`/`test` name SampleSets (e.g. made by
`bench.data.datasets` readers) under a local data root.

With a validation split (world-v2 on) the harness also reports chance-corrected kinds: `au_kappa` (mean per-AU
Cohen's kappa on the au_f1 subset, AU decisions at the per-AU logit threshold that maximises F1 on the validation
split), `expression_kappa` (Cohen's kappa; 0 for a set that labels no expression: it trains no expression
recognizer; undefined for a test set without expression labels), and `utility` = the mean of the two (of the one
the test set labels: expression on AffectNet, AUs on BP4D); `downstream_training_value` is the area under the
utility curve over log2(scale), divided by the log2 range (the curve's mean height). Real-only baselines are trained
beside: at 1x, at the mixed run's total size (real 1x + synthetic), and at the generator's declared real budget
(capped at what one training can see, `max_steps * batch_size`). Test-set trivial baselines (all AUs present,
base-rate guessing, majority class) are recorded beside the raw metrics.

Each training is cached (`$AUGEN_CACHE/downstream/<key>.json`, key = data content + settings + seed), so an
interrupted run resumes and reruns are free; trainings are deterministic for a seed.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from bench.core.atomic import atomic_write_bytes, atomic_write_text
from bench.core.errors import UsageError
from bench.core.protocol import DownstreamSettings
from bench.core.threads import spawned_pool
from bench.data.aus import AU_INDEX, subset
from bench.downstream.backbones import load_backbone
from bench.downstream.data import LabelledImages, WorldSlice, pack_predictions, replicate_blocks
from bench.downstream.distributed import device_label, is_main
from bench.downstream.recognizers import N_EXPRESSIONS, build_recognizer
from bench.downstream.spec import TASK_FIELDS, VERSION, kinds, scale_name
from bench.metrics import alignment as A

# -- training and testing ----------------------------------------------------------------------------------


def _lr(step: int, total: int, peak: float) -> float:
    warm = max(1, total // 20)
    if step < warm:
        return peak * (step + 1) / warm
    return peak * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))


def _schedule(n: int, bs: int, total: int, g: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(rows (B,), flip (B,) bool) of each step: a fresh permutation whenever the current one runs out, then a coin
    per image, drawn from `g` in that order (the order fixes the numbers)."""
    perm, at = torch.randperm(n, generator=g), 0
    for _ in range(total):
        if at + bs > n:
            perm, at = torch.randperm(n, generator=g), 0
        idx = perm[at:at + bs]
        at += bs
        yield idx, torch.rand(len(idx), generator=g) < 0.5


def _read_ahead(x, steps: Iterator[tuple[torch.Tensor, torch.Tensor]]
                ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(rows, flip, pixels (B, 3, S, S) uint8) of each step. Pixels in memory are indexed when asked; from a pixel
    file the next batch is read in a thread while this one trains (os.pread releases the GIL)."""
    if isinstance(x, torch.Tensor):
        for idx, flip in steps:
            yield idx, flip, x[idx]
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as reader:
        nxt = next(steps, None)
        fut = reader.submit(x.__getitem__, nxt[0]) if nxt else None
        while nxt is not None:
            idx, flip = nxt
            nxt = next(steps, None)
            pixels = fut.result()
            fut = reader.submit(x.__getitem__, nxt[0]) if nxt else None
            yield idx, flip, pixels


def train(data: LabelledImages, s: DownstreamSettings, seed: int, threshold: float = 1.0,
          device: str = "cpu", ddp=None) -> torch.nn.Module:
    """One recognizer trained on `data` for `s['steps']` AdamW steps (masked multi-task loss: occurrence BCE
    where occurrence is known, intensity MSE where intensity is, expression CE where labelled). `ddp` (an
    Accelerator, bench.downstream.distributed): this process trains on its rows of each batch, DDP averages."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    if str(device if ddp is None else ddp.device).startswith("cuda"):  # repeatable (cached per device, cache_path)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    net = build_recognizer(s.recognizer, width=s.width)
    if s.pretrained:
        load_backbone(net, s.pretrained)
    net = net.to(device if ddp is None else ddp.device)
    opt = torch.optim.AdamW(net.parameters(), lr=s.lr, weight_decay=s.weight_decay)
    n, bs, total = len(data), min(s.batch_size, len(data)), s.steps_for(len(data))
    occ_all = data.occurrence(threshold)  # (N, 17) 0/1/NaN
    has_occ, has_int = ~torch.isnan(occ_all), ~torch.isnan(data.aus)  # (N, 17)
    steps = _schedule(n, bs, total, g)
    if ddp is not None:
        r, k = ddp.process_index, ddp.num_processes
        if bs % k:
            raise UsageError(f"batch size {bs} is not a multiple of the {k} processes: each would average a "
                             "different share of the batch; launch a number of processes that divides it")
        net, opt, device = *ddp.prepare(net, opt), ddp.device
        steps = ((idx[r::k], flip[r::k]) for idx, flip in steps)  # this process's rows of each global batch
    net.train()
    for step, (idx, flip, x) in enumerate(_read_ahead(data.x, steps)):
        x = x.float().div_(255.0)
        x[flip] = x[flip].flip(-1)  # world and real faces: left/right flip keeps every label
        out = net(x.to(device))
        m, mi = has_occ[idx].to(device), has_int[idx].to(device)
        o, a = torch.nan_to_num(occ_all[idx]).to(device), torch.nan_to_num(data.aus[idx]).to(device)
        e = data.expression[idx].to(device)
        loss = out["au_logit"].new_zeros(())
        if m.any():
            bce = F.binary_cross_entropy_with_logits(out["au_logit"], o, reduction="none")
            loss = loss + (bce * m).sum() / m.sum()
        if mi.any():
            loss = loss + (((out["au_int"] - a) / 5) ** 2 * mi).sum() / mi.sum()
        if (e >= 0).any():
            loss = loss + F.cross_entropy(out["expression"][e >= 0], e[e >= 0])
        for group in opt.param_groups:
            group["lr"] = _lr(step, total, s.lr)
        opt.zero_grad(set_to_none=True)
        if ddp is None:
            loss.backward()
        else:  # every head in the graph (DDP waits for every gradient), unlabelled ones with weight 0
            ddp.backward(loss + sum(0.0 * v.sum() for v in out.values()))
        opt.step()
    if ddp is None:
        return net.eval()
    net = ddp.unwrap_model(net)
    ddp.free_memory()  # the accelerator keeps every prepared model and optimizer otherwise (one per training)
    return net.eval()


@torch.no_grad()
def predict(net: torch.nn.Module, x: torch.Tensor, batch_size: int = 512) -> dict[str, np.ndarray]:
    dev = next(net.parameters()).device
    outs = [net(x[lo:lo + batch_size].to(dev).float().div_(255.0)) for lo in range(0, len(x), batch_size)]
    return {k: torch.cat([o[k] for o in outs]).float().cpu().numpy() for k in outs[0]}


def val_thresholds(pred: dict[str, np.ndarray], val: LabelledImages, trained_aus: np.ndarray,
                   threshold: float = 1.0) -> np.ndarray:
    """(17,) logit thresholds: per AU the one (of 0 and 99 quantiles of its validation logits) with the highest
    F1 on the validation split; 0 where the AU was never trained or the split has no positive."""
    truth = val.occurrence(threshold).numpy()  # (V, 17)
    out = np.zeros(truth.shape[1])
    for j in np.flatnonzero(trained_aus):
        ok = ~np.isnan(truth[:, j])
        t, z = truth[ok, j] >= 0.5, pred["au_logit"][ok, j]
        if not t.any():
            continue
        cands = np.unique(np.concatenate([[0.0], np.quantile(z, np.linspace(0.01, 0.99, 99))]))  # (C,)
        p = z[None, :] > cands[:, None]  # (C, V)
        f1 = 2 * (p & t).sum(1) / np.maximum(1, p.sum(1) + t.sum())
        out[j] = cands[int(np.argmax(f1))]  # first best: ties go to the lowest threshold
    return out


def evaluate(pred: dict[str, np.ndarray], test: LabelledImages, trained_aus: np.ndarray, trained_expr: bool,
             s: DownstreamSettings, threshold: float = 1.0, thresholds: np.ndarray | None = None
             ) -> dict[str, float]:
    """Test metrics of one recognizer; AUs it never saw labelled are predicted absent (intensity 0). AU decisions
    at logit > `thresholds` (17,) (validation-chosen), else > 0; chance-corrected kinds when thresholds are given."""
    occ = (pred["au_logit"] > (0.0 if thresholds is None else thresholds)) & trained_aus
    inten = np.where(trained_aus, np.clip(pred["au_int"], 0, 5), 0.0)
    truth, truth_occ = test.aus.numpy(), test.occurrence(threshold).numpy()  # NaN = unknown, skipped per AU
    f1c = [AU_INDEX[a] for a in subset(s.au_f1)]
    icc = [AU_INDEX[a] for a in subset(s.au_icc)]
    ex = test.expression.numpy()
    if s.tasks is not None:  # world-v3 on: an AU the set never labels is not scored (NaN, never 0)
        f1c, icc = [j for j in f1c if trained_aus[j]], [j for j in icc if trained_aus[j]]
    out = {"au_f1": A.nanmean(A.f1_per_column(truth_occ[:, f1c], occ[:, f1c].astype(float))),
           "au_icc": A.nanmean(A.icc_per_column(truth[:, icc], inten[:, icc]))}
    if trained_expr:
        p = pred["expression"].argmax(1)
        out["expression_accuracy"] = A.accuracy(ex, p)
        out["expression_mca"] = A.mean_class_accuracy(ex, p, N_EXPRESSIONS)
    else:
        out["expression_accuracy"] = out["expression_mca"] = float("nan")
    if thresholds is not None:
        out["au_kappa"] = A.nanmean(A.kappa_per_column(truth_occ[:, f1c], occ[:, f1c].astype(float)))
        # no expression labels, no expression recognizer: its predictions carry no information (kappa 0 up to
        # world-v2; from world-v3 on not scored: NaN); a test set without expression labels (BP4D) leaves it undefined
        unclaimed = float("nan") if s.tasks is not None else 0.0
        out["expression_kappa"] = ((A.cohen_kappa(ex, p, N_EXPRESSIONS) if trained_expr else unclaimed)
                                   if (ex >= 0).any() else float("nan"))
        out["utility"] = utility(out["au_kappa"], out["expression_kappa"])
    if s.tasks is not None:  # per-AU scores of every AU (NaN where never labelled): the tasks read these
        every = np.arange(truth.shape[1])
        kap = A.kappa_per_column(truth_occ, occ.astype(float))  # (17,)
        icc_all = A.icc_per_column(truth, inten, agreement=True)  # (17,) absolute agreement: a biased intensity
        #                                                               scale costs (consistency ICC(3,1) would not)
        out["au_kappa_by_au"] = [float(v) if trained_aus[j] else float("nan") for j, v in zip(every, kap)]
        out["au_icc_by_au"] = [float(v) if trained_aus[j] else float("nan") for j, v in zip(every, icc_all)]
        out["trained_aus"] = [bool(v) for v in trained_aus]
        out["trained_expression"] = bool(trained_expr)
    return out


def utility(au_kappa: float, expression_kappa: float) -> float:
    """The mean of the chance-corrected kinds the test set labels (both on the world; expression only on
    AffectNet, whose AU kappa is undefined; AUs only on BP4D); NaN when it labels neither."""
    return A.nanmean(np.array([au_kappa, expression_kappa]))


def trivial_baselines(test: LabelledImages, s: DownstreamSettings, threshold: float = 1.0) -> dict[str, dict]:
    """Image-blind scores on the test set (kappa 0 for each): AU F1 of 'all present' and of base-rate guessing,
    expression accuracy of the majority class and of base-rate guessing."""
    f1c = [AU_INDEX[a] for a in subset(s.au_f1)]
    return {"au_f1": A.trivial_occurrence(test.occurrence(threshold).numpy()[:, f1c]),
            "expression_accuracy": A.trivial_classification(test.expression.numpy(), N_EXPRESSIONS)}


def cache_dir() -> Path:
    from bench.core.paths import cache_root

    return cache_root() / "downstream"


def cache_path(data: LabelledImages, test: LabelledImages, s: DownstreamSettings, seed: int, threshold: float = 1.0,
               cache: Path | None = None, device: str = "cpu", val: LabelledImages | None = None) -> Path:
    key = {"v": VERSION, "data": data.key, "test": test.key, "seed": seed, "thr": threshold,
           "s": s.key()}
    if val is not None:
        key["val"] = val.key
    if device != "cpu":  # accelerator numbers differ from CPU ones (and between kernels): cached apart
        key["device"] = device
    blob = json.dumps(key, sort_keys=True)
    return (cache or cache_dir()) / f"{hashlib.sha256(blob.encode()).hexdigest()[:20]}.json"


def run_one(data: LabelledImages, test: LabelledImages, s: DownstreamSettings, seed: int, threshold: float = 1.0,
            cache: Path | None = None, device: str = "cpu", val: LabelledImages | None = None,
            ddp=None) -> dict[str, float]:
    """Train on `data` with one seed and test (AU thresholds chosen on `val` when given); cached by (data key,
    test key, settings, seed, val key, device). Under `ddp` every process trains (the caller decided it must) and
    the first evaluates and writes; the others return {}."""
    path = cache_path(data, test, s, seed, threshold, cache, device_label(device, ddp), val)
    if path.is_file() and ddp is None:
        return json.loads(path.read_text())
    trained_aus = (~torch.isnan(data.occurrence(threshold))).any(0).numpy()  # (17,)
    trained_expr = bool((data.expression >= 0).any())
    net = train(data, s, seed, threshold, device, ddp)
    if not is_main(ddp):
        return {}
    thr = None if val is None else val_thresholds(predict(net, val.x), val, trained_aus, threshold)
    pred = predict(net, test.x)
    out = evaluate(pred, test, trained_aus, trained_expr, s, threshold, thr)
    if thr is not None:  # per-test-item decisions, for paired tests between entries (bench.publish.significance)
        cols = [AU_INDEX[a] for a in subset(s.au_f1)]
        au = (pred["au_logit"][:, cols] > thr[cols]) & trained_aus[cols]  # (N, K)
        ex = pred["expression"].argmax(1) if trained_expr else np.full(len(au), -1)
        buf = io.BytesIO()
        np.savez_compressed(buf, expression=ex.astype(np.int8), au=np.packbits(au, axis=1))
        atomic_write_bytes(path.with_suffix(".npz"), buf.getvalue())
    atomic_write_text(path, json.dumps(out, sort_keys=True))
    return out


# -- aggregation -------------------------------------------------------------------------------------------


def seed_ci(values: list[float], alpha: float = 0.05) -> tuple[float, tuple[float, float] | None]:
    """Mean over seeds and its Student-t interval (None for one seed; NaN values make the mean NaN)."""
    from scipy import stats

    v = np.asarray(values, np.float64)
    m = float(v.mean())
    if len(v) < 2 or not np.isfinite(m):
        return m, None
    h = float(stats.t.ppf(1 - alpha / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))
    return m, (m - h, m + h)


def loglinear_fit(scales: list[float], values: list[list[float]]) -> dict[str, float]:
    """Least-squares value = a + b * log2(scale) over every (scale, seed) point: the gain per doubling b,
    the value the fit gives at 1x (a) and R^2. NaN if any value is NaN."""
    x = np.repeat(np.log2(np.asarray(scales, np.float64)), [len(v) for v in values])
    y = np.concatenate([np.asarray(v, np.float64) for v in values])
    if not np.isfinite(y).all() or len(set(x)) < 2:
        return {"slope_per_doubling": float("nan"), "at_1x": float("nan"), "r2": float("nan")}
    b, a = np.polyfit(x, y, 1)
    res = y - (a + b * x)
    tot = ((y - y.mean()) ** 2).sum()
    return {"slope_per_doubling": float(b), "at_1x": float(a), "r2": float(1 - (res ** 2).sum() / tot) if tot else 1.0}


def run_downstream(synthetic: LabelledImages | None, real_train: LabelledImages, test: LabelledImages,
                   s: DownstreamSettings,
                   threshold: float = 1.0, cache: Path | None = None,
                   progress: Callable[[str], None] | None = None, workers: int | None = None,
                   device: str = "cpu", val: LabelledImages | None = None,
                   baselines: dict[str, LabelledImages | WorldSlice] | None = None, ddp=None) -> dict:
    """All trainings of one protocol: synthetic at each scale, real + synthetic, real only (1x) and the real-only
    `baselines` (name -> real images, e.g. the mixed run's total size, the generator's real budget).

    Trainings run single-threaded (so a number never depends on how many ran at once), `workers` at a time in
    spawned processes (default: the CPU count, at most 4); on an accelerator (`device`) they run one after
    another in this process; under `ddp` (bench.downstream.distributed) every process runs each training, split
    by rank. Returns {"synthetic": {scale_name: {kind: [per-seed]}}, "mixed": {kind: [...]},
    "real": {kind: [...]}, "baselines": {name: {"n": images, kind: [...]}}} (synthetic/mixed absent without
    `synthetic`), plus "trivial" (test-set trivial baselines)."""
    n1 = len(real_train)
    groups: dict[str, LabelledImages] = {"real": real_train}
    one_seed: dict[str, int] = {}  # replicate groups (world-v3 on): block r trains with seeds[r] only
    if synthetic is not None:
        blocks = replicate_blocks(synthetic, s, n1)
        for r, block in enumerate(blocks):
            tag = "" if s.replicates is None else f"@{r}"
            for c in s.scales:
                k = int(round(c * n1))
                if k < 1:
                    raise ValueError(f"scale {c} of {n1} real images is empty")
                groups[scale_name(c) + tag] = block.take(k)
            groups["mixed" + tag] = LabelledImages.concat(real_train, block.take(int(round(s.mixed_scale * n1))))
            if tag:
                one_seed.update({g: s.seeds[r] for g in (*(scale_name(c) + tag for c in s.scales), "mixed" + tag)})
    for name, data in (baselines or {}).items():
        groups[f"baseline:{name}"] = data
    dev_key = device_label(device, ddp)  # what the cache entries are kept apart by
    for g, data in groups.items():  # world faces rendered only where a training of theirs is not cached
        if isinstance(data, WorldSlice) and any(
                not _path((data, test, s, seed, threshold, cache or cache_dir(), val), dev_key).is_file()
                for seed in s.seeds):
            groups[g] = data.load()
    jobs = [(g, seed) for g in groups for seed in ((one_seed[g],) if g in one_seed else s.seeds)]
    first: dict[tuple[str, int], int] = {}  # the same images and seed under two names (e.g. real 1x and the real
    #                                          curve's 400) train once
    for i, (g, seed) in enumerate(jobs):
        first.setdefault((groups[g].key, seed), i)
    uniq = sorted(set(first.values()))
    ran = _run_jobs([(groups[jobs[i][0]], test, s, jobs[i][1], threshold, cache, val) for i in uniq], workers,
                    progress, [f"downstream {jobs[i][0]} seed {jobs[i][1]} ({len(groups[jobs[i][0]])} images)"
                               for i in uniq], device, ddp)
    by_job = dict(zip(uniq, ran))
    got = [by_job[first[(groups[g].key, seed)]] for g, seed in jobs]
    ks = (*kinds(s), *(TASK_FIELDS if s.tasks is not None else ()))
    per = {g: {k: [got[i][k] for i, (g2, _) in enumerate(jobs) if g2 == g] for k in ks} for g in groups}
    out: dict = {"real": per["real"], "trivial": trivial_baselines(test, s, threshold)}
    if synthetic is not None:
        if s.replicates is None:
            out["synthetic"] = {scale_name(c): per[scale_name(c)] for c in s.scales}
            out["mixed"] = per["mixed"]
        else:  # [replicate] lists in the place of [seed] ones
            reps = range(s.replicates)
            out["synthetic"] = {scale_name(c): {k: [per[f"{scale_name(c)}@{r}"][k][0] for r in reps] for k in ks}
                                for c in s.scales}
            out["mixed"] = {k: [per[f"mixed@{r}"][k][0] for r in reps] for k in ks}
    if baselines:
        out["baselines"] = {name: {"n": len(data), **per[f"baseline:{name}"]} for name, data in baselines.items()}
    if synthetic is not None and val is not None and s.replicates is None:
        paths = [_path((groups[g], test, s, seed, threshold, cache or cache_dir(), val), dev_key).with_suffix(".npz")
                 for g, seed in jobs]
        out["predictions"] = pack_predictions([[np.load(paths[jobs.index((scale_name(c), seed))])
                                                for seed in s.seeds] for c in s.scales])
    return out


def area_under_log_curve(scales: list[float], values: list[float]) -> float:
    """Trapezoid area of values over log2(scale), divided by the log2 range: the curve's mean height (a single
    scale: its value). NaN if any value is."""
    x, y = np.log2(np.asarray(scales, np.float64)), np.asarray(values, np.float64)
    if len(x) == 1:
        return float(y[0])
    order = np.argsort(x)
    x, y = x[order], y[order]
    return float(((y[1:] + y[:-1]) / 2 * np.diff(x)).sum() / (x[-1] - x[0]))


def training_values(raw: dict, s: DownstreamSettings) -> list[float]:
    """Per seed: the area under the utility curve over the protocol's scales (`area_under_log_curve`)."""
    per_scale = [raw["synthetic"][scale_name(c)]["utility"] for c in s.scales]  # [scale][seed]
    return [area_under_log_curve(list(s.scales), [v[i] for v in per_scale]) for i in range(len(s.seeds))]


def _single_threaded(args) -> dict[str, float]:
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run(args)
    finally:
        torch.set_num_threads(n)


def _run(args: tuple, device: str = "cpu") -> dict[str, float]:
    """run_one of a job tuple (data, test, s, seed, threshold, cache[, val])."""
    data, test, s, seed, threshold, cache, *rest = args
    return run_one(data, test, s, seed, threshold, cache, device, rest[0] if rest else None)


def _path(args: tuple, device: str = "cpu") -> Path:
    data, test, s, seed, threshold, cache, *rest = args
    return cache_path(data, test, s, seed, threshold, cache, device, rest[0] if rest else None)


def _run_jobs(jobs: list[tuple], workers: int | None, progress, labels: list[str],
              device: str = "cpu", ddp=None) -> list[dict[str, float]]:
    workers = workers or min(4, os.cpu_count() or 1)
    jobs = [(*a[:5], a[5] or cache_dir(), *a[6:]) for a in jobs]  # resolved here: a kept-alive worker's env may
    #                                                                  be stale
    if ddp is not None:
        return _run_jobs_ddp(jobs, progress, labels, device, ddp)
    todo = [i for i, a in enumerate(jobs) if not _path(a, device).is_file()]
    small = sum(jobs[i][2].steps_for(len(jobs[i][0])) for i in todo) < 1000  # a process pool costs seconds to
    #                                                                           start: not worth it
    if device != "cpu" or workers <= 1 or len(todo) <= 1 or small:  # one after another, here
        out = []
        for a, label in zip(jobs, labels):
            if progress:
                progress(label)
            out.append(_run(a, device) if device != "cpu" else _single_threaded(a))
        return out
    out: list = [None] * len(jobs)
    pool = spawned_pool(workers)
    futs = {i: pool.submit(_single_threaded, jobs[i]) for i in todo}
    try:
        for i, a in enumerate(jobs):
            out[i] = futs[i].result() if i in futs else _run(a)
            if progress:
                progress(labels[i] + " done")
    except BaseException:
        for fut in futs.values():  # queued trainings of a failed run must not hold the (kept-alive) pool
            fut.cancel()
        raise
    return out


def _run_jobs_ddp(jobs: list[tuple], progress, labels: list[str], device: str, ddp) -> list[dict[str, float]]:
    """Every process trains each job not cached when they all started (decided before anyone writes), one after
    another; the first process evaluates and writes; then all read the cache."""
    label = device_label(device, ddp)
    todo = [i for i, a in enumerate(jobs) if not _path(a, label).is_file()]
    ddp.wait_for_everyone()
    for i in todo:
        if progress and ddp.is_main_process:
            progress(labels[i])
        data, test, s, seed, threshold, cache, *rest = jobs[i]
        run_one(data, test, s, seed, threshold, cache, device, rest[0] if rest else None, ddp)
    ddp.wait_for_everyone()
    return [json.loads(_path(a, label).read_text()) for a in jobs]


def downstream_metrics(raw: dict, s: DownstreamSettings, family: str = "downstream") -> dict[str, dict]:
    """Results-JSON metric entries from `run_downstream` output (values: seed means; ci95 over seeds, Student t).
    Raw metrics carry the test set's trivial baselines; mixed runs carry real-only at 1x and, where trained, real
    only at the same total size; the training value carries the real-only baselines (e.g. the real budget)."""
    from bench.core.results import metric

    out = {}
    n = len(s.seeds)
    trivial = raw.get("trivial", {})
    base = raw.get("baselines", {})
    for c in s.scales:
        for k in kinds(s):
            v = raw["synthetic"][scale_name(c)][k]
            m, ci = seed_ci(v)
            extra = {"trivial": trivial[k]} if k in trivial and s.val is not None else {}
            out[f"downstream_{k}_{scale_name(c)}"] = metric(m, n, True, family, ci, per_seed=v, **extra)
    for k in kinds(s):
        m, ci = seed_ci(raw["mixed"][k])
        real_m, real_ci = seed_ci(raw["real"][k])
        extra = {}
        if "same_size" in base:  # the fair bar: as many real images as the mixed run holds in all
            same, same_ci = seed_ci(base["same_size"][k])
            extra = {"real_same_size": same, "real_same_size_ci95": list(same_ci) if same_ci else None,
                     "real_same_size_n": base["same_size"]["n"], "gain_vs_real_same_size": m - same}
        out[f"downstream_{k}_mixed"] = metric(m, n, True, family, ci, per_seed=raw["mixed"][k], real_only=real_m,
                                              real_only_ci95=list(real_ci) if real_ci else None, **extra)
        fit = loglinear_fit(s.scales, [raw["synthetic"][scale_name(c)][k] for c in s.scales])
        out[f"downstream_{k}_slope"] = metric(fit["slope_per_doubling"], n * len(s.scales), True, family,
                                              fit_at_1x=fit["at_1x"], r2=fit["r2"])
    if s.val is not None and s.tasks is None:
        tv = training_values(raw, s)
        m, ci = seed_ci(tv)
        bars = {name: {"n": b["n"], "utility": seed_ci(b["utility"])[0], "per_seed": b["utility"]}
                for name, b in base.items()}
        largest = scale_name(max(s.scales))
        out["downstream_training_value"] = metric(
            m, n, True, family, ci, per_seed=tv, scales=list(s.scales),
            definition="mean over seeds of the area under utility (mean of expression and AU kappa, of those the "
                       "test set labels) over log2(scale), divided by the log2 range",
            real_only_1x_utility=seed_ci(raw["real"]["utility"])[0], largest_scale_utility=seed_ci(
                raw["synthetic"][largest]["utility"])[0], real_baselines=bars,
            **({"test_predictions": raw["predictions"]} if "predictions" in raw else {}))
    return out
