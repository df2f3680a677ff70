"""The metric glossary (docs/metrics.md) and the leaderboard guide (docs/leaderboard.md), rendered from the metric
registry, the shipped protocols and the board code, so neither can drift from what is scored and ranked.

    python -m bench.devtools.glossary            # write both files under the repository (default: the workspace)
    python -m bench.devtools.glossary --check    # write nothing; exit 1 naming the stale files

Every metric documents itself where it is declared (`bench.core.registry.register_metric`: `DOC_FIELDS`, all
required); the glossary lays those fields out, family by family, with the protocols that list each metric. The guide
takes each board's sentence on how it ranks, its columns (headers from the registry's labels and the board modules)
and examples of its cells from `bench.publish.leaderboard` and `bench.publish.facesboard`. Prose written here is
kept to what no table can carry; every render function is pure (registry entries and protocols in, markdown out).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.core.atomic import atomic_write_text
from bench.core.paths import workspace
from bench.core.protocol import FAMILIES, Protocol
from bench.core.registry import DOC_FIELDS, METRICS, Entry, metric_spec
from bench.publish.headline import HEADLINE
from bench.scoring.protocols import known_protocols, load_protocol

GLOSSARY = "docs/metrics.md"
GUIDE = "docs/leaderboard.md"
COMMAND = "python -m bench.devtools.glossary"
#: The boards the guide explains, in order (the default board first).
BOARDS = ("world-v2", "faces-v1", "world-v1")
#: How a documentation field is introduced in the glossary.
FIELD_NAMES = {"what": "What", "formula": "Formula", "units": "Units", "interval": "Interval",
               "sensitive": "Sensitive to"}
#: What a concrete downstream suffix means (the kinds' formulas say the same at more length).
SUFFIXES = {"<scale>x": "recognizers trained on scale x 1x of the set's first images (1x = the real training size)",
            "mixed": "recognizers trained on real 1x + synthetic `mixed_scale` x",
            "slope": "gain per doubling of the synthetic set (least-squares fit over every scale and seed)"}
#: The lead (non-metric) columns of the boards, by row key.
LEAD = {
    "rank": "rank among the entries that pass the gate, fit the real-data budget and have a training value; `ref` "
            "for controls (reference rows), `-` for entries listed but not ranked",
    "name": "the filed result's name; controls in italics",
    "training_value": "the headline metric `{rank_by}` ± half its 95% interval over training seeds; ≈ when a paired "
                      "test does not find the gap to the ranked row above significant",
    "gate": "the label gate: `yes`/`no`, with the lower 95% bound of each gate metric the set answers",
    "real_data": "labelled real images the generator declares it learned from; `undeclared` when it declares none "
                 "(still ranked), `—` for controls, `(over budget)` above the protocol's real budget (not ranked)",
    "budget_bar": "utility of a real-only recognizer trained on the declared budget of real images (capped at what "
                  "one training can see), with that number of images: the bar to compare with the entry's "
                  "utility at the largest scale; n/a without a declared budget (controls, undeclared entries)",
    "win_rate": "the share of other ranked entries this one beats on each headline metric (ties half, metrics it "
                "lacks skipped), averaged within each family, then over families",
    "n": "images in the scored set",
}
#: Where a board of another style reads a lead column otherwise (styles: `board_style`).
LEAD_BY_STYLE = {
    "win rate": {"rank": "rank by mean win rate; every entry is numbered, controls included",
                 "name": "the filed result's name"},
    "faces": {"name": "the filed result's name",
              "training_value": "the headline metric `{rank_by}` (from the real-data protocol the headline names) ± "
                                "half its 95% interval over training seeds; no ≈ marks (the paired test needs the "
                                "world's test truth)"},
}
#: The faces board's lead columns as `bench.publish.facesboard.markdown` lays out a ranked table (key, header); the
#: metric columns come from `facesboard.COLUMNS` (tests/test_glossary.py checks both against a rendered table).
FACES_LEAD = (("rank", "#"), ("name", "entry"), ("training_value", "training value"), ("gate", "labels valid"),
              ("real_data", "real imgs seen"), ("n", "n"))


# -- facts from the registry and the protocols -----------------------------------------------------------------------


def documented() -> list[Entry]:
    """Every registered metric (a suffixed kind once), in family order, then in declaration order."""
    return sorted(METRICS.entries(), key=lambda e: FAMILIES.index(e.meta["family"]))


def shipped() -> dict[str, Protocol]:
    """The shipped protocols by id, loaded (each metric's family and direction filled in)."""
    return {p: load_protocol(p) for p in known_protocols()}


def listed_by(protocols: dict[str, Protocol]) -> dict[str, dict[str, list[str]]]:
    """Registered name -> {protocol id: the suffixes it produces ([] for a plain metric)}, protocols in id order."""
    out: dict[str, dict[str, list[str]]] = {}
    for pid, proto in sorted(protocols.items()):
        for name in proto.metric_info:
            kind = metric_spec(name)["kind"]
            sfx = out.setdefault(kind, {}).setdefault(pid, [])
            if name != kind:
                sfx.append(name[len(kind) + 1:])
    return out


def arrow(higher_is_better: bool) -> str:
    return "↑" if higher_is_better else "↓"


def direction(higher_is_better: bool) -> str:
    return f"{'higher' if higher_is_better else 'lower'} is better ({arrow(higher_is_better)})"


def cell_text(text: str) -> str:
    """Text safe inside a markdown table cell."""
    return text.replace("|", "\\|")


def table(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head),
            *("| " + " | ".join(cell_text(c) for c in r) + " |" for r in rows)]


