"""Coverage of the benchmark's intervals where the truth is known (docs/intervals.md).

    augen study coverage --out reports/coverage [--draws 500] [--world-draws 300] [--world-n 1000]

Many pairs of sets are drawn from distributions whose population values are known; each pair gets its intervals
computed as the scorer computes them (the protocol's bootstrap settings: 200 resamples, alpha 0.05, here seeded
by the draw), and we count how often each interval covers the truth. Every interval method is measured, the
scored ones and the alternatives (and the intervals the scorer used before, marked "before"), so the table shows
why each metric uses the method it does.

(a) Gaussians. Population FD is closed form, as is the population MMD^2 with KID's kernel (x.y/d + 1)^3
    (`gaussian_kid`, from Gaussian moments up to order 3 of each side); E[FD_n], what FD of two sets of the
    drawn sizes averages to, is the mean over `truth_draws` independent redraws.
(b) World judge features. Pools of world *test* images read by the world judge (computed once, cached in
    $AUGEN_CACHE through bench.judges.cache): real images, and blurred images of other identities' samples. A set
    is drawn from a pool *with replacement*, so the pool is the population: population FD from the pools'
    moments, population MMD^2 from the pools' mean kernel values, E[FD_n] from redraws.
(c) Cohen's kappa of claimed-vs-judge occurrence, the row bootstrap percentile interval of the mean over columns
    of `kappa_per_column` (as the scorer bootstraps alignment metrics): simulated labels with a known population
    kappa, and world rows (true AU occurrence vs the judge's reading of real or blurred images; the pool's kappa
    is the truth).

Writes <out>.md (the table) and <out>.png (the figure).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.core.atomic import atomic_write_text
from bench.metrics import alignment as A
from bench.metrics import realism as R
from bench.metrics.stats import (
    METHODS,
    bootstrap_ci,
    bootstrap_ci_counts,
    bootstrap_counts,
    clopper_pearson,
    group_weights,
    interval,
    two_sample_counts,
)

Draw = Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray]]  # rng -> (reference, generated) rows

BEFORE = "before: "  # label prefix of the intervals the scorer used until these were measured


# ------------------------------------------------------------------------------------------------ truths


def _third_moment(m: np.ndarray, s: np.ndarray) -> np.ndarray:
    """E[x_i x_j x_k] (d, d, d) for x ~ N(m, s)."""
    return (np.einsum("i,j,k->ijk", m, m, m) + np.einsum("i,jk->ijk", m, s) + np.einsum("j,ik->ijk", m, s)
            + np.einsum("k,ij->ijk", m, s))


def _mean_kernel(ma: np.ndarray, sa: np.ndarray, mb: np.ndarray, sb: np.ndarray) -> float:
    """E[(a.b/d + 1)^3] for independent a ~ N(ma, sa), b ~ N(mb, sb):
    E[(a.b)^3]/d^3 + 3 E[(a.b)^2]/d^2 + 3 E[a.b]/d + 1 with E[(a.b)^2] = tr(E[aa^T] E[bb^T]) and
    E[(a.b)^3] = <E[a (x) a (x) a], E[b (x) b (x) b]>."""
    d = len(ma)
    e1 = float(ma @ mb)
    e2 = float(np.trace((sa + np.outer(ma, ma)) @ (sb + np.outer(mb, mb))))
    e3 = float((_third_moment(ma, sa) * _third_moment(mb, sb)).sum())
    return e3 / d ** 3 + 3.0 * e2 / d ** 2 + 3.0 * e1 / d + 1.0


def gaussian_kid(m1: np.ndarray, s1: np.ndarray, m2: np.ndarray, s2: np.ndarray) -> float:
    """Population MMD^2 with KID's kernel (x.y/d + 1)^3 between N(m1, s1) and N(m2, s2) (closed form)."""
    return (_mean_kernel(m1, s1, m1, s1) + _mean_kernel(m2, s2, m2, s2)
            - 2.0 * _mean_kernel(m1, s1, m2, s2))


def population_kappa(base_rate: np.ndarray, hit_rate: np.ndarray, false_rate: np.ndarray) -> np.ndarray:
    """Cohen's kappa per column (K,) of labels t ~ Bernoulli(base_rate) and readings p with P(p | t) = hit_rate,
    P(p | not t) = false_rate: (p_o - p_e) / (1 - p_e) of the joint distribution."""
    q = base_rate * hit_rate + (1 - base_rate) * false_rate  # P(p)
    po = base_rate * hit_rate + (1 - base_rate) * (1 - false_rate)
    pe = base_rate * q + (1 - base_rate) * (1 - q)
    return (po - pe) / (1 - pe)


