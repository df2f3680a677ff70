"""Honesty checks of the meta-evaluation (bench.studies.metaeval), each a pure function of filed results:

- every scale of each downstream kind side by side (0.5x, 1x, 2x, 5x, mixed, slope): the scales do not repeat
  one another, so none is left out of the correlations;
- leave one fault out: the main metrics' Kendall taus recomputed with one fault's variants (all its levels)
  removed, for every fault in turn, and the same for the coarse fault families (image, label, ...), so a reader
  sees whether one fault drives a conclusion;
- the board's real generators (the protocol's filed leaderboard results, controls left out) beside the fault
  variants, never mixed into their taus: their training value, the cheap metrics and the Kendall tau among them
  alone (n is tiny: it proves nothing);
- the top of the variants' board: train copies lead it, so training value alone would crown a retrieval
  generator.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from scipy import stats

from bench.generation.controls import CONTROL_NAMES
from bench.generation.faults import FAULTS

DOWNSTREAM = re.compile(r"^downstream_(?P<kind>.+)_(?P<sfx>\d+(?:\.\d+)?x|mixed|slope)$")
COARSE = ("image", "label", "distribution", "memorization", "mixture")  # FaultSpec.family, in report order


def signed(entry: dict) -> float:
    """A results metric entry's value with its direction applied (higher = better); NaN when missing."""
    v = entry.get("value")
    if v is None:
        return math.nan
    return float(v) if entry["higher_is_better"] else -float(v)


def values(board: dict[str, dict], names: Sequence[str], metric: str) -> np.ndarray:
    """Direction-applied values of `metric` for the entries `names` of `board` ({entry: results}); NaN if absent."""
    return np.array([signed(board[n]["metrics"][metric]) if metric in board[n]["metrics"] else math.nan
                     for n in names])


def kendall(x: np.ndarray, y: np.ndarray) -> tuple[float, float, int]:
    """(Kendall tau-b, its scipy p-value, n) over the pairs where both are finite; NaNs under 3 pairs or when
    either ranking is all ties."""
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan, math.nan, int(len(x))
    r = stats.kendalltau(x, y)
    return float(r.statistic), float(r.pvalue), int(len(x))


def fmt(v: float | None, digits: int = 3) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{v:+.{digits}f}"


def number(v: float | None) -> str:
    """A raw metric value for a table cell: 4 significant figures, n/a when missing."""
    return "n/a" if v is None or not math.isfinite(v) else f"{v:.4g}"


# -- every scale of the downstream kinds ---------------------------------------------------------------------------


def suffix_key(sfx: str) -> tuple[int, float, str]:
    """Scales in increasing order, then mixed, then slope."""
    if sfx.endswith("x"):
        return 0, float(sfx[:-1]), sfx
    return 1 if sfx == "mixed" else 2, 0.0, sfx


def downstream_kinds(names: Sequence[str]) -> dict[str, list[str]]:
    """{kind: its suffixes in order} of the downstream metrics among `names` (downstream_<kind>_<suffix>)."""
    out: dict[str, list[str]] = {}
    for n in sorted(names):
        m = DOWNSTREAM.match(n)
        if m:
            out.setdefault(m["kind"], []).append(m["sfx"])
    return {k: sorted(v, key=suffix_key) for k, v in sorted(out.items())}