def generated_note(what: str) -> list[str]:
    return [f"<!-- Generated by `{COMMAND}` from {what}; edit those, not this file. -->", ""]


def suffix_note(suffix: str, n1: int | None = None) -> str:
    """What a downstream suffix means (`1x`, `mixed`, `slope`), with the images it stands for when 1x is `n1`."""
    if suffix in SUFFIXES:
        return SUFFIXES[suffix]
    scale = float(suffix[:-1])
    images = f"the set's first {round(scale * n1):,} images" if n1 else f"{suffix} the real training size"
    return f"recognizers trained on {images} ({suffix}" + (f" the {n1:,} real training images)" if n1 else ")")


# -- the glossary -------------------------------------------------------------------------------------------------


def labels_of(e: Entry) -> str:
    """A metric's board header(s): its label, or a suffixed kind's labels by suffix; '—' for none."""
    m = e.meta
    if m["suffixed"]:
        return ", ".join(f"{lab} (`_{sfx}`)" for sfx, lab in m["labels"].items()) or "—"
    return m["label"] or "—"


def protocols_text(listed: dict[str, list[str]]) -> str:
    if not listed:
        return "none of the shipped protocols"
    return ", ".join(f"`{p}`" + (f" ({', '.join(s)})" if s else "") for p, s in listed.items())


def metric_section(e: Entry, listed: dict[str, list[str]]) -> list[str]:
    """One metric's entry: name, direction, labels, the documentation fields, readings, protocols."""
    m = e.meta
    name = f"{e.name}_<suffix>" if m["suffixed"] else e.name
    lines = [f"### `{name}`", "", f"- **Direction**: {direction(m['higher_is_better'])}",
             f"- **Board label**: {labels_of(e)}"]
    if not m["suffixed"] and m["title"] != e.name:
        lines.append(f"- **Report title**: {m['title']}")
    lines += [f"- **{FIELD_NAMES[k]}**: {m[k]}" for k in DOC_FIELDS]
    reads = ", ".join(f"`{r}`" for r in m["reads"]) or "no judge reading"
    lines += [f"- **Reads**: {reads}", f"- **Listed by**: {protocols_text(listed)}", ""]
    return lines


def summary(entries: list[Entry], listed: dict[str, dict[str, list[str]]]) -> list[str]:
    rows = [[f"[`{e.name}{'_<suffix>' if e.meta['suffixed'] else ''}`](#{anchor(e)})", e.meta["family"],
             arrow(e.meta["higher_is_better"]), labels_of(e), ", ".join(listed.get(e.name, {})) or "—"]
            for e in entries]
    return table(["metric", "family", "better", "board label", "protocols"], rows)


def anchor(e: Entry) -> str:
    """GitHub's anchor of a metric's heading."""
    text = f"{e.name}_suffix" if e.meta["suffixed"] else e.name
    return "".join(c for c in text.lower() if c.isalnum() or c in "-_")