def draw_labels(rng: np.random.Generator, n: int, base_rate: np.ndarray, hit_rate: np.ndarray,
                false_rate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(claimed (n, K), judged (n, K)) 0/1 labels of the model of `population_kappa`."""
    t = rng.random((n, len(base_rate))) < base_rate
    p = np.where(t, rng.random(t.shape) < hit_rate, rng.random(t.shape) < false_rate)
    return t.astype(np.float64), p.astype(np.float64)


def pool_moments(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, covariance) of a pool as a population (the 1/N covariance of its empirical distribution)."""
    mu, cov = R.feature_stats(f)
    return mu, cov * (len(f) - 1) / len(f)


def pool_kid(f1: np.ndarray, f2: np.ndarray) -> float:
    """Population MMD^2 with KID's kernel between two pools' empirical distributions (rows drawn with
    replacement): mean kernel over all pairs, a row's pair with itself included."""
    def mean_k(x, y):
        return float(R.poly_kernel_sum(x, y, np.ones((1, len(x))), np.ones((1, len(y))), 2048)[0]) / (len(x) * len(y))
    x1, x2 = np.asarray(f1, np.float64), np.asarray(f2, np.float64)
    return mean_k(x1, x1) + mean_k(x2, x2) - 2.0 * mean_k(x1, x2)


def mean_fd(draw: Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray]], redraws: int, seed: int
            ) -> tuple[float, float]:
    """(mean, standard error) of FD over `redraws` independent draws of a set pair: E[FD_n]."""
    rng = np.random.default_rng(seed)
    v = np.array([R.fd_from_features(*draw(rng)) for _ in range(redraws)])
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(redraws))


# ---------------------------------------------------------------------------------------------- trials


@dataclass
class Tally:
    """Intervals of one (setting, metric, method, target) over the draws."""

    setting: str
    metric: str
    method: str
    target: str
    truth: float
    covered: int = 0
    draws: int = 0
    undefined: int = 0  # draws without an interval (BCa with every replicate on one side of the estimate)
    widths: list[float] = field(default_factory=list)
    estimates: list[float] = field(default_factory=list)

    def add(self, ci: tuple[float, float], estimate: float) -> None:
        lo, hi = ci
        self.draws += 1
        self.undefined += not (np.isfinite(lo) and np.isfinite(hi))
        self.covered += bool(lo <= self.truth <= hi)
        self.widths.append(hi - lo)
        self.estimates.append(estimate)

    @property
    def coverage(self) -> float:
        return self.covered / self.draws

    def coverage_ci(self, level: float = 0.95) -> tuple[float, float]:
        """Clopper-Pearson interval of the coverage."""
        return clopper_pearson(self.covered, self.draws, 1 - level)


@dataclass
class Setting:
    """Set pairs of one setting: how to draw them and the population values they are drawn from."""

    name: str
    draw: Draw
    fd: float  # population FD
    fd_n: float  # E[FD_n], mean over redraws
    kid: float  # population MMD^2 with KID's kernel