def scale_blocks(taus: dict[str, float], definition: str | None = None) -> list[tuple]:
    """The section with every downstream kind's tau at every scale ({metric: tau} of the correlation table;
    `definition`: the training value's, when the results give one)."""
    kinds = downstream_kinds(list(taus))
    if not kinds:
        return []
    sfxs = sorted({s for v in kinds.values() for s in v}, key=suffix_key)
    scales = [s for s in sfxs if s.endswith("x")]
    rows, spreads = [], []
    for kind, have in kinds.items():
        cells = [fmt(taus[f"downstream_{kind}_{s}"]) if s in have else "-" for s in sfxs]
        at = {s: taus[f"downstream_{kind}_{s}"] for s in scales if s in have
              and math.isfinite(taus[f"downstream_{kind}_{s}"])}
        best = max(at.items(), key=lambda kv: (kv[1], -suffix_key(kv[0])[1]))[0] if at else None
        if len(at) > 1:
            lo = min(at.items(), key=lambda kv: (kv[1], suffix_key(kv[0])[1]))[0]
            spreads.append((at[best] - at[lo], kind, lo, best, at[lo], at[best]))
        rows.append([f"`{kind}`", *cells, best or "n/a"])
    text = (f"Kendall tau-b with training value of each downstream kind at every scale ({', '.join(scales)}: "
            "sizes of the synthetic training set; mixed: real 1x plus synthetic; slope: gain per doubling of a "
            "log2-linear fit), the same numbers as the rows of the table above (their intervals are there).")
    spreads.sort(key=lambda t: (-t[0], t[1]))
    if spreads and spreads[0][0] > 0:
        w = spreads[0]
        text += (f" The scales do not repeat one another: across scales a kind's tau moves by "
                 f"{min(s[0] for s in spreads):.3f} to {w[0]:.3f} (most: `{w[1]}`, {w[4]:+.3f} at {w[2]} to "
                 f"{w[5]:+.3f} at {w[3]}).")
    elif spreads:
        text += " Every scale of every kind gives the same tau here."
    if definition:
        text += (f" Training value is the {definition}: the downstream scales are its own ingredients, so their "
                 "high taus are partly by construction; the question the meta-evaluation answers is which cheap "
                 "metrics track it.")
    return [("h", "Downstream kinds at every scale", 2), ("p", text),
            ("table", ["kind", *sfxs, "best scale"], rows)]


# -- leave one fault out ---------------------------------------------------------------------------------------------


def by_fault(results: dict) -> str:
    return results["generator"]["config"]["fault"]


def by_coarse_family(results: dict) -> str:
    return FAULTS[by_fault(results)].family


