"""Leaderboard hygiene (issue 18, point 6):

    one set, one entry   a set whose content hash is already filed under the protocol is refused before scoring
                         (folder, tar or generator:NAME; photographs against the same reference), naming the entry;
                         only --replace under that entry's own name rescores it
    control names        a folder named `real` by its generator is not filed as the `real` control: --name is asked
                         for, --replace never suggested; the filed control's own set may be rescored
    ties                 equal win rates and equal training values share a rank (1, 2, 2, 4); adjacent tests still run
    report folders       report.md, report.html and figures are rebuilt: the report's own files an earlier run wrote
                         and this one does not are removed, nothing else
    augen table          columns are the filed names (submission name, or the stem in a protocol's results folder),
                         made unique, each set with its own n
"""

from __future__ import annotations

import json
import shutil
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

from bench.core.errors import AlreadyExists, DataError
from bench.core.protocol import protocol_hash
from bench.core.results import entry_names, load_results, markdown_table, write_results
from bench.data.sampleset import SampleSet
from bench.publish import leaderboard as LB
from bench.publish import submit as S
from bench.scoring.protocols import load_protocol

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.helpers.protocols import control_set, mini_protocol  # noqa: E402
from tests.helpers.results import fixture_results  # noqa: E402

N = 20


@pytest.fixture(scope="module")
def proto_path(tmp_path_factory) -> str:
    return mini_protocol(tmp_path_factory.mktemp("proto"), N)


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    return control_set(tmp_path_factory.mktemp("good") / "set", N)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AUGEN_CACHE", str(tmp_path / "cache"))


def _renamed(src: Path, dest: Path, generator: str) -> Path:
    """A copy of a set whose manifest names another generator (same images and labels, hence same content hash)."""
    shutil.copytree(src, dest)
    m = yaml.safe_load((dest / "manifest.yaml").read_text())
    m["generator"] = {**m["generator"], "name": generator}
    (dest / "manifest.yaml").write_text(yaml.safe_dump(m))
    return dest