def set_pair_coverage(s: Setting, draws: int, n_boot: int = 200, alpha: float = 0.05, boot_seed: int = 0,
                      kid_subsets: int = 100, seed: int = 0, log=print, fd: bool = True) -> list[Tally]:
    """Every FD (unless not `fd`) and KID interval over `draws` set pairs of a setting, with the protocol's
    bootstrap settings (n_boot, boot_seed, alpha; the data differ from draw to draw, the resampling seed does not,
    as in scoring). The "before" KID interval uses `kid_subsets` subsets of half the rows, as the protocol's 1000
    of 2000."""
    tallies: dict[tuple[str, str, str], Tally] = {}

    def tally(metric, method, target, truth) -> Tally:
        key = (metric, method, target)
        if key not in tallies:
            tallies[key] = Tally(s.name, metric, method, target, truth)
        return tallies[key]

    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    for r in range(draws):
        f1, f2 = s.draw(rng)
        n1, n2 = len(f1), len(f2)
        if fd:
            fd_pair(f1, f2, s, tally, n_boot, alpha, boot_seed)
        # KID: bootstrap replicates, the grouped jackknife and the complete U-statistic in one weighted pass
        w1, w2 = two_sample_counts(n1, n2, n_boot, boot_seed)
        g1, g2 = group_weights(n1, 20, boot_seed), group_weights(n2, 20, boot_seed + 1)
        v = R.mmd2_weighted(f1, f2, np.vstack([w1, g1, np.ones((len(g2) + 1, n1))]),
                            np.vstack([w2, np.ones((len(g1), n2)), g2, np.ones((1, n2))]))
        kreps, kjack, u = v[:n_boot], (v[n_boot:n_boot + len(g1)], v[n_boot + len(g1):-1]), float(v[-1])
        for method in METHODS:
            tally("KID", method, "population MMD^2", s.kid).add(interval(method, u, kreps, kjack, alpha), u)
        k, sd = R.kid(f1, f2, kid_subsets, min(n1, n2) // 2, seed=boot_seed)
        half = 1.96 * sd / np.sqrt(kid_subsets)
        tally("KID", BEFORE + "mean +- 1.96 sd/sqrt(subsets)", "population MMD^2", s.kid).add((k - half, k + half), k)
        if (r + 1) % 50 == 0:
            log(f"  {s.name}: {r + 1}/{draws} draws, {time.perf_counter() - t0:.0f} s")
    return list(tallies.values())


def fd_pair(f1: np.ndarray, f2: np.ndarray, s: Setting, tally: Callable[..., Tally], n_boot: int, alpha: float,
            boot_seed: int) -> None:
    """Every FD interval of one set pair, tallied against the population FD and E[FD_n]."""
    fd = R.fd_from_features(f1, f2)
    reps, jack = R.fd_bootstrap(f1, f2, n_boot, boot_seed), R.fd_jackknife(f1, f2, seed=boot_seed)
    for method in METHODS:
        ci = interval(method, fd, reps, jack, alpha)
        tally("FD", method, "population FD", s.fd).add(ci, fd)
        tally("FD", method, "E[FD_n]", s.fd_n).add(ci, fd)
    before = bootstrap_ci(R.fd_against(f1), f2, n_boot=n_boot, seed=boot_seed, alpha=alpha)
    tally("FD", BEFORE + "percentile, generated rows only", "population FD", s.fd).add(before, fd)
    tally("FD", BEFORE + "percentile, generated rows only", "E[FD_n]", s.fd_n).add(before, fd)


def kappa_coverage(name: str, draw: Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray]], truth: float,
                   draws: int, n_boot: int = 200, alpha: float = 0.05, boot_seed: int = 0, seed: int = 0) -> Tally:
    """The row bootstrap percentile interval of mean kappa over `draws` label sets, computed as the scorer computes
    it (`bench.scoring.alignment.mean_kappa_ci`: row counts of `bootstrap_ci`'s resamples)."""
    out = Tally(name, "kappa", "percentile (rows)", "population kappa", truth)
    rng = np.random.default_rng(seed)
    w = None
    for _ in range(draws):
        t, p = draw(rng)
        if w is None or w.shape[1] != len(t):
            w = bootstrap_counts(len(t), n_boot, boot_seed)
        out.add(bootstrap_ci_counts(A.mean_kappa_resampled, t, p, w=w, alpha=alpha),
                A.nanmean(A.kappa_per_column(t, p)))
    return out


# ------------------------------------------------------------------------------------------- settings


