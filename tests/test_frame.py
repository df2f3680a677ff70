"""Per-sample tables beside results files, the tidy results DataFrame, and `augen table --format md|csv`: the
sidecar holds what the judge read of each image, both files are byte-identical on rerun, the frame's rows are the
JSON's numbers, and two entries with one generator name get two column names."""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.cli import main
from bench.core.errors import DataError, UsageError
from bench.core.results import (
    entry_names,
    load_results,
    markdown_table,
    metric,
    samples_csv_gz,
    samples_path,
    write_results,
)
from bench.data.aus import AU_COLUMNS, EXPRESSIONS
from bench.generation.base import get_generator, write_generated
from bench.publish.frame import COLUMNS, frame_csv, results_frame, samples_frame
from bench.publish.leaderboard import load_filed
from bench.publish.submit import submit
from bench.scoring.samples import per_sample_table
from bench.scoring.score import score
from bench.world.conditions import world_conditions

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.helpers.protocols import mini_protocol  # noqa: E402

N = 20
WORLD = {"seed": 0, "image_size": 64}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A mini protocol, a `real` and a `noise` set answering it, a cache shared by this module's tests."""
    base = tmp_path_factory.mktemp("frame")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUGEN_CACHE", str(base / "cache"))
        proto = mini_protocol(base, N)
        sets = {name: write_generated(get_generator(name, world=WORLD), world_conditions(WORLD, "val", N),
                                      base / name, protocol="world-mini") for name in ("real", "noise")}
        yield proto, sets, base


@pytest.fixture(scope="module")
def scored(env):
    """`augen score --out` of both sets: {name: results path}."""
    proto, sets, base = env
    out = {}
    for name, root in sets.items():
        out[name] = base / "scored" / f"{name}.json"
        assert main(["score", str(root), "--protocol", proto, "--out", str(out[name]), "--quiet"]) == 0
    return out


def test_sidecar_holds_claims_and_readings(env, scored):
    proto, sets, _ = env
    res = json.loads(scored["real"].read_text())
    side = scored["real"].parent / "real.samples.csv.gz"
    assert res["samples"] == {"file": side.name, "sha256": hashlib.sha256(side.read_bytes()).hexdigest(), "rows": N}
    per_image: dict = {}
    score(sets["real"], proto, per_image=per_image)  # the readings the metrics read (from the cache)
    r = per_image["readings"]
    df = samples_frame(scored["real"])
    assert len(df) == N and df["row"].tolist() == list(range(N))
    assert df["file"].tolist() == [f"{i:08d}.png" for i in range(N)] == per_image["files"]
    assert not any("feature" in c for c in df.columns)
    assert [c for c in df.columns if c.startswith("judge_expression_p_")] == [f"judge_expression_p_{e}"
                                                                               for e in EXPRESSIONS]
    for c in ("claimed_expression", "judge_expression", "judge_skin_tone", "judge_gender", "judge_age_group"):
        assert c in df.columns
    j = AU_COLUMNS.index("AU12")
    np.testing.assert_allclose(df["claimed_AU12"], np.round(per_image["claimed_intensity"][:, j].astype(float), 4))
    np.testing.assert_allclose(df["judge_AU12"], np.round(r["au_intensity"][:, j].astype(float), 4))
    np.testing.assert_allclose(df["judge_AU12_p"], np.round(r["au_prob"][:, j].astype(float), 4))
    np.testing.assert_allclose(df["judge_expression_p_happy"],
                               np.round(r["expression_prob"][:, EXPRESSIONS.index("happy")].astype(float), 4))
    assert df["judge_expression"].tolist() == [EXPRESSIONS[k] for k in r["expression_prob"].argmax(1)]
    assert df["claimed_expression"].tolist() == [EXPRESSIONS[k] for k in per_image["claimed_expression"]]
    assert df["judge_skin_tone"].tolist() == r["skin_tone_prob"].argmax(1).tolist()
    text = gzip.decompress(side.read_bytes()).decode()
    assert all(len(cell.split(".")[1]) <= 4 for line in text.splitlines()[1:] for cell in line.split(",")
               if "." in cell and not cell.endswith(".png"))