def interval_settings(protocols: dict[str, Protocol]) -> list[str]:
    """Per protocol: the bootstrap behind the bootstrap intervals and the seeds behind the downstream ones."""
    rows = []
    for pid, p in sorted(protocols.items()):
        b, s = p.bootstrap, p.downstream
        rows.append([f"`{pid}`", p.kind, f"{1 - b.alpha:.0%}" if b else "—", str(b.n) if b else "—",
                     str(b.seed) if b else "—", str(len(s.seeds)) if s else "—",
                     ", ".join(f"{c:g}x" for c in s.scales) if s else "—",
                     "—" if s is None else "yes" if s.val is not None else "no"])
    return table(["protocol", "kind", "bootstrap level", "resamples", "seed", "downstream seeds", "scales",
                  "validation split"], rows)


def render_metrics(entries: list[Entry], protocols: dict[str, Protocol]) -> str:
    """docs/metrics.md: a summary table, each protocol's interval settings, then every metric by family."""
    listed = listed_by(protocols)
    lines = ["# Metrics", "", *generated_note("the `register_metric` declarations (bench/scoring/*.py, "
                                              "bench/downstream/harness.py) and the shipped protocols"),
             "Every metric the benchmark computes, as declared where it is computed. A metric is a function of one "
             "scored set (and the protocol's reference images, judge and settings), never of other entries. "
             "Intervals are 95% unless a protocol's `bootstrap.alpha` says otherwise (table below); "
             "[intervals.md](intervals.md) says what each interval covers and how that was measured. "
             "[leaderboard.md](leaderboard.md) says how the boards use these metrics; the boards rank by the "
             f"headline, {HEADLINE}.", "",
             "## Summary", "", *summary(entries, listed), "",
             "## Interval settings by protocol", "",
             "Bootstrap intervals use the protocol's `bootstrap` section; downstream intervals are Student t over "
             "the protocol's training seeds.", "", *interval_settings(protocols), ""]
    for fam in FAMILIES:
        fam_entries = [e for e in entries if e.meta["family"] == fam]
        if not fam_entries:
            continue
        lines += [f"## {fam.capitalize()}", ""]
        if any(e.meta["suffixed"] for e in fam_entries):
            lines += ["A suffixed kind's concrete names are `<kind>_<suffix>`:", "",
                      *[f"- `{s}`: {t}" for s, t in SUFFIXES.items()], ""]
        for e in fam_entries:
            lines += metric_section(e, listed.get(e.name, {}))
    return "\n".join(lines).rstrip() + "\n"


# -- the leaderboard guide ------------------------------------------------------------------------------------------


def column_meaning(metric: str, proto: Protocol) -> str:
    """What a metric column shows: the registry's `what`, with a downstream suffix's meaning under `proto`."""
    spec = metric_spec(metric)
    if metric == spec["kind"]:
        return spec["what"]
    suffix = metric[len(spec["kind"]) + 1:]
    n1 = proto.downstream.real_train.n if proto.downstream else None
    return f"{spec['what']} Here: {suffix_note(suffix, n1)}."


def board_style(proto: Protocol) -> str:
    """'faces' (bench.publish.facesboard), 'training value' (a headline) or 'win rate' (no headline)."""
    return "faces" if proto.kind == "faces" else "training value" if proto.headline is not None else "win rate"


def lead_meaning(key: str, proto: Protocol) -> str:
    text = LEAD_BY_STYLE.get(board_style(proto), {}).get(key, LEAD[key])
    return text.format(rank_by=proto.headline.rank_by if proto.headline else "")


def everything_row(heads: list[tuple[str, str]]) -> list[dict]:
    """A stand-in row holding every headline metric, so the column functions keep every column."""
    return [{m: 0.0 for m, _ in heads}]


def board_columns(proto: Protocol) -> list[tuple[str, str]]:
    """(key, header) of a world board's columns, as `bench.publish.leaderboard` builds them."""
    from bench.publish import leaderboard as L

    heads = L.headline(proto)
    if proto.headline is not None:
        return L.v2_columns(proto, heads, everything_row(heads))
    return L.columns(everything_row(heads) + [{"rank": 1, "name": "", "win_rate": 0.0}], heads)


def board_sentence(proto: Protocol) -> str:
    """The board's own sentence on how it ranks."""
    from bench.publish import facesboard
    from bench.publish import leaderboard as L

    style = board_style(proto)
    if style == "faces":
        return facesboard.how_ranked(proto)
    return L.how_ranked(proto) if style == "training value" else L.board(proto, [], "")[3]