def gaussian_setting(d: int, n: int, shift: float | None, truth_draws: int = 2000, seed: int = 0) -> Setting:
    """Reference N(0, I) vs generated N(shift, A A^T), A = I + 0.3 G / sqrt(d) (G standard normal, seed 5);
    shift None: both N(0, I) (the null, population FD = MMD^2 = 0). n rows each."""
    m1, s1 = np.zeros(d), np.eye(d)
    if shift is None:
        m2, s2, name = m1, s1, f"Gaussian d={d} n={n}, same distribution"
    else:
        a = np.eye(d) + 0.3 * np.random.default_rng(5).normal(size=(d, d)) / np.sqrt(d)
        m2, s2, name = np.full(d, shift), a @ a.T, f"Gaussian d={d} n={n}, shifted {shift}"
    l2 = np.linalg.cholesky(s2)

    def draw(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return rng.normal(size=(n, d)) + m1, rng.normal(size=(n, d)) @ l2.T + m2

    return Setting(name, draw, R.frechet_distance(m1, s1, m2, s2), mean_fd(draw, truth_draws, seed + 10_000)[0],
                   gaussian_kid(m1, s1, m2, s2))


def pool_setting(name: str, ref: np.ndarray, gen: np.ndarray, n: int, truth_draws: int, seed: int = 0,
                 fd: bool = True) -> Setting:
    """Sets of n rows drawn with replacement from two feature pools (the same pool twice for real vs real); without
    `fd` the FD truths are not computed (NaN)."""
    ref, gen = np.asarray(ref, np.float64), np.asarray(gen, np.float64)

    def draw(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return ref[rng.integers(0, len(ref), n)], gen[rng.integers(0, len(gen), n)]

    if not fd:
        return Setting(name, draw, float("nan"), float("nan"), pool_kid(ref, gen))
    keep = R.informative_columns(ref, gen)  # units dead in both pools add exactly 0 (and rounding without this)
    fd = R.frechet_distance(*pool_moments(ref[:, keep]), *pool_moments(gen[:, keep]))
    return Setting(name, draw, fd, mean_fd(draw, truth_draws, seed + 10_000)[0], pool_kid(ref, gen))


def world_pool(judge, start: int, n: int, blur: float = 0.0, image_size: int = 64, seed: int = 0
               ) -> dict[str, np.ndarray]:
    """World test samples [start, start + n) read by `judge` (blurred by a Gaussian of `blur` px first if > 0):
    features (n, D), au_prob (n, 17), and the samples' true AU intensities aus (n, 17); cached per judge."""
    from bench.generation.faults import gaussian_blur
    from bench.judges.cache import cached
    from bench.world.make import WORLD_VERSION
    from bench.world.params import WorldConfig, sample_params
    from bench.world.render import render

    cfg = WorldConfig(seed=seed, image_size=image_size)
    key = f"coverage-world{WORLD_VERSION}-s{seed}-{image_size}px-test-{start}-{start + n}-blur{blur:g}"

    def compute() -> dict[str, np.ndarray]:
        parts: dict[str, list[np.ndarray]] = {}
        for lo in range(start, start + n, 1024):
            p = sample_params(cfg, "test", np.arange(lo, min(start + n, lo + 1024)))
            images = render(p, image_size)
            if blur > 0:
                images = np.stack([gaussian_blur(im, blur) for im in images])
            out = judge(images)
            for k, v in (("features", out["features"]), ("au_prob", out["au_prob"]), ("aus", p.aus)):
                parts.setdefault(k, []).append(np.asarray(v))
        return {k: np.concatenate(v) for k, v in parts.items()}

    return cached(key, judge.id, compute)


def row_draw(t: np.ndarray, p: np.ndarray, n: int) -> Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray]]:
    """n rows drawn with replacement from aligned label arrays (N, K)."""
    def draw(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        idx = rng.integers(0, len(t), n)
        return t[idx], p[idx]
    return draw


# --------------------------------------------------------------------------------------------- report


SCORED = {("FD", R.FD_CI_METHOD), ("KID", R.KID_CI_METHOD), ("kappa", "percentile (rows)")}


def markdown(tallies: list[Tally], header: list[str]) -> str:
    lines = [*header, "",
             "| setting | metric | interval | target (truth) | draws | coverage | 95% CI of coverage "
             "| no interval | mean width / (3.92 sd of the estimate) |", "|---|---|---|---|---:|---:|---|---:|---:|"]
    for t in tallies:
        lo, hi = t.coverage_ci()
        sd = float(np.std(t.estimates, ddof=1)) if t.draws > 1 else float("nan")
        w = np.array(t.widths)
        ratio = np.mean(w[np.isfinite(w)]) / (3.92 * sd) if sd > 0 and np.isfinite(w).any() else float("nan")
        method = f"**{t.method}** (scored)" if (t.metric, t.method) in SCORED else t.method
        lines.append(f"| {t.setting} | {t.metric} | {method} | {t.target} ({t.truth:.4g}) | {t.draws} | "
                     f"{t.coverage:.3f} | {lo:.3f}-{hi:.3f} | {t.undefined} | {ratio:.2f} |")
    return "\n".join(lines) + "\n"


def figure(tallies: list[Tally], path: Path) -> None:
    """One panel per metric: coverage of the population value by each interval method, per setting, with the
    Clopper-Pearson 95% CI over draws; the band is 0.93-0.97 around the nominal 0.95."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [t for t in tallies if t.target != "E[FD_n]"]
    metrics = list(dict.fromkeys(t.metric for t in shown))
    settings = {m: list(dict.fromkeys(t.setting for t in shown if t.metric == m)) for m in metrics}
    fig, axes = plt.subplots(len(metrics), 1, figsize=(11, 1.4 + sum(0.55 * len(v) + 0.6 for v in settings.values())),
                             gridspec_kw={"height_ratios": [len(settings[m]) for m in metrics]}, squeeze=False)
    for ax, m in zip(axes[:, 0], metrics):
        rows = [t for t in shown if t.metric == m]
        methods = list(dict.fromkeys(t.method for t in rows))
        for k, method in enumerate(methods):
            off = (k - (len(methods) - 1) / 2) * 0.8 / max(len(methods), 1)
            scored = (m, method) in SCORED
            for t in (t for t in rows if t.method == method):
                y = len(settings[m]) - 1 - settings[m].index(t.setting) + off
                lo, hi = t.coverage_ci()
                ax.errorbar(t.coverage, y, xerr=[[t.coverage - lo], [hi - t.coverage]], fmt="o", ms=4,
                            color=f"C{k}", mfc=f"C{k}" if scored else "white",
                            label=(method + (" (scored)" if scored else "")))
        handles, labels = ax.get_legend_handles_labels()
        keep = dict(zip(labels, handles))
        ax.legend(keep.values(), keep.keys(), fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax.axvspan(0.93, 0.97, color="tab:green", alpha=0.15)
        ax.axvline(0.95, color="tab:green", lw=1)
        ax.set_yticks(range(len(settings[m])), settings[m][::-1], fontsize=7)
        ax.set_xlim(-0.02, 1.02)
        ax.set_title(f"{m}: coverage of the population value", fontsize=9)
    axes[-1, 0].set_xlabel("share of draws whose nominal 95% interval covers the truth (bars: 95% CI)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)


# ----------------------------------------------------------------------------------------------- main


@dataclass(frozen=True)
class Task:
    """One setting's coverage run (picklable, so settings run in parallel processes)."""

    kind: str  # gaussian | labels | world | world-kid | world-kappa
    draws: int
    truth_draws: int = 1000
    d: int = 0  # gaussian: feature width
    n: int = 0  # rows per set
    shift: float | None = None  # gaussian: None = same distribution
    pool: int = 0  # world: images per pool
    blur: float = 0.0  # world: blur of the generated side's pool (0: real vs real)


LABEL_RATES = (np.array([0.3, 0.5]), np.array([0.85, 0.8]), np.array([0.1, 0.2]))  # base, hit, false-alarm rates


def run_task(task: Task) -> list[Tally]:
    """The tallies of one task; world pools come from the cache (`world_pool` fills it first)."""
    t0 = time.perf_counter()
    if task.kind == "gaussian":
        s = gaussian_setting(task.d, task.n, task.shift, task.truth_draws)
        out = set_pair_coverage(s, task.draws)
    elif task.kind == "labels":
        truth = float(population_kappa(*LABEL_RATES).mean())
        out = [kappa_coverage(f"simulated labels, 2 columns, n={task.n}",
                              lambda rng: draw_labels(rng, task.n, *LABEL_RATES), truth, task.draws)]
    else:
        from bench.judges import build_judge

        judge = build_judge("world", {})
        real = world_pool(judge, 0, task.pool)
        other = world_pool(judge, task.pool, task.pool, blur=task.blur) if task.blur > 0 else real
        what = f"blurred {task.blur:g} px" if task.blur > 0 else "real"
        if task.kind == "world":
            s = pool_setting(f"world judge, real vs {what}, n={task.n}", real["features"], other["features"],
                             task.n, task.truth_draws)
            out = set_pair_coverage(s, task.draws)
        elif task.kind == "world-kid":  # KID alone is cheap: many more draws, a tight estimate of its coverage
            s = pool_setting(f"world judge, real vs {what}, n={task.n}, KID only", real["features"],
                             other["features"], task.n, 0, seed=1, fd=False)
            out = set_pair_coverage(s, task.draws, seed=1, fd=False)
        else:
            t = (other["aus"] >= 1.0).astype(np.float64)
            p = (other["au_prob"] >= 0.5).astype(np.float64)
            out = [kappa_coverage(f"world, true AUs vs judge on {what} images, 17 AUs, n={task.n}",
                                  row_draw(t, p, task.n), A.nanmean(A.kappa_per_column(t, p)), task.draws)]
    print(f"{out[0].setting}: {time.perf_counter() - t0:.0f} s", flush=True)
    return out


def run(out: Path, draws: int, world_draws: int, world_n: int, pool_size: int, blur: float, truth_draws: int,
        jobs: int = 1, log=print, kid_draws: int = 2000) -> list[Tally]:
    """Every setting's coverage (in `jobs` processes), then <out>.md and <out>.png."""
    from concurrent.futures import ProcessPoolExecutor

    from bench.judges import build_judge

    t0 = time.perf_counter()
    judge = build_judge("world", {})
    world_pool(judge, 0, pool_size)
    world_pool(judge, pool_size, pool_size, blur=blur)  # other samples than the real pool's
    log(f"world pools ({pool_size} real, {pool_size} blurred {blur:g} px): {time.perf_counter() - t0:.0f} s")
    tasks = [Task("world", world_draws, truth_draws, n=world_n, pool=pool_size, blur=blur),
             Task("world", world_draws, truth_draws, n=world_n, pool=pool_size),
             Task("gaussian", draws, truth_draws, d=64, n=500, shift=0.05),
             Task("world-kappa", world_draws, n=2000, pool=pool_size),
             Task("world-kappa", world_draws, n=2000, pool=pool_size, blur=blur),
             Task("gaussian", draws, truth_draws, d=8, n=300, shift=0.2),
             Task("gaussian", draws, truth_draws, d=8, n=300),
             Task("labels", draws, n=400),
             Task("world-kid", kid_draws, n=world_n, pool=pool_size, blur=blur)]
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as ex:
            results = list(ex.map(run_task, tasks))
    else:
        results = [run_task(t) for t in tasks]
    order = [6, 5, 2, 7, 1, 0, 8, 3, 4]  # Gaussians, simulated labels, then the world
    tallies = [t for k in order for t in results[k]]
    seconds = time.perf_counter() - t0
    header = [
        "# Interval coverage", "",
        f"Written by `augen study coverage --out {out.as_posix()} --draws {draws} --world-draws "
        f"{world_draws} --kid-draws {kid_draws} --world-n {world_n} --pool {pool_size} --blur {blur:g} "
        f"--jobs {jobs}` in "
        f"{seconds / 60:.1f} min ({jobs} processes). What each interval resamples and targets: "
        "[docs/intervals.md](../docs/intervals.md).", "",
        "Each row: how often the nominal 95% interval (200 bootstrap resamples, seed 0, as the protocol) covers "
        "the truth over independent draws of the data; the 95% CI of that share is Clopper-Pearson (binomial SE "
        f"at 0.95: {np.sqrt(0.95 * 0.05 / draws):.3f} for {draws} draws, {np.sqrt(0.95 * 0.05 / world_draws):.3f} "
        f"for {world_draws}, {np.sqrt(0.95 * 0.05 / kid_draws):.3f} for {kid_draws}). Targets: the population value "
        "(closed form for Gaussians; for world sets, drawn with replacement from a pool, the pool's own value) "
        "and, for FD, also E[FD_n] (mean FD over "
        f"{truth_draws} redraws of the same sizes). Last column: the interval's mean width over 3.92 times the "
        "estimate's sd across draws (about 1 for a well-sized interval around an unbiased estimate).",
    ]
    atomic_write_text(out.with_suffix(".md"), markdown(tallies, header))
    figure(tallies, out.with_suffix(".png"))
    log(f"wrote {out.with_suffix('.md')} and {out.with_suffix('.png')} in {seconds:.0f} s")
    return tallies


def run_study(a) -> int:
    """`augen study coverage` (its arguments: bench.cli.study): every setting's draws, then <out>.md and <out>.png."""
    run(Path(a.out), a.draws, a.world_draws, a.world_n, a.pool, a.blur, a.truth_draws, a.jobs,
        kid_draws=a.kid_draws)
    return 0
