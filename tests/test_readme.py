"""README.md's generated blocks (bench.publish.readme) and the timing wrapper (bench.devtools.timed): each block
from small inputs, the marker rewrite, `--check` on the real README, and no loose number outside the blocks."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.core.errors import DataError
from bench.devtools import timed
from bench.publish import readme as R

ROOT = Path(__file__).resolve().parent.parent


def res(n: int = 10, **metrics) -> dict:
    """A results dict: plain numbers become {value, higher_is_better} (fd_world lower is better)."""
    return {"sampleset": {"n": n}, "generator": {"name": "g"}, "protocol": {"id": "world-v1", "hash": "ab" * 32},
            "metrics": {k: v if isinstance(v, dict) else {"value": v, "higher_is_better": k != "fd_world"}
                        for k, v in metrics.items()}}


FACTS = {"id": "world-vX", "conditions": (2000, "val"), "image_size": 64, "reference": (500, "test"),
         "train_reference": (300, "train"), "families": {"realism": ["fd_world"], "alignment": ["au_f1", "au_kappa"]},
         "downstream": {"recognizer": "small-cnn", "scales": [0.5, 1.0, 5.0], "n1": 400, "seeds": 3,
                        "test": (2000, "test"), "mixed_scale": 1.0},
         "headline": {"rank_by": "downstream_training_value", "gate": ["au_kappa"], "gate_min": 0.0},
         "real_budget": 200000}

BOARD_V2 = """# Leaderboard: `world-v2` (hash `0123456789ab`)

Ranked by training value: the mean of kappa (0.5x-5x of 400 images), among entries whose labels pass (lower 95% \
bound > 0); controls are reference rows (ref).
`augen leaderboard` writes this file and `index.html` (sortable) from `leaderboards/results/`; docs/verdicts.md \
says how to read it.

| # | submission | training value ↑ |
|---|---|---|
| 1 | gen-a | 0.300 ± 0.010 |
| ref | *real* | 0.500 ± 0.020 |

Not ranked: gen-b (fails gate: au_kappa lower bound -0.010 <= 0)
"""

# the blocks whose generator a test below checks on fixture inputs (a new block needs one)
COVERED = {"tox-timing", "world", "world-difficulty", "throughput", "protocol", "controls", "leaderboard", "rank-stability",
           "leaderboard-archive", "downstream", "real-protocols", "maugen", "synfer-ablation", "fidelity",
           "interval-coverage"}


# -- each block from fixture inputs ----------------------------------------------------------------------------------


def test_timing_block():
    assert R.timing_block(None) == (
        "How long `tox -e bench` takes has not been recorded yet: its commands run under `python -m "
        "bench.devtools.timed LABEL -- ...`, which records each one's wall time in `reports/bench_timing.json`.")
    assert R.timing_block({"controls": 90.0, "references": 30.0}) == (
        "The timed steps of `tox -e bench` take 2.0 min after its env is built (the latest recorded time of each, "
        "`reports/bench_timing.json`, written by `python -m bench.devtools.timed`): controls 1.5 min, "
        "references 0.5 min; the untimed steps (checks, tables, report, figures, README) add seconds.")


def test_world_block():
    assert R.world_block(6, 2, 3, 17, 8) == (
        "No face datasets or weights can be downloaded here, so the benchmark carries a procedural world whose truth "
        "is exact: identities with demographics (6 skin-tone groups x 2 gender presentations x 3 age groups, each "
        "with visible cues), the 17 canonical AUs as geometric deformations with FACS intensity 0-5, EMFACS "
        "prototypes of 8 expressions with random intensity, optional AUs, blends and spontaneous AUs, and nuisance "
        "(pose, light, background, noise). Every AU has a cue of its own (see `bench/world/geometry.py: AU_CUES`). "
        "Rendering is vectorized and deterministic in (seed, split, index).")


def test_difficulty_block():
    probe = {"config": {"epochs": 2, "train_per_epoch": 1000}, "train_seconds": 120.0, "n_eval": 400,
             "expression_accuracy": 0.5, "au_mean_f1": 0.75}
    judge = {"config": {"epochs": 4, "train_per_epoch": 2000}, "train_seconds": 600.0, "judge_id": "world-judge-x",
             "expression_accuracy": 0.9, "au_mean_f1": 0.95, "au_min_f1": 0.85}
    assert R.difficulty_block(probe, judge, 8) == (
        "How hard is it? `augen world probe` trains the judge network on a smaller budget (2 x 1,000 fresh "
        "world-train images, 2.0 min) and tests it on 400 faces of held-out identities: expression accuracy 0.500 "
        "(chance 0.125), AU occurrence mean F1 0.750 (`reports/world_difficulty.md`). With the full budget (4 x "
        "2,000 images, `augen judges train`, 10.0 min), the world judge `world-judge-x` reaches expression accuracy "
        "0.900 and AU mean F1 0.950, every AU at least 0.850 (`reports/world_judge.md`). Readable, not trivial.")


def test_throughput_block():
    data = {"machine_info": {"cpu": {"brand_raw": "CPU X", "count": 2}}, "datetime": "2026-01-02T03:04:05",
            "benchmarks": [
                {"name": "test_fast", "group": "world-render", "stats": {"mean": 0.5},
                 "extra_info": {"items": 1000, "baseline": "test_slow"}},
                {"name": "test_slow", "group": "world-render", "stats": {"mean": 2.0}, "extra_info": {"items": 1000}},
                {"name": "test_alone", "group": "new-group", "stats": {"mean": 4.0},
                 "extra_info": {"items": 10, "unit": "FID"}}]}
    assert R.throughput_block(data) == """\