def test_score_writes_both_files_byte_identically_again(env, scored, tmp_path):
    proto, sets, _ = env
    out = tmp_path / "again.json"
    side = samples_path(out)
    assert main(["score", str(sets["real"]), "--protocol", proto, "--out", str(out), "--quiet"]) == 0
    first = side.read_bytes()
    assert first == (scored["real"].parent / "real.samples.csv.gz").read_bytes()  # a different results name
    assert first[4:8] == b"\0\0\0\0"  # gzip mtime 0
    assert main(["score", str(sets["real"]), "--protocol", proto, "--out", str(out), "--quiet"]) == 0
    assert side.read_bytes() == first
    assert json.loads(out.read_text())["samples"]["sha256"] == hashlib.sha256(first).hexdigest()


def test_per_sample_table_rounds_names_and_marks_missing():
    claimed = np.array([[np.nan] * 17, [1.23456] * 17], np.float32)
    prob = np.array([[0.5, 0.5] + [np.nan] * 6, np.eye(8)[3]])
    t = per_sample_table(["a.png", "b.png"], claimed, np.array([-1, 2]),
                         {"au_intensity": np.full((2, 17), -0.00001), "expression_prob": prob,
                          "gender_prob": np.array([[0.2, 0.8], [0.9, 0.1]]), "features": np.zeros((2, 256))})
    assert t["claimed_AU01"][1] == 1.2346 and math.isnan(t["claimed_AU01"][0])
    assert t["claimed_expression"] == [None, "sad"]
    assert t["judge_AU01"] == [0.0, 0.0] and str(t["judge_AU01"][0]) == "0.0"  # no -0.0
    assert "judge_AU01_p" not in t and not any("feature" in k for k in t)  # a reading absent, features never
    assert t["judge_expression"] == [None, "surprise"] and t["judge_gender"] == [1, 0]
    with pytest.raises(ValueError, match="au_prob"):
        per_sample_table(["a.png"], claimed[:1], np.array([0]), {"au_prob": np.zeros((2, 17))})
    a = samples_csv_gz(t)
    assert a == samples_csv_gz(t) and gzip.decompress(a).decode().splitlines()[1].startswith("a.png,0,,")


def _with_seeds(path: Path, out: Path, **edit) -> Path:
    """A copy of a results file with a downstream metric holding per-seed values (and `edit` applied)."""
    res = json.loads(path.read_text())
    res["metrics"]["downstream_au_f1_1x"] = metric(0.2, 3, True, "downstream", (0.1, 0.3), per_seed=[0.1, 0.2, 0.3])
    for k, v in edit.items():
        res[k] = {**res[k], **v}
    write_results(out, res)
    return out


def test_results_frame_rows_are_the_json(scored, tmp_path):
    real = _with_seeds(scored["real"], tmp_path / "real.json")
    df = results_frame([real, scored["noise"]])
    assert list(df.columns) == list(COLUMNS)
    for path, entry in ((real, "real"), (scored["noise"], "noise")):
        res = json.loads(path.read_text())
        rows = df[df.entry == entry]
        agg = rows[rows.seed.isna()].set_index("metric")
        assert set(agg.index) == set(res["metrics"])
        assert (rows.protocol == res["protocol"]["id"]).all() and (rows.protocol_hash == res["protocol"]["hash"]).all()
        assert (rows.config == json.dumps(res["generator"]["config"], sort_keys=True)).all()
        for name, m in res["metrics"].items():
            row = agg.loc[name]
            assert row.family == m["family"] and row.n == m["n"] and row.higher_is_better == m["higher_is_better"]
            if m["value"] is None:
                assert math.isnan(row.value)
            else:
                assert row.value == pytest.approx(m["value"])
            if m["ci95"]:
                assert (row.ci_low, row.ci_high) == pytest.approx(tuple(m["ci95"]))
            else:
                assert math.isnan(row.ci_low) and math.isnan(row.ci_high)
    seeds = df[(df.entry == "real") & (df.metric == "downstream_au_f1_1x")]
    assert seeds.seed.tolist()[1:] == [0.0, 1.0, 2.0] and math.isnan(seeds.seed.iloc[0])
    assert seeds.value.tolist() == pytest.approx([0.2, 0.1, 0.2, 0.3]) and seeds.n.tolist() == [3, 1, 1, 1]
    assert len(df) == sum(len(json.loads(p.read_text())["metrics"]) for p in (real, scored["noise"])) + 3
    assert results_frame(scored["real"].parent).entry.unique().tolist() == ["noise", "real"]  # a folder, sorted