def groups(board: dict[str, dict], key: Callable[[dict], str] = by_fault) -> dict[str, list[str]]:
    """{group: its variants, sorted} of the variants `board` ({variant: results}), groups in FAULTS order."""
    order = {f: i for i, f in enumerate(FAULTS)} | {f: len(FAULTS) + i for i, f in enumerate(COARSE)}
    out: dict[str, list[str]] = {}
    for v in sorted(board):
        out.setdefault(key(board[v]), []).append(v)
    return dict(sorted(out.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


def leave_one_out(board: dict[str, dict], metrics: Sequence[str], utility: str,
                  key: Callable[[dict], str] = by_fault) -> dict[str, dict]:
    """For each group of variants (a fault by default): {"dropped": its variants, "kept": the others,
    "taus": {metric: Kendall tau-b with the utility over the kept variants}}."""
    out = {}
    for g, dropped in groups(board, key).items():
        kept = [v for v in sorted(board) if v not in dropped]
        y = values(board, kept, utility)
        out[g] = {"dropped": dropped, "kept": kept,
                  "taus": {m: kendall(values(board, kept, m), y)[0] for m in metrics}}
    return out


def moves(full: dict[str, float], loo: dict[str, dict]) -> dict[str, dict]:
    """Per metric: its lowest and highest tau over the leave-one-out sets (with the group left out), the largest
    |move| from the full tau and the group that causes it, and the groups whose removal flips the tau's sign."""
    out = {}
    for m, tau in full.items():
        got = [(d["taus"][m], g) for g, d in loo.items() if math.isfinite(d["taus"][m])]
        if not got or not math.isfinite(tau):
            out[m] = None
            continue
        big = max((abs(t - tau), g, t) for t, g in got)
        out[m] = {"min": min(got), "max": max(got), "move": big[2] - tau, "by": big[1],
                  "flips": [g for t, g in got if t * tau < 0]}
    return out


def loo_blocks(board: dict[str, dict], heads: list[tuple[str, str]], utility: str) -> list[tuple]:
    """The leave-one-fault-out section: main metrics (`heads`: (metric, label)), per fault and per coarse family."""
    metrics = [m for m, _ in heads]
    y = values(board, sorted(board), utility)
    full = {m: kendall(values(board, sorted(board), m), y)[0] for m in metrics}
    per_fault, per_family = leave_one_out(board, metrics, utility), leave_one_out(board, metrics, utility,
                                                                                   by_coarse_family)
    mf, mc = moves(full, per_fault), moves(full, per_family)
    rows = []
    for m, label in heads:
        a, c = mf[m], mc[m]
        if a is None:
            rows.append([f"`{m}`", label, fmt(full[m]), "n/a", "n/a", "n/a", "n/a"])
            continue
        rows.append([f"`{m}`", label, fmt(full[m]), f"{fmt(a['min'][0])} (no {a['min'][1]})",
                     f"{fmt(a['max'][0])} (no {a['max'][1]})", f"{fmt(a['move'])} (no {a['by']})",
                     f"{fmt(c['move'])} (no {c['by']})" if c else "n/a"])
    sizes = ", ".join(f"{g} {len(d['dropped'])}" for g, d in per_fault.items())
    text = [f"Each fault's variants (all its levels) left out in turn, {len(per_fault)} faults ({sizes} variants), "
            f"and the Kendall tau-b of the main metrics (the leaderboard's headline columns and each family's main "
            f"metric) with training value recomputed on the {len(board)} - k others (point estimates). Lowest and "
            "highest: the range of the tau over the leave-one-out sets; largest move: the tau without the fault "
            "that moves it most, minus the tau on all variants. The last column leaves out a whole coarse family "
            f"({', '.join(per_family)}) instead."]
    live = [(abs(v["move"]), m, v) for m, v in mf.items() if v]
    if live:
        big = max(live, key=lambda t: (t[0], t[1]))
        counts: dict[str, int] = {}
        for _, _, v in live:
            counts[v["by"]] = counts.get(v["by"], 0) + 1
        top = max(counts, key=lambda g: (counts[g], g))
        flips = [f"`{m}` (no {', no '.join(v['flips'])})" for _, m, v in live if v["flips"]]
        cflips = [f"`{m}` (no {', no '.join(v['flips'])})" for m, v in mc.items() if v and v["flips"]]
        cbig = max(((abs(v["move"]), m, v) for m, v in mc.items() if v), key=lambda t: (t[0], t[1]))
        text.append(f"The largest move of one fault: `{big[1]}`, {fmt(big[2]['move'])} without {big[2]['by']}; of "
                    f"one coarse family: `{cbig[1]}`, {fmt(cbig[2]['move'])} without {cbig[2]['by']}. "
                    f"The fault that moves a metric most is most often {top} ({counts[top]} of {len(live)} metrics). "
                    + (f"Leaving out one fault flips the sign of {', '.join(flips)}; a conclusion about these "
                       "rests on that fault." if flips else
                       "No fault's removal flips the sign of any main metric's tau.")
                    + (f" Leaving out a coarse family flips {', '.join(cflips)}." if cflips else
                       " Nor does leaving out a whole coarse family."))
        cheap = [m for m in metrics if not m.startswith("downstream_")]
        if cheap:
            text.append(closest_text(cheap, full, per_fault, dict(heads)))
    return [("h", "Does one fault drive it? Leave one fault out", 2), *[("p", t) for t in text],
            ("table", ["metric", "column", "tau, all variants", "lowest", "highest", "largest move",
                       "largest move, coarse family"], rows)]


def closest_text(cheap: list[str], full: dict[str, float], loo: dict[str, dict], labels: dict[str, str]) -> str:
    """Whether the cheap metric closest to training value stays the closest whichever fault is left out."""
    def best(taus: dict[str, float]) -> str | None:
        ok = [m for m in cheap if math.isfinite(taus[m])]
        return max(ok, key=lambda m: (taus[m], m)) if ok else None
    first = best(full)
    if first is None:
        return "No cheap metric has a tau."
    others = {g: best(d["taus"]) for g, d in loo.items()}
    lost = {g: b for g, b in others.items() if b != first}
    name = f"`{first}` ({labels.get(first, first)})"
    if not lost:
        return f"The cheap (non-downstream) metric closest to training value, {name}, stays the closest whichever " \
               "fault is left out."
    return (f"The cheap (non-downstream) metric closest to training value, {name}, stays the closest in "
            f"{len(others) - len(lost)} of {len(others)} leave-one-out sets; without "
            + ", ".join(f"{g} it is `{b}`" for g, b in lost.items()) + ".")


# -- the board's real generators -----------------------------------------------------------------------------------


def load_entries(folder: Path, want_hash: str) -> tuple[dict[str, dict], list[str], int]:
    """({entry: results} of the real generators filed in a leaderboard folder with the current hash, the controls
    found there, the number of files of another hash)."""
    entries, controls, stale = {}, [], 0
    for p in sorted(Path(folder).glob("*.json")) if Path(folder).is_dir() else []:
        if p.name.endswith(".timing.json"):
            continue
        r = json.loads(p.read_text())
        if r.get("protocol", {}).get("hash") != want_hash:
            stale += 1
        elif r.get("generator", {}).get("name") in CONTROL_NAMES:
            controls.append(p.stem)
        else:
            entries[p.stem] = r
    return entries, controls, stale


def real_blocks(entries: dict[str, dict], controls: list[str], stale: int, where: str,
                heads: list[tuple[str, str]], utility: str, fault_taus: dict[str, float], n_variants: int
                ) -> list[tuple]:
    """The section on the board's real generators: training value and the cheap metrics (`heads`), with the
    Kendall tau among these generators only and, apart, the tau across the fault variants."""
    out: list[tuple] = [("h", "The board's real generators, apart from the faults", 2)]
    ignored = (f" ({stale} of another hash ignored)" if stale else "")
    if not entries:
        return out + [("p", f"No real generators of this protocol hash are filed under `{where}`{ignored}, so "
                            "there is nothing to set beside the faults.")]
    names = sorted(entries, key=lambda e: (-np.nan_to_num(values(entries, [e], utility)[0], nan=-np.inf), e))
    y = values(entries, names, utility)
    n = len(names)
    perfect = stats.kendalltau(np.arange(n), np.arange(n), method="exact").pvalue if n >= 3 else math.nan
    rows = [["training value", f"`{utility}`", *(number(entries[e]["metrics"].get(utility, {}).get("value"))
                                                 for e in names), "-", "-"]]
    for m, label in heads:
        if not any(m in entries[e]["metrics"] for e in names):
            continue
        tau, p, k = kendall(values(entries, names, m), y)
        cell = f"{fmt(tau)} (p {p:.2f}, n {k})" if math.isfinite(tau) else "n/a"
        rows.append([label, f"`{m}`", *(number(entries[e]["metrics"].get(m, {}).get("value")) for e in names),
                     cell, fmt(fault_taus.get(m, math.nan))])
    text = (f"The protocol's filed board (`{where}`{ignored}) holds {n} real generators: {', '.join(names)}. "
            "They are not fault variants and enter none of the taus above; the controls "
            f"({', '.join(controls) or 'none filed'}) are left out here as well. Raw values (direction not applied), "
            f"columns by training value. Tau among real generators: Kendall tau-b of the {n} generators' ranking by "
            f"the metric (direction applied) with their ranking by training value, and scipy's p-value. n = {n} is "
            "tiny, so this proves nothing either way"
            + (f": with {n} entries even a perfect tau of +1 has an exact two-sided p of {perfect:.3f}" if n >= 3
               else ": under 3 entries there is no tau at all")
            + f". It is shown so the real generators can be read beside the faults; the tau across the {n_variants} "
              "fault variants is in the last column for comparison, not pooled with it.")
    return out + [("p", text), ("table", ["metric", "name", *names, f"tau among real generators (n {n})",
                                          f"tau across fault variants (n {n_variants})"], rows)]


# -- the variants' board ---------------------------------------------------------------------------------------------


def copies_note(board: dict[str, dict], utility: str) -> str | None:
    """A sentence when train copies top the variants by training value (None otherwise)."""
    ranked = sorted(board, key=lambda v: (-np.nan_to_num(values(board, [v], utility)[0], nan=-np.inf), v))
    top = ranked[0]
    if by_fault(board[top]) != "train_copies":
        return None
    real = [v for v in ranked if by_fault(board[v]) == "none"]
    beside = (f", above the real control `{real[0]}` ({board[real[0]]['metrics'][utility]['value']:.4f})"
              if real else "")
    return (f"The variant of highest training value is `{top}` ({board[top]['metrics'][utility]['value']:.4f}"
            f"{beside}): world *training* images with their true labels. A generator that retrieves its training "
            "images would top a board ranked by training value alone, which is why protocols from world-v3 on gate "
            "copies (docs/metaeval.md).")