Throughput (`reports/BENCH.md`, from `reports/bench.json`: CPU X, 2 cores, run 2026-01-02), each against a baseline \
measured in the same run:

| what | benchmark | throughput | speed vs baseline |
|---|---|---:|---|
| world rendering | `test_fast` | 2,000 img/s | 4.00x `test_slow` |
| new-group | `test_alone` | 2.5 FID/s |  |"""


def test_protocol_block():
    head = ("`world-vX` (`bench/protocols/world-vX.yaml`, shipped with the package; what every command uses without "
            "`--protocol`) asks for faces matching the labels of 2,000 world val samples at 64 px, reads every image "
            "with the world judge and scores these families:\n\n"
            "- realism (against 500 world test images): `fd_world`\n"
            "- alignment (the labels a set claims vs what the judge reads): `au_f1`, `au_kappa`")
    assert R.protocol_block(FACTS) == head + (
        "\n- downstream: a small-cnn trained on the labels a set claims at 0.5x, 1x and 5x the size of 400 real "
        "world faces (1x), and on real 1x + synthetic 1x, 3 seeds each, tested on 2,000 real world test faces\n\n"
        "Its board ranks by `downstream_training_value` among the sets whose claimed labels pass the validity gate "
        "(lower 95% bound of `au_kappa` above 0) and whose real training data fits the budget of 200,000 labelled "
        "images.")
    assert R.protocol_block({**FACTS, "downstream": None, "headline": None, "real_budget": None}) == head


def test_protocol_facts_read_the_protocol_file():
    from bench.scoring.protocols import load_protocol

    f = R.protocol_facts(load_protocol("world-v1"))
    assert f["conditions"] == (2000, "val") and f["downstream"]["n1"] == 400 and f["headline"] is None
    assert "au_f1" in f["families"]["alignment"] and "downstream" not in f["families"]


def test_controls_block():
    rs = {"real": res(fd_world=65.123, au_f1=0.9, au_kappa=0.8), "shuffled": res(fd_world=65.123, au_f1=0.3,
                                                                                  au_kappa=0.0),
          "noise": res(fd_world=2500.0, au_f1=0.4, au_kappa=float("nan")), "maugen-tiny": res(fd_world=500.0,
                                                                                              au_f1=0.84)}
    assert R.controls_block("world-v1", rs) == """\
Scored on `world-v1` (`leaderboards/results/world-v1/`, n = 10 per set):

| metric | real | shuffled | noise | maugen-tiny |
|---|---:|---:|---:|---:|
| fd_world ↓ | 65.1 | 65.1 | 2500.0 | 500.0 |
| au_f1 (claimed vs judge) ↑ | 0.900 | 0.300 | 0.400 | 0.840 |
| au_kappa ↑ | 0.800 | 0.000 | n/a | n/a |