def test_table_csv_is_the_frame_and_deterministic(scored, tmp_path, capsys):
    paths = [str(scored["real"]), str(scored["noise"])]
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert main(["table", *paths, "--format", "csv", "--out", str(a)]) == 0
    assert main(["table", *paths, "--format", "csv", "--out", str(b)]) == 0
    assert a.read_bytes() == b.read_bytes()
    assert capsys.readouterr().out.startswith("entry,generator,file,protocol,")
    back = pd.read_csv(a)
    frame = results_frame(paths)
    assert len(back) == len(frame) and back.columns.tolist() == frame.columns.tolist()
    np.testing.assert_array_equal(back.value.to_numpy(), frame.value.to_numpy())
    assert back.seed.isna().all()
    assert frame_csv(frame) == a.read_text()


def test_table_md_unchanged_but_names_and_n_fixed(scored, tmp_path, capsys):
    paths = [str(scored["real"]), str(scored["noise"])]
    assert main(["table", *paths]) == 0
    text = capsys.readouterr().out
    assert "| family | metric | real | noise |" in text and f"n = {N} per generator" in text
    assert text == markdown_table(load_results(paths)) + "\n"  # without collisions: the output as before
    twin = _with_seeds(scored["real"], tmp_path / "real-v2.json", sampleset={"n": 50})
    assert main(["table", paths[0], str(twin), paths[1]]) == 0
    text = capsys.readouterr().out
    assert "| family | metric | real (real) | real (real-v2) | noise |" in text
    assert f"n = {N} (real (real)), 50 (real (real-v2)), {N} (noise)" in text
    assert "| downstream | downstream_au_f1_1x ↑ | n/a | 0.200 | n/a |" in text  # the first file lacks it
    df = results_frame([paths[0], twin])
    assert sorted(df.entry.unique()) == ["real (real)", "real (real-v2)"] and set(df.generator) == {"real"}
    assert main(["table", paths[0], paths[0]]) == 2 and "given twice" in capsys.readouterr().err


def test_entry_names_fall_back_to_numbers_and_keep_protocols_apart():
    r = [{"generator": {"name": "g"}, "protocol": {"id": p}} for p in ("a", "a", "a", "b")]
    assert entry_names(r, ["x/s.json", "y/s.json", "t.json", "s.json"]) == ["g (s) #1", "g (s) #2", "g (t)", "g"]
    with pytest.raises(UsageError, match="twice"):
        entry_names(r[:2], ["s.json", "./s.json"])


def test_samples_frame_refuses_a_changed_or_missing_table(scored, tmp_path):
    res = json.loads(scored["noise"].read_text())
    copy = tmp_path / "noise.json"
    write_results(copy, res)
    with pytest.raises(DataError, match="not readable"):
        samples_frame(copy)
    (tmp_path / res["samples"]["file"]).write_bytes(gzip.compress(b"file,row\n", mtime=0))
    with pytest.raises(DataError, match="sha256 differs"):
        samples_frame(copy)
    del res["samples"]
    write_results(copy, res)
    with pytest.raises(DataError, match="no per-sample table"):
        samples_frame(copy)


def test_submit_files_the_table_beside_and_replace_replaces_both(env, tmp_path):
    proto, sets, _ = env
    results = tmp_path / "results"
    out = submit(str(sets["noise"]), proto, name="noisy", results_dir=results, downstream=False)
    side = results / "world-mini" / "noisy.samples.csv.gz"
    good = side.read_bytes()
    assert json.loads(out.read_text())["samples"]["file"] == side.name
    side.write_bytes(b"stale")
    out.write_text(out.read_text().replace('"noise"', '"stale"'))
    submit(str(sets["noise"]), proto, name="noisy", results_dir=results, downstream=False, replace=True)
    assert side.read_bytes() == good and len(samples_frame(out)) == N
    assert json.loads(out.read_text())["generator"]["name"] == "noise"
    assert [name for name, _ in load_filed(results / "world-mini")] == ["noisy"]  # the table is not an entry


def test_submit_generator_files_a_table_too(env, tmp_path):
    proto, _, _ = env
    out = submit("generator:real", proto, results_dir=tmp_path / "results", downstream=False, work=tmp_path / "run")
    df = samples_frame(out)  # from the run's set, its readings from the feature cache
    assert df.file.tolist() == [f"{i:08d}.png" for i in range(N)] and df.judge_AU12.notna().all()
    assert df.claimed_expression.notna().all() and len(json.loads(out.read_text())["samples"]["sha256"]) == 64


def test_import_bench_stays_light_and_exports_the_frames():
    code = ("import sys, bench; assert 'pandas' not in sys.modules, 'pandas imported'; "
            "assert callable(bench.results_frame) and callable(bench.samples_frame); "
            "assert 'pandas' in sys.modules; print('ok')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