def _never_scored(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("scored a submission that should have been refused first")
    monkeypatch.setattr(S, "score_with_samples", boom)
    monkeypatch.setattr(S.runner, "score", boom)


# -- one set, one entry ---------------------------------------------------------------------------------------

def test_a_set_already_filed_is_refused_before_scoring(good, proto_path, tmp_path, cache, monkeypatch):
    results = tmp_path / "results"
    first = S.submit(str(good), proto_path, name="gen-a", results_dir=results, downstream=False)
    folder = first.parent
    with tarfile.open(tmp_path / "same.tar", "w") as tf:
        tf.add(good, arcname="set")
    renamed = _renamed(good, tmp_path / "renamed", "someone-else")  # same pixels and labels, another generator name
    _never_scored(monkeypatch)
    for source, name, replace in ((good, "gen-b", False), (tmp_path / "same.tar", "gen-c", False),
                                  (renamed, None, False), (good, "gen-b", True)):
        with pytest.raises(AlreadyExists) as e:
            S.submit(str(source), proto_path, name=name, results_dir=results, downstream=False, replace=replace)
        msg = str(e.value)
        assert "already filed as 'gen-a'" in msg and "gen-a.json" in msg and "\n" not in msg, msg
    assert sorted(p.name for p in folder.iterdir()) == ["gen-a.json", "gen-a.samples.csv.gz"]
    with pytest.raises(AlreadyExists, match="pass --replace"):  # its own name without --replace
        S.submit(str(good), proto_path, name="gen-a", results_dir=results, downstream=False)
    monkeypatch.undo()
    monkeypatch.setenv("AUGEN_CACHE", str(tmp_path / "cache"))
    assert S.submit(str(good), proto_path, name="gen-a", results_dir=results, downstream=False, replace=True) == first


def test_generator_sources_are_checked_after_generation_before_scoring(proto_path, tmp_path, cache, monkeypatch):
    results = tmp_path / "results"
    out = S.submit("generator:noise", proto_path, results_dir=results, downstream=False, work=tmp_path / "run")
    filed = json.loads(out.read_text())
    assert out.name == "noise.json" and filed["submission"] == {"name": "noise", "source": "generator"}
    _never_scored(monkeypatch)
    with pytest.raises(AlreadyExists, match="already filed as 'noise'"):  # the same run filed again under a new name
        S.submit("generator:noise", proto_path, name="noise-again", results_dir=results, downstream=False,
                 work=tmp_path / "run")
    assert not (results / "world-mini" / "noise-again.json").exists()


def test_check_not_filed_reads_the_folder_and_the_reference(tmp_path):
    folder = tmp_path / "faces-x"
    folder.mkdir()
    (folder / "a.json").write_text(json.dumps({"sampleset": {"content_hash": "h1"}, "reference": {"content_hash": "r1"}}))
    (folder / "a.timing.json").write_text(json.dumps({"sampleset": {"content_hash": "h2"}}))
    S.check_not_filed(folder, "h2", "b", False, "src")  # timing files are not entries
    with pytest.raises(AlreadyExists, match="already filed as 'a'"):
        S.check_not_filed(folder, "h1", "b", False, "src")
    with pytest.raises(AlreadyExists, match="already filed as 'a'"):  # --replace under another name
        S.check_not_filed(folder, "h1", "b", True, "src")
    S.check_not_filed(folder, "h1", "a", True, "src")  # --replace under its own name
    with pytest.raises(AlreadyExists, match="already filed as 'a'"):  # photographs: same set, same reference
        S.check_not_filed(folder, "h1", "b", False, "src", reference_hash="r1")
    S.check_not_filed(folder, "h1", "b", False, "src", reference_hash="r2")  # another reference: another board
    (folder / "bad.json").write_text("{")
    with pytest.raises(DataError, match="bad.json"):
        S.check_not_filed(folder, "h9", "b", False, "src")


# -- control names ----------------------------------------------------------------------------------------------

def test_a_folder_named_like_a_control_needs_its_own_name(good, proto_path, tmp_path, cache, monkeypatch):
    results = tmp_path / "results"
    with tarfile.open(tmp_path / "real.tar", "w") as tf:
        tf.add(good, arcname="set")
    for source in (good, tmp_path / "real.tar"):
        with pytest.raises(DataError) as e:
            S.submit(str(source), proto_path, results_dir=results, downstream=False)
        msg = str(e.value)
        assert "--name" in msg and "--replace" not in msg and "generator:real" in msg, msg
    assert not results.exists() or not any(results.rglob("*.json"))
    # a filed `real` control of other content: still refused, never a hint to overwrite it
    folder = results / "world-mini"
    folder.mkdir(parents=True)
    (folder / "real.json").write_text(json.dumps({"sampleset": {"content_hash": "0" * 64}}))
    with pytest.raises(DataError, match="--name") as e:
        S.submit(str(good), proto_path, results_dir=results, downstream=False, replace=True)
    assert "--replace" not in str(e.value)
    assert json.loads((folder / "real.json").read_text())["sampleset"]["content_hash"] == "0" * 64
    # the filed control's own set: the name is the control's, and --replace rescores it
    (folder / "real.json").write_text(json.dumps({"sampleset": {"content_hash": SampleSet(good).content_hash()}}))
    with pytest.raises(AlreadyExists, match="pass --replace"):
        S.submit(str(good), proto_path, results_dir=results, downstream=False)
    out = S.submit(str(good), proto_path, results_dir=results, downstream=False, replace=True)
    assert out == folder / "real.json" and json.loads(out.read_text())["submission"]["name"] == "real"
    # an explicit name files it like any set (its content is filed as `real` now, so under another protocol folder)
    out = S.submit(str(good), proto_path, name="my-real", results_dir=tmp_path / "other", downstream=False)
    assert out.name == "my-real.json"


# -- ties share a rank ------------------------------------------------------------------------------------------

def test_competition_ranks():
    assert LB.competition_ranks([0.9, 0.5, 0.5, 0.1]) == [1, 2, 2, 4]
    assert LB.competition_ranks([0.3, 0.1 + 0.2, 0.2]) == [1, 1, 3]  # one value summed two ways
    assert LB.competition_ranks([0.7, float("nan"), None]) == [1, 2, 2]
    assert LB.competition_ranks([]) == []


def test_equal_win_rates_share_a_rank():
    def e(name, fd, f1):
        return (name, {"metrics": {"fd_world": {"value": fd, "higher_is_better": False},
                                   "au_f1": {"value": f1, "higher_is_better": True}},
                       "protocol": {"hash": "h"}, "generator": {"name": name}, "sampleset": {"n": 10}})
    filed = [e("c", 1.0, 0.9), e("a", 2.0, 0.5), e("b", 2.0, 0.5), e("d", 3.0, 0.1)]
    rows, _ = LB.rank(filed, "h", [("fd_world", "FD"), ("au_f1", "AU F1")])
    assert [(r["name"], r["rank"]) for r in rows] == [("c", 1), ("a", 2), ("b", 2), ("d", 4)]


def _entry(name: str, tv: float, lo: float = 0.5) -> dict:
    metrics = {"downstream_training_value": {"value": tv, "ci95": [tv - 0.01, tv + 0.01], "per_seed": [tv] * 3,
                                             "family": "downstream", "higher_is_better": True}}
    for k in ("au_kappa", "expression_kappa"):
        metrics[k] = {"value": lo + 0.05, "ci95": [lo, lo + 0.1], "family": "alignment", "higher_is_better": True}
    gen = {"name": name, "real_data": {"labelled_images": 100}}
    return {"protocol": {"id": "world-v2", "hash": "h"}, "generator": gen, "sampleset": {"n": 2000},
            "metrics": metrics}


def test_equal_training_values_share_a_rank_and_are_still_tested(monkeypatch):
    import bench.publish.significance as sig

    proto = load_protocol("world-v2")
    filed = [("gen-a", _entry("gen-a", 0.40)), ("gen-b", _entry("gen-b", 0.30)), ("gen-c", _entry("gen-c", 0.30)),
             ("real", _entry("real", 0.30)), ("gen-d", _entry("gen-d", 0.20)), ("gen-e", _entry("gen-e", 0.10, -0.2))]
    filed[3][1]["generator"].pop("real_data")
    rows, _ = LB.rank_by_training_value(filed, "h", proto, [])
    by = {r["name"]: r["rank"] for r in rows}
    assert by == {"gen-a": 1, "gen-b": 2, "gen-c": 2, "gen-d": 4, "real": "ref", "gen-e": "-"}
    seen = []

    def adjacent(results, proto, *a, **k):
        seen.append([r["generator"]["name"] for r in results])
        return [None] + [{"significant": False, "p": 1.0, "p_holm": 1.0}] * (len(results) - 1)
    monkeypatch.setattr(sig, "adjacent", adjacent)
    rows, _, cols, _ = LB.board(proto, filed, "h")
    assert seen == [["gen-a", "gen-b", "gen-c", "gen-d"]]  # the tie's members are tested against each other too
    ranked = [r for r in rows if r["role"] == "ranked"]
    assert [r["rank"] for r in ranked] == [1, 2, 2, 4] and all("sig" in r for r in ranked)
    md = LB.markdown_board(rows, [], proto.id, "h", {}, cols, "")
    assert "| 2 | gen-b |" in md and "| 2 | gen-c |" in md and "| 4 | gen-d |" in md


# -- report folders are rebuilt ------------------------------------------------------------------------------------

STALE = ("report.html", "scaling_utility.png", "per_au_gone.png", "pareto.png", "demographics.png", "samples_old.png")
KEPT = ("notes.md", "copy_rate.md", "contact_sheet.png", "samples_old.png.bak", "my_pareto.png")


def _litter(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for f in STALE + KEPT:
        (out / f).write_bytes(b"old")
    (out / "samples_folder.png").mkdir()  # a folder named like a figure is not the report's: left alone


def test_report_folder_is_rebuilt_not_accumulated(tmp_path):
    from bench.publish.report import build_report

    proto = load_protocol("world-v1")  # no headline: no pareto figure; demographics absent from the fixture
    current = protocol_hash(proto, "fixture")
    for i, (name, n) in enumerate((("gen-a", 100), ("gen-b", 50))):
        write_results(tmp_path / "results" / proto.id / f"{name}.json", fixture_results(proto, name, i, current, n))
    out = tmp_path / "report"
    _litter(out)
    md, page = build_report(proto.id, out, {}, tmp_path / "results", current_hash=current)
    names = {p.name for p in out.iterdir()}
    assert not names & (set(STALE) - {"report.html"}), names & set(STALE)
    assert set(KEPT) <= names and (out / "samples_folder.png").is_dir()
    assert page.read_bytes() != b"old" and (out / "scaling_expression_accuracy.png").is_file()
    text = md.read_text()
    assert "scaling_expression_accuracy.png" in text and "n = 100 (gen-a), 50 (gen-b)" in text
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files left by atomic writes


def test_faces_report_folder_is_rebuilt_not_accumulated(tmp_path):
    from bench.publish.facesreport import build_faces_report

    proto = load_protocol("faces-v1")
    current = protocol_hash(proto, "fixture")
    for i, name in enumerate(("gen-a", "gen-b")):
        write_results(tmp_path / "results" / proto.id / f"{name}.json", fixture_results(proto, name, i, current))
    out = tmp_path / "report"
    _litter(out)
    md, _ = build_faces_report(proto, out, results_dir=tmp_path / "results")
    names = {p.name for p in out.iterdir()}
    written = {b for b in names if b.endswith(".png")} - set(KEPT) - {"samples_folder.png"}
    assert not names & (set(STALE) - {"report.html"}) and set(KEPT) <= names
    assert all(w in md.read_text() for w in written)  # every figure left is one this report shows


# -- augen table ---------------------------------------------------------------------------------------------------

def test_table_columns_are_filed_names_with_their_own_n(tmp_path, capsys):
    from bench.cli import main

    proto = load_protocol("world-v2")
    current = protocol_hash(proto, "fixture")
    folder = tmp_path / "results" / proto.id
    a = fixture_results(proto, "synfer-tiny", 0, current, 2000)
    b = fixture_results(proto, "synfer-tiny", 1, current, 50)
    c = {**fixture_results(proto, "synfer-tiny", 2, current, 2000), "submission": {"name": "sg-pl"}}
    paths = [folder / "synfer-tiny.json", folder / "synfer-tiny-published.json", tmp_path / "elsewhere.json"]
    for p, r in zip(paths, (a, b, c)):
        write_results(p, r)
    results = load_results(paths)
    names = entry_names(results, paths)
    assert names == ["synfer-tiny", "synfer-tiny-published", "sg-pl"]
    assert main(["table", *map(str, paths)]) == 0
    text = capsys.readouterr().out
    assert "| family | metric | synfer-tiny | synfer-tiny-published | sg-pl |" in text
    assert "n = 2000 (synfer-tiny), 50 (synfer-tiny-published), 2000 (sg-pl)" in text and "n = 2000 per" not in text
    # equal filed names (two results folders) are told apart; without paths, equal names are numbered
    other = tmp_path / "more" / proto.id / "synfer-tiny.json"
    write_results(other, b)
    names = entry_names(load_results([paths[0], other]), [paths[0], other])
    assert len(set(names)) == 2 and all(n.startswith("synfer-tiny") for n in names)
    table = markdown_table([a, b])
    assert "| synfer-tiny #1 | synfer-tiny #2 |" in table and "n = 2000 (synfer-tiny #1), 50 (synfer-tiny #2)" in table


def test_report_draws_each_filed_entrys_own_cached_set_and_names_the_missing(tmp_path, monkeypatch):
    """Without --sets, a grid is drawn only for a cached set whose content hash a filed result records (a cached set
    of the recorded folder name but other content is not shown), and the entries without one are named."""
    import json

    from bench.data.sampleset import SampleSet
    from bench.generation.base import get_generator, write_generated
    from bench.publish.report import build_report, cached_sets
    from bench.world.conditions import world_conditions

    monkeypatch.setenv("AUGEN_CACHE", str(tmp_path / "cache"))
    proto = load_protocol("world-v1")
    current = protocol_hash(proto, "fixture")
    runs = tmp_path / "cache" / "runs" / proto.id
    for name, n in (("gen-a", 6), ("gen-b", 7)):  # gen-a's cached set is the filed one; gen-b's holds other content
        folder = write_generated(get_generator("real", world={"seed": 0, "image_size": 64}),
                                 world_conditions({"seed": 0, "image_size": 64}, "val", n), runs / name / "set-x")
        res = fixture_results(proto, name, 0, current)
        res["sampleset"].update(folder="set-x", content_hash=SampleSet(folder).content_hash() if n == 6 else "c-b")
        write_results(tmp_path / "results" / proto.id / f"{name}.json", res)
    write_results(tmp_path / "results" / proto.id / "gen-c.json", fixture_results(proto, "gen-c", 1, current))
    filed = [(n, json.loads((tmp_path / "results" / proto.id / f"{n}.json").read_text()))
             for n in ("gen-a", "gen-b", "gen-c")]
    assert cached_sets(proto.id, filed) == {"gen-a": str(runs / "gen-a" / "set-x")}
    md, _ = build_report(proto.id, tmp_path / "report", None, tmp_path / "results", current_hash=current)
    text = md.read_text()
    assert "samples_gen-a.png" in text and "samples_gen-b.png" not in text
    assert "No sample grid for gen-b, gen-c: their sets are not in this machine's run cache" in text