Raw F1 of `noise` (0.40) beats `shuffled` (0.30) although neither set's labels say anything about its images: read \
chance-corrected figures (kappa, AUC) beside F1."""
    assert R.controls_block("world-v2", {}) == (
        "No control has results filed under `leaderboards/results/world-v2/` for the board's hash yet.")


def test_leaderboard_block_copies_the_board_verbatim():
    b = R.parse_leaderboard(BOARD_V2)
    assert (b["id"], b["hash"]) == ("world-v2", "0123456789ab")
    assert R.leaderboard_block(b) == """\
The board as `augen leaderboard` wrote it (`leaderboards/LEADERBOARD.md`: protocol `world-v2`, hash `0123456789ab`, \
from `leaderboards/results/world-v2/`). Ranked by training value: the mean of kappa (0.5x-5x of 400 images), among \
entries whose labels pass (lower 95% bound > 0); controls are reference rows (ref).

| # | submission | training value ↑ |
|---|---|---|
| 1 | gen-a | 0.300 ± 0.010 |
| ref | *real* | 0.500 ± 0.020 |

Not ranked: gen-b (fails gate: au_kappa lower bound -0.010 <= 0)"""


def test_parse_leaderboard_first_sentence_and_errors():
    v1 = ("# Leaderboard: `world-v1` (hash `ef157b584d44`)\n\nRanked by mean win rate, then over families (↑ higher "
          "is better, ↓ lower). `augen leaderboard` writes this file.\n\n| # | submission |\n|---|---|\n| 1 | real |\n")
    b = R.parse_leaderboard(v1)
    assert b["sentence"] == "Ranked by mean win rate, then over families (↑ higher is better, ↓ lower)."
    assert b["table"] == "| # | submission |\n|---|---|\n| 1 | real |" and b["notes"] == []
    with pytest.raises(DataError, match="first line"):
        R.parse_leaderboard("# Board\n\ntext\n\n| a |\n")
    with pytest.raises(DataError, match="no table"):
        R.parse_leaderboard("# Leaderboard: `x` (hash `ab`)\n\nRanked somehow.\n")


def test_archive_block():
    assert R.archive_block("world-v2", []) == (
        "No results of a protocol other than `world-v2` are filed under `leaderboards/results/`.")
    boards = [{"id": "world-v1", "hash": "ef157b584d44", "n": 2, "sentence": "Ranked by mean win rate.",
               "table": "| # | submission |\n|---|---|\n| 1 | real |",
               "notes": ["Not ranked (scored under another protocol hash; rescore to compare): old (`000000000000`)"]},
              {"id": "affectnet-v1", "n": 1, "needs_data": True}]
    assert R.archive_block("world-v2", boards) == """\
`world-v1` (2 results filed under `leaderboards/results/world-v1/`, ranked under its current hash `ef157b584d44` by \
`augen leaderboard --protocol world-v1`). Ranked by mean win rate.

| # | submission |
|---|---|
| 1 | real |

Not ranked (scored under another protocol hash; rescore to compare): old (`000000000000`)

`affectnet-v1` (1 result filed): its hash includes the dataset's label files, so `augen leaderboard --protocol \
affectnet-v1 --data-root DIR` ranks it."""


def _ds(v: float) -> dict:
    def m(x):
        return {"value": x, "ci95": [x - 0.02, x + 0.02], "higher_is_better": True}
    return {"metrics": {**{f"downstream_expression_accuracy_{s}": m(v) for s in ("0.5x", "1x")},
                        "downstream_expression_accuracy_mixed": {**m(v + 0.1), "real_only": 0.5,
                                                                 "real_only_ci95": [0.48, 0.52]},
                        "downstream_expression_accuracy_slope": {"value": 0.05}}}


def test_downstream_block():
    assert R.downstream_block("world-v1", FACTS, [("real", _ds(0.4)), ("gen", _ds(0.2))]) == """\
Downstream expression accuracy on `world-v1` (% on 2,000 real world test faces, recognizers trained on each set's \
claimed labels at 0.5x, 1x and 5x of 400 real faces (1x), mean of 3 seeds ± half the 95% interval; `augen report \
--protocol world-v1` adds the AU table and figures):

| generator | synthetic 0.5x | synthetic 1x | real 1x + synthetic 1x | gain per doubling |
|---|---|---|---|---|
| real | 40.0 ± 2.0 | 40.0 ± 2.0 | 50.0 ± 2.0 | 5.0 |
| gen | 20.0 ± 2.0 | 20.0 ± 2.0 | 30.0 ± 2.0 | 5.0 |
| real only (1x, true labels) |  |  | 50.0 ± 2.0 |  |"""
    assert R.downstream_block("world-v1", None, []) == (
        "No downstream results are filed under `leaderboards/results/world-v1/` for the board's hash yet.")