def column_rows(proto: Protocol, cols: list[tuple[str, str]]) -> list[list[str]]:
    """| column | metric | better | what it shows | of a board's columns."""
    rows = []
    for key, header in cols:
        if key in LEAD:
            metric = f"`{proto.headline.rank_by}`" if key == "training_value" and proto.headline else "—"
            better = "↑" if key in ("training_value", "win_rate") else ""
            rows.append([header, metric, better, lead_meaning(key, proto)])
        else:
            rows.append([header, f"`{key}`", arrow(metric_spec(key)["higher_is_better"]), column_meaning(key, proto)])
    return rows


def faces_columns(proto: Protocol) -> list[list[str]]:
    """The faces board's columns: its lead, then `facesboard.COLUMNS` with each metric's registry label."""
    from bench.publish import facesboard

    rows = column_rows(proto, list(FACES_LEAD))
    for metric, header in facesboard.COLUMNS:
        label = metric_spec(metric)["label"] or "—"
        rows.append([header, f"`{metric}`", arrow(metric_spec(metric)["higher_is_better"]),
                     column_meaning(metric, proto) + (f" (registry label: {label})" if label != header else "")])
    return rows


def gate_text(proto: Protocol) -> str:
    h = proto.headline
    return (f"Ranks by `{h.rank_by}`; gate: for each of {', '.join(f'`{g}`' for g in h.gate)} the set answers, the "
            f"lower 95% bound must exceed {h.gate_min:g}.")


def board_section(proto: Protocol) -> list[str]:
    """One board: its sentence, its gate, its columns."""
    where = {"faces": f"`leaderboards/{proto.id}.md`"}.get(proto.kind, "`leaderboards/LEADERBOARD.md` (when "
                                                                       "ranked under it)")
    lines = [f"## `{proto.id}`", "", f"Written by `augen leaderboard --protocol {proto.id}` to {where}. How it "
             "ranks, in its own words:", "", f"> {board_sentence(proto)}", ""]
    if proto.headline is not None:
        lines += [gate_text(proto), ""]
    rows = faces_columns(proto) if proto.kind == "faces" else column_rows(proto, board_columns(proto))
    head = ["column", "metric", "better", "what it shows"]
    return lines + table(head, rows) + [""]


def cell_examples() -> list[str]:
    """How cells print: example rows through the boards' own cell functions."""
    from bench.publish import facesboard
    from bench.publish import leaderboard as L

    tv = {"training_value": 0.259, "training_value_ci": [0.252, 0.266]}
    examples = [
        ("training value, gap to the ranked row above significant", {**tv, "sig": {"significant": True}},
         "training_value"),
        ("training value, gap not significant", {**tv, "sig": {"significant": False}}, "training_value"),
        ("gate passed (lower bounds of the gate metrics)", {"passes": True, "gate_au_kappa": 0.224,
                                                            "gate_expression_kappa": 0.517}, "gate"),
        ("gate failed", {"passes": False, "gate_au_kappa": -0.021, "gate_expression_kappa": 0.004}, "gate"),
        ("gate: claims no label the gate reads", {"passes": False}, "gate"),
        ("real data within the budget", {"real_data": 179200, "budget_status": "within"}, "real_data"),
        ("real data over the budget", {"real_data": 250000, "budget_status": "over"}, "real_data"),
        ("real data not declared", {"real_data": None, "role": "ranked"}, "real_data"),
        ("control (reference row)", {"real_data": None, "role": "reference"}, "real_data"),
        ("real-only bar at the declared budget", {"budget_bar": 0.738, "budget_bar_n": 64000}, "budget_bar"),
        ("a diagnostic metric", {"fd_world": 607.7391}, "fd_world"),
        ("a metric the entry has no value for", {"expression_kappa": None}, "expression_kappa"),
    ]
    rows = [[what, f"`{L.cell(row, key)}`"] for what, row, key in examples]
    faces = [("faces board: value [95% interval] (reference agreement: the reference's own labels vs the judge)",
              {"value": 0.5412, "ci95": [0.4987, 0.5833], "ceiling": {"value": 0.7021}}),
             ("faces board: no value", None)]
    rows += [[what, f"`{facesboard.cell(m)}`"] for what, m in faces]
    return table(["example", "cell"], rows)