def test_real_protocols_block():
    assert R.real_protocols_block([("affectnet-v1", "A ResNet-18 on 20,000 images."), ("bp4d-v1", "AU detector.")]) \
        == ("- `affectnet-v1` (`bench/protocols/affectnet-v1.yaml`): A ResNet-18 on 20,000 images.\n"
            "- `bp4d-v1` (`bench/protocols/bp4d-v1.yaml`): AU detector.")


def test_maugen_block():
    training = {"key": "maugen-tiny-abc", "config": {"steps": 2500, "batch": 64, "variant": "published"},
                "log": [{"step": 2500, "diffusion": 0.1}, {"seconds_this_run": 600.0}, {"seconds_this_run": 60.0}]}
    ceiling = {"n": 1024, "aus": "DISFA12", "au_f1_original": 0.975, "au_f1_reconstructed": 0.882}
    results = {"maugen-tiny": res(fd_world=498.6, au_f1={"value": 0.84, "per_au": {"AU01": 0.9, "AU07": None}},
                                  au_f1_condition={"value": 0.733, "per_au": {"AU01": 0.9, "AU07": 0.5}}),
               "real": res(fd_world=65.1), "noise": res(fd_world=2577.4)}
    head = ("The tiny MAUGen (variant published; checkpoint `maugen-tiny-abc`, committed: 2,500 steps of batch "
            "64, 11.0 min of training on this machine)")
    cap = "its VAE alone caps DISFA12 F1 at 0.88: the judge reads 0.975 on 1,024 originals"
    body = (f"{head} reaches on `world-v1` FD 499 (real 65, noise 2,577), claimed-vs-judge AU F1 0.840 on the 1 AU it "
            f"labels and requested-vs-judge F1 0.733 over all 2 ({cap}).")
    assert R.maugen_block("world-v1", training, ceiling, results, {}) == body
    copy = {"maugen-tiny": {"au": {"copy_on_miss": 0.25, "n_miss": 1200, "ci95": {"copy_on_miss": [0.2, 0.3]}}}}
    assert R.maugen_block("world-v1", training, ceiling, results, copy) == (
        f"{body} Where the judge reads one of its images as missing a requested AU, its claimed label repeats the "
        f"request in 0.250 [0.200, 0.300] of 1,200 such cells (`reports/world-v1/copy_rate.md`).")
    assert R.maugen_block("world-v2", training, ceiling, {"maugen-tiny": None, "real": None, "noise": None}, {}) == (
        f"{head} has no results filed under `leaderboards/results/world-v2/` for the board's hash yet; {cap}.")


def test_fidelity_block():
    """Each pair's two rows from their results and copy rates; an entry not filed says so; real's miss rates are
    the judge's floor."""
    from bench.publish.readme_references import FIDELITY_METRICS, FIDELITY_PAIRS

    def rates(c, n):
        return {"copy_on_miss": c, "n_miss": n, "miss_rate": 0.02, "ci95": {"copy_on_miss": [c - 0.01, c]}}

    tv = {"value": 0.139, "ci95": [0.129, 0.149]}
    results = {"maugen-tiny-v1": res(downstream_training_value=tv, fd_world=498.6, au_kappa=0.764),
               "real": res()}
    copy = {"maugen-tiny-v1": {"au": rates(0.999, 2391), "expression": None},
            "real": {"au": rates(1.0, 652), "expression": rates(1.0, 182)}}
    got = R.fidelity_block("world-v2", "downstream_training_value", results, copy).splitlines()
    assert got[0].startswith("On `world-v2` (filed under `leaderboards/results/world-v2/`")
    assert len(got) == 4 + 2 * len(FIDELITY_PAIRS) + 2
    assert got[4] == ("| MAUGen | maugen-tiny-v1 | earlier | 0.139 ± 0.010 | 499 | 0.764 | n/a | n/a | n/a | "
                      "0.999 [0.989, 0.999] of 2,391 | n/a |")
    assert got[5] == "| MAUGen | maugen-tiny | published | not filed |" + " |" * (len(FIDELITY_METRICS) + 2)
    assert "0.020 of AU cells and 0.020 of expressions" in got[-1]
    assert "the judge reads" not in R.fidelity_block("world-v2", "downstream_training_value", results, {})


def test_ablation_block():

    def row(e, fd, sg=0.0, relabelled=0):
        r = res(n=200, expression_accuracy_condition=e, au_f1_condition=0.4, fd_world=fd,
                downstream_expression_accuracy_1x=0.2)
        r["generator"] = {"name": "synfer-tiny", "config": {"semantic_guidance_scale": sg},
                          "stats": {"n": 200, "relabelled": relabelled}}
        return r

    assert R.ablation_block({}) == (
        "The ablation has not been run (`python -m bench.publish.ablation` files its rows under "
        "`reports/results/<protocol>/synfer-ablation/`).")
    runs = {"world-v1": [("base", row(0.1, 829.4)), ("+ semantic guidance", row(0.6, 607.7, 2.0)),
                         ("+ pseudo-labels", row(0.6, 607.7, 2.0, 128)), ("+ more", None)]}
    assert R.ablation_block(runs) == """\
On `world-v1` (`reports/results/world-v1/synfer-ablation/`, 200 conditions per row):

| row | expression vs request | AU F1 vs request | FD | recognizer on 1x: expression acc. | relabelled |
|---|---:|---:|---:|---:|---:|
| base | 0.100 | 0.400 | 829 | 0.200 | 0% |
| + semantic guidance | 0.600 | 0.400 | 608 | 0.200 | 0% |
| + pseudo-labels | 0.600 | 0.400 | 608 | 0.200 | 64% |
| + more | not run | | | | |

Semantic guidance with lambda_g 2.0 (`semantic_guidance_scale`, chosen on train-split conditions, never the scored \
suite)."""


def test_rank_stability_block_reads_both_reports():
    """The board-order taus of judgecheck's and stability's reports, in that order; a missing report is named."""
    judge = "| what | tau | entries |\n|---|---:|---:|\n| board order (gate, then training value) | 1.000 | 7 |\n| fd_world | 0.9 | 7 |\n"
    stab = ("| re-run | what | tau | entries |\n|---|---|---:|---:|\n"
            "| redrawn conditions | board order (gate, then training value) | 0.905 | 7 |\n"
            "| other generation seed | board order (gate, then training value) | 1.000 | 7 |\n")
    got = R.stability_block("world-v2", [("judge retraining", 1.0, 7)], ["`python -m bench.publish.stability` (`x`)"])
    assert got.startswith("Rank stability: Kendall tau-b") and "judge retraining 1.000" in got and "Not run yet" in got
    found = [(m["axis"], m["tau"]) for m in R.BOARD_TAU.finditer(stab)]
    assert found == [("redrawn conditions", "0.905"), ("other generation seed", "1.000")]
    assert [(m["axis"], m["tau"]) for m in R.BOARD_TAU.finditer(judge)] == [(None, "1.000")]
    assert R.stability_block("world-v2", [], ["a", "b"]).startswith("Rank stability has not been measured")


def test_every_block_has_a_test():
    assert set(R.BLOCKS) == set(R.LOADERS) == COVERED


# -- the marker rewrite ----------------------------------------------------------------------------------------------


def _fake_render(name: str) -> str:
    return {"world": "one two three", "throughput": "| a |\n|---|\n| 1 |"}[name]


def test_rewrite_replaces_contents_and_is_idempotent():
    text = ("# Title\n\nprose\n<!-- augen:world -->\nold\n<!-- /augen:world -->\nmore prose\n\n"
            "<!-- augen:throughput -->\n<!-- /augen:throughput -->\n")
    new, changed = R.rewrite(text, _fake_render)
    assert new == ("# Title\n\nprose\n<!-- augen:world -->\n\none two three\n\n<!-- /augen:world -->\nmore prose\n\n"
                   "<!-- augen:throughput -->\n\n| a |\n|---|\n| 1 |\n\n<!-- /augen:throughput -->\n")
    assert changed == ["world", "throughput"]
    assert R.rewrite(new, _fake_render) == (new, [])