def render_guide(protocols: dict[str, Protocol]) -> str:
    """docs/leaderboard.md: how each board ranks, its columns, how cells read, n/a, ties, the pool, reference rows."""
    from bench.generation.controls import CONTROL_NAMES
    from bench.publish.leaderboard import UNRANKED

    lines = ["# Reading the leaderboard", "",
             *generated_note("the metric registry, the shipped protocols and bench/publish/leaderboard.py, "
                             "facesboard.py"),
             "What each board ranks by and what each column shows. Why the boards rank this way: "
             "[verdicts.md](verdicts.md); every metric in full: [metrics.md](metrics.md).", ""]
    for pid in BOARDS:
        lines += board_section(protocols[pid])
    controls = ", ".join(f"`{c}`" for c in CONTROL_NAMES)
    lines += ["## Reading a cell", "", "Numbers print to 3 decimals. Example rows through the boards' own cell "
              "functions:", "", *cell_examples(), "",
              "## n/a, ties, the pool, reference rows", "",
              "- **n/a**: the entry has no value for that metric: the metric is undefined for the set (a label kind "
              "it does not claim, such as expression for MAUGen; a test set without that label), does not apply to "
              "it (listed under `not_applicable` in its results, e.g. control metrics for a set that does not "
              "answer the condition suite) or was not run (no downstream result). An n/a is never a zero: it is "
              "left out of the gate (a kind the set does not claim is not tested) and of win rates (that metric "
              "is skipped for that entry).",
              f"- **Reference rows**: controls ({controls}) bound the metrics and never compete. On the boards "
              "ranked by training value they are placed where their training value puts them, marked `ref` and in "
              "italics, and not numbered; under mean win rate (world-v1) they are ranked like any entry.",
              f"- **Listed, not ranked**: entries that fail the gate or are {' or have '.join(UNRANKED)} follow the "
              "ranked ones with rank `-`; the note under the table gives each one's reason. Results scored under "
              "another protocol hash are listed as stale, never ranked.",
              "- **Ranks are relative**: every value in a row is computed from that entry's own set, but its rank is "
              "its place among the entries filed under the same protocol hash, so adding or removing an entry can "
              "move it. The ≈ marks depend on the pool too (each compares neighbours; the p-values of one board "
              "are Holm-corrected together), and a mean win rate (world-v1) is itself a share of the other "
              "entries beaten. Compare numbers across boards only under the same protocol hash.",
              "- **Ties**: entries are ordered by gate, then training value (higher first), then name, so equal "
              "training values get consecutive ranks in name order; whether a gap between neighbours means "
              "anything is what ≈ says (a paired bootstrap over seeds and test items, Holm-corrected, 5%; no mark "
              "where either entry stored no test decisions, and never on the faces boards). Under mean win rate "
              "ties count half a win, and equal win rates are ordered by name.",
              "- **Directions**: ↑ higher is better, ↓ lower is better (the arrows in the board's header).", ""]
    return "\n".join(lines).rstrip() + "\n"


# -- writing and checking ---------------------------------------------------------------------------------------


def render_all() -> dict[str, str]:
    """{repository-relative path: text} of both files."""
    protocols = shipped()
    return {GLOSSARY: render_metrics(documented(), protocols), GUIDE: render_guide(protocols)}


def stale(root: Path, rendered: dict[str, str]) -> list[str]:
    """The files under `root` that differ from what renders."""
    return [rel for rel, text in rendered.items()
            if not (root / rel).is_file() or (root / rel).read_text(encoding="utf-8") != text]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 naming the stale files")
    ap.add_argument("--root", type=Path, default=None, help="the repository (default: the workspace)")
    a = ap.parse_args(argv)
    root = a.root or workspace()
    rendered = render_all()
    old = stale(root, rendered)
    if a.check:
        if old:
            print(f"stale: {', '.join(old)} differ from what the registry gives; run `{COMMAND}`", file=sys.stderr)
            return 1
        print(f"{', '.join(rendered)}: up to date")
        return 0
    for rel in old:
        atomic_write_text(root / rel, rendered[rel])
    print(f"wrote {', '.join(old)}" if old else f"{', '.join(rendered)}: up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