def test_rewrite_wraps_long_paragraphs_but_not_tables():
    long = " ".join(["word"] * 40) + " + pseudo-labels"
    new, _ = R.rewrite("<!-- augen:world -->\n<!-- /augen:world -->", lambda n: long + "\n\n| " + "x " * 80 + "|")
    lines = new.splitlines()
    assert max(len(ln) for ln in lines if not ln.startswith("|")) <= R.WIDTH
    assert not any(ln.startswith("+") for ln in lines)  # a wrapped line never starts a list
    assert " ".join(ln for ln in lines[2:-4]) == long and lines[-3].startswith("| x")


@pytest.mark.parametrize("text, match", [
    ("<!-- augen:nope -->\n<!-- /augen:nope -->\n", "unknown block 'nope'"),
    ("<!-- augen:world -->\ntext\n", "never closed"),
    ("<!-- /augen:world -->\n", "without its start"),
    ("<!-- augen:world -->\n<!-- augen:throughput -->\n<!-- /augen:throughput -->\n<!-- /augen:world -->\n",
     "inside block 'world'"),
    ("<!-- augen:world -->\n<!-- /augen:throughput -->\n", "without its start"),
    ("text <!-- augen:world --> inline\n", "malformed marker"),
])
def test_bad_markers_are_refused_naming_the_file_and_line(text, match):
    with pytest.raises(DataError, match=match) as e:
        R.rewrite(text, _fake_render, "README.md")
    assert e.value.path == "README.md" and e.value.row is not None


def _mini_repo(tmp: Path, board: str) -> Path:
    """The files the blocks read, copied from this repository, with another board and results folder."""
    for rel in (R.BENCH_JSON, R.PROBE, R.VAE_CEILING):
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, tmp / rel)
    shutil.copytree(ROOT / R.JUDGE_WEIGHTS, tmp / R.JUDGE_WEIGHTS, ignore=shutil.ignore_patterns("*.safetensors"))
    for t in (ROOT / R.REFERENCE_WEIGHTS).glob("maugen-tiny-*/training.json"):
        (tmp / t.relative_to(ROOT)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(t, tmp / t.relative_to(ROOT))
    (tmp / R.LEADERBOARD).parent.mkdir(parents=True)
    (tmp / R.LEADERBOARD).write_text(board)
    return tmp


def test_a_new_board_with_few_results_still_generates(tmp_path):
    """A world-v2 board filed before any world-v2 result (or with few): README says what is not filed yet."""
    root = _mini_repo(tmp_path, BOARD_V2)
    (root / "README.md").write_text("".join(f"<!-- augen:{n} -->\n<!-- /augen:{n} -->\n" for n in R.BLOCKS))
    assert R.main(["--root", str(root)]) == 0
    text = (root / "README.md").read_text()
    assert "protocol `world-v2`, hash `0123456789ab`" in text and "| 1 | gen-a | 0.300 ± 0.010 |" in text
    assert "No control has results filed under `leaderboards/results/world-v2/`" in text
    assert "The ablation has not been run" in text and "has not been recorded yet" in text
    assert R.main(["--root", str(root), "--check"]) == 0


def test_a_missing_source_is_an_error_naming_the_file(tmp_path, capsys):
    root = _mini_repo(tmp_path, BOARD_V2)
    (root / R.BENCH_JSON).unlink()
    (root / "README.md").write_text("<!-- augen:world -->\nkept\n<!-- /augen:world -->\n"
                                    "<!-- augen:throughput -->\n<!-- /augen:throughput -->\n")
    before = (root / "README.md").read_text()
    assert R.main(["--root", str(root)]) == 2
    assert "reports/bench.json: missing (written by `tox -e bench" in capsys.readouterr().err
    assert (root / "README.md").read_text() == before  # nothing written
    assert sorted(p.name for p in root.iterdir()) == ["README.md", "bench", "leaderboards", "reference", "reports"]


def test_write_is_atomic_and_check_names_stale_blocks(tmp_path, capsys, monkeypatch):
    readme = tmp_path / "README.md"
    readme.write_text("x\n<!-- augen:world -->\nold\n<!-- /augen:world -->\n")
    assert R.main(["--root", str(tmp_path), "--check"]) == 1
    assert "block(s) world" in capsys.readouterr().err
    writes = []
    monkeypatch.setattr(R, "atomic_write_text", lambda p, t: writes.append(p) or Path(p).write_text(t))
    assert R.main(["--root", str(tmp_path)]) == 0 and writes == [readme]
    assert R.main(["--root", str(tmp_path)]) == 0 and writes == [readme]  # up to date: not written again
    assert R.main(["--root", str(tmp_path), "--check"]) == 0


# -- the real README -------------------------------------------------------------------------------------------------


def test_readme_is_not_stale(capsys):
    """README.md is what `python -m bench.publish.readme` writes from the repository's files as they are now; when
    this fails, run that command (never edit a generated block by hand)."""
    assert R.main(["--root", str(ROOT), "--check"]) == 0, capsys.readouterr().err


# numbers README.md may hold outside generated blocks: names and definitions, not results
ALLOWED = {"0": "rank 0 (the process that merges)", "1": '"1x", 1/(t+1), O(1): definitions',
           "1.5": "Stable Diffusion 1.5 (a model's name)", "2.0": "OpenFace 2.0 (a tool's name)",
           "0-5": "the FACS intensity scale", "0-7": "AffectNet's expression codes"}


def test_readme_has_no_number_outside_generated_blocks():
    loose = R.loose_numbers((ROOT / "README.md").read_text())
    assert [(line, n) for line, n in loose if n not in ALLOWED] == []


def test_loose_numbers_skip_blocks_code_and_links():
    text = ("A 12 here\n<!-- augen:world -->\n99\n<!-- /augen:world -->\n`77` and [x](a/3.png) AU01 world-v1\n"
            "```\n55\n```\nlast 4.5 and 2,000\n")
    assert R.loose_numbers(text) == [(1, "12"), (9, "4.5"), (9, "2,000")]


# -- the timing wrapper ----------------------------------------------------------------------------------------------


def test_timed_propagates_the_exit_code_and_records_only_success(tmp_path):
    f = tmp_path / "reports" / "bench_timing.json"
    assert timed.main(["fails", "--file", str(f), "--", sys.executable, "-c", "import sys; sys.exit(3)"]) == 3
    assert not f.exists()
    assert timed.main(["first", "--file", str(f), "--", sys.executable, "-c", "pass"]) == 0
    assert timed.main(["second", "--file", str(f), "--", sys.executable, "-c", "import time; time.sleep(0.2)"]) == 0
    data = json.loads(f.read_text())
    assert list(data) == ["first", "second"] and 0.1 <= data["second"] < 30
    assert timed.main(["first", "--file", str(f), "--", sys.executable, "-c", "pass"]) == 0
    assert set(json.loads(f.read_text())) == {"first", "second"}  # rerunning a label replaces it, keeps the others
    assert [p.name for p in f.parent.iterdir()] == ["bench_timing.json"]  # no temp or lock file left


def test_timed_default_file_is_under_the_workspace(tmp_path, monkeypatch):
    monkeypatch.setenv("AUGEN_HOME", str(tmp_path))
    assert timed.main(["x", "--", sys.executable, "-c", "pass"]) == 0
    assert set(json.loads((tmp_path / "reports" / "bench_timing.json").read_text())) == {"x"}


@pytest.mark.parametrize("argv", [[], ["label"], ["label", "--"], ["--", "true"], ["a", "b", "--", "true"]])
def test_timed_usage_errors(argv, capsys):
    assert timed.main(argv) == 2
    assert "usage" in capsys.readouterr().err


def test_timed_refuses_a_timing_file_that_is_not_a_mapping(tmp_path, capsys):
    f = tmp_path / "t.json"
    f.write_text("[1, 2]")
    assert timed.main(["x", "--file", str(f), "--", sys.executable, "-c", "pass"]) == 2
    assert "want a mapping" in capsys.readouterr().err and f.read_text() == "[1, 2]"


def test_timed_missing_command_exits_127(tmp_path):
    assert timed.main(["x", "--file", str(tmp_path / "t.json"), "--", str(tmp_path / "no-such-command")]) == 127


# -- reports written from files (bench.publish.refreport) ------------------------------------------------------------


def test_refreport_labelled_split_and_throughput_come_from_files():
    from bench.publish.refreport import bench_paragraph, labelled_split

    r = res(au_f1={"value": 0.8, "per_au": {"AU01": 0.9, "AU02": 0.8, "AU07": None}},
            au_f1_condition={"value": 0.7, "per_au": {"AU01": 0.95, "AU02": 0.7, "AU07": 0.25, "AU10": None}})
    assert labelled_split({"gen": r, "all": res(au_f1={"value": 1, "per_au": {"AU01": 1.0}},
                                                  au_f1_condition={"value": 1, "per_au": {"AU01": 1.0}})}) == [
        "- `gen`: requested-vs-judge F1 0.70-0.95 on the 2 AUs it labels, 0.25 on the 1 it does not (AU07)."]
    data = {"datetime": "2026-01-02T00:00:00", "benchmarks": [
        {"name": "test_pipe", "group": "g", "stats": {"mean": 2.2}, "extra_info": {"items": 22, "baseline": "test_bare"}},
        {"name": "test_bare", "group": "g", "stats": {"mean": 2.0}, "extra_info": {"items": 22}}]}
    assert bench_paragraph(data, "g") == (
        "`tox -e bench` (`test_pipe`, run 2026-01-02): 2.20 s per round (10 img/s), against 2.00 s for `test_bare` in "
        "the same run: **1.100x** its time.")
    with pytest.raises(ValueError, match="no benchmark with a baseline"):
        bench_paragraph(data, "other")


def test_refreport_writes_a_judge_report_from_its_json(tmp_path):
    from bench.judges.world import WorldJudgeConfig, judge_markdown
    from bench.publish.refreport import main

    src = ROOT / R.JUDGE_WEIGHTS / f"{WorldJudgeConfig().judge_id}.json"
    assert main([str(tmp_path / "judge.md"), "--judge", str(src)]) == 0
    assert (tmp_path / "judge.md").read_text() == judge_markdown(json.loads(src.read_text()))


def test_throughput_rows_with_several_baselines_a_ceiling_and_a_target_ratio():
    from bench.devtools.benchreport import markdown
    from bench.publish.throughput import rows

    data = {"machine_info": {}, "datetime": "2026-01-02T03:04:05", "benchmarks": [
        {"name": "two", "group": "g", "stats": {"mean": 5.0},
         "extra_info": {"items": 100, "baseline": ["one", "thin"], "target_ratio": 1.6,
                        "ceiling": {"single": "thin", "full": "one", "workers": 2}}},
        {"name": "one", "group": "g", "stats": {"mean": 8.0}, "extra_info": {"items": 100}},
        {"name": "thin", "group": "g", "stats": {"mean": 6.0}, "extra_info": {"items": 50}}]}
    two = rows(data)[0]
    # 20 img/s against 12.5 and 8.33; ceiling 2 x 8.33 / 12.5 = 1.333
    assert two["ratios"] == [("one", pytest.approx(1.6)), ("thin", pytest.approx(2.4))]
    assert two["ceiling"] == pytest.approx(4 / 3) and two["met"] is True and two["target"] == "1.6x"
    assert "| `two` | g | 5.0000 | 20 img/s | 1.60x `one`, 2.40x `thin` (ceiling 1.33x) | 1.6x | yes |" in markdown(data)
    assert [r["name"] for r in R.bench_rows(data)] == ["two"]  # both baselines left out of the README's block
    data["benchmarks"][0]["stats"]["mean"] = 6.0
    assert rows(data)[0]["met"] is False


def test_interval_coverage_block():
    rng = np.random.default_rng(0)
    m = {"runs": 40, "block_images": 400, "scale": 1.0, "seed_only_runs": 10,
         "tasks": {"expression": {"blocks": rng.normal(0.3, 0.02, (40, 3)).tolist(),
                                  "seed_only": rng.normal(0.3, 0.002, (10, 3)).tolist()}}}
    text = R.block_coverage_block(m)
    assert "40 independent condition draws" in text and "expression 0." in text and "(seed-only: " in text
    assert "not been measured" in R.block_coverage_block(None)
