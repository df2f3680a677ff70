"""augen score end to end on a tiny protocol (a 1-epoch judge trained into a temporary cache)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

from bench.core.errors import DataError
from bench.core.paths import PROTOCOLS as PROTOCOL_DIR
from bench.generation.base import get_generator, write_generated
from bench.scoring.protocols import load_protocol
from bench.scoring.score import score
from bench.world.conditions import world_conditions

N = 60


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    monkeypatch.setenv("AUGEN_CACHE", str(tmp_path / "cache"))
    s = yaml.safe_load((PROTOCOL_DIR / "world-v1.yaml").read_text())
    s.update(id="tiny-v1", conditions={"split": "val", "n": N}, reference={"split": "test", "n": 80},
             train_reference={"split": "train", "n": 80}, bootstrap={"n": 20, "seed": 0, "alpha": 0.05},
             judge={"kind": "world", "config": {"train_per_epoch": 256, "epochs": 1, "n_eval": 64, "batch_size": 64}})
    s["realism"].update(kid_subsets=10, kid_subset_size=40)
    path = tmp_path / "tiny-v1.yaml"
    path.write_text(yaml.safe_dump(s))
    proto = load_protocol(str(path))
    conds = world_conditions(s["world"], "val", N)
    sets = {}
    for name in ("real", "noise"):
        sets[name] = write_generated(get_generator(name, world=s["world"]), conds, tmp_path / name, protocol=proto.id)
    return proto, sets, tmp_path


def _strip(res: dict) -> dict:
    return {k: v for k, v in res.items() if k not in ("created", "stage_seconds", "throughput_images_per_s")}


def test_score_results_schema_determinism_and_cache(tiny):
    proto, sets, tmp = tiny
    res = score(sets["real"], proto)
    assert res["schema_version"] == "1" and res["protocol"]["id"] == "tiny-v1" and len(res["protocol"]["hash"]) == 64
    assert set(res["metrics"]) == {k for k, v in proto.metric_info.items() if v["family"] != "downstream"}  # not asked
    for name, m in res["metrics"].items():
        assert m["n"] == N and m["higher_is_better"] == proto.metric_info[name]["higher_is_better"]
    assert res["metrics"]["au_f1"]["ci95"] is not None and "per_au" in res["metrics"]["au_f1"]
    assert res["generator"]["name"] == "real" and res["packages"]["torch"]
    assert str(tmp) not in json.dumps(res)  # no path of this machine in results that get committed
    (judge,) = res["judges"].values()
    assert len(judge["sha256"]) == 64 and "au_mean_f1" in judge["ceiling"]
    cached = list((tmp / "cache" / "features").rglob("*.npz"))
    assert len(cached) == 3  # the set, the reference, the train reference
    again = score(sets["real"], proto)
    assert _strip(again) == _strip(res)  # same inputs, same numbers (second time from the cache)


def test_noise_is_far_from_real(tiny):
    proto, sets, _ = tiny
    real, noise = score(sets["real"], proto), score(sets["noise"], proto)
    assert noise["metrics"]["fd_world"]["value"] > 5 * real["metrics"]["fd_world"]["value"]
    assert noise["metrics"]["precision"]["value"] < real["metrics"]["precision"]["value"]


def test_score_refuses_wrong_size_and_tiny_sets(tiny, tmp_path):
    from conftest import write_world
    proto, _, _ = tiny
    with pytest.raises(DataError, match=r"images are \(32, 32\), protocol tiny-v1 scores \(64, 64\)"):
        score(write_world(tmp_path / "small", n=30), proto)


def test_cli_generate_and_score(tiny, tmp_path):
    proto, _, _ = tiny
    env_run = [sys.executable, "-m", "bench.cli"]
    r = subprocess.run([*env_run, "generate", "shuffled", "--protocol", str(proto.path), "--out", str(tmp_path / "sh")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([*env_run, "score", str(tmp_path / "sh"), "--protocol", str(proto.path),
                        "--out", str(tmp_path / "res.json")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "au_f1" in r.stdout and "alignment" in r.stdout
    res = json.loads((tmp_path / "res.json").read_text())
    assert res["generator"]["name"] == "shuffled"
    r = subprocess.run([*env_run, "score", str(tmp_path / "nope"), "--protocol", str(proto.path)],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "augen: error:" in r.stderr and "nope" in r.stderr


def test_table_refuses_mixed_protocol_hashes(tiny, tmp_path):
    from bench.core.results import load_results, markdown_table, write_results

    proto, sets, _ = tiny
    paths = []
    for name in ("real", "noise"):
        paths.append(tmp_path / f"{name}.json")
        write_results(paths[-1], score(sets[name], proto))
    text = markdown_table(load_results(paths))
    assert "| real | noise |" in text and "| realism | fd_world ↓ |" in text
    other = load_results(paths[:1])[0]
    other["protocol"]["hash"] = "0" * 64
    with pytest.raises(ValueError, match="not comparable"):
        markdown_table([*load_results(paths), other])


def test_stream_batches_keeps_row_order_with_two_workers(tmp_path):
    from conftest import write_world

    from bench.data.sampleset import SampleSet
    from bench.judges.cache import stream_batches

    root = write_world(tmp_path / "s", n=23)
    expected = np.stack([s.image for s in SampleSet(root)])
    for workers in (0, 2):
        got = np.concatenate(list(stream_batches(root, batch_size=4, workers=workers)))
        np.testing.assert_array_equal(got, expected)


def test_score_with_external_au_readings(tiny, tmp_path):
    from bench.data.aus import AU_INDEX, SUBSETS
    from bench.data.sampleset import SampleSet

    proto, sets, _ = tiny
    rows = list(SampleSet(sets["real"]).rows())
    inten = SUBSETS["DISFA12"]
    lines = ["file," + ",".join(f"au_{a}_intensity" for a in inten)]
    for s in rows:  # a perfect tool: reads back the claimed DISFA12 intensities
        lines.append(s.file + "," + ",".join(f"{s.intensity[AU_INDEX[a]]:.2f}" for a in inten))
    (tmp_path / "lf.csv").write_text("\n".join(lines) + "\n")
    res = score(sets["real"], proto, au_readings=f"libreface:{tmp_path / 'lf.csv'}")
    assert res["au_judge"]["id"].startswith("libreface-csv-")
    per = res["metrics"]["au_f1"]["per_au"]
    assert per["AU12"] in (1.0, None)  # perfect reader on the AUs it reads (None: no positives in this sample)
    assert per["AU07"] is None  # LibreFace reads no AU7 intensity: left out, not counted as wrong
    assert res["metrics"]["au_f1"]["value"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="--au-readings must be"):
        score(sets["real"], proto, au_readings="opencv:x")

    # the same tool named by a protocol, its output shipped inside the set's folder: the same scores
    import shutil
    from pathlib import Path

    from bench.core.errors import DataError
    from bench.scoring.protocols import load_protocol

    shutil.copy(tmp_path / "lf.csv", Path(sets["real"]) / "libreface.csv")
    raw = yaml.safe_load(load_protocol(proto).path.read_text())
    for name, au in (("lf", {"kind": "libreface", "path": "libreface.csv"}),
                     ("bad-kind", {"kind": "opencv", "path": "x.csv"}),
                     ("escapes", {"kind": "libreface", "path": "../lf.csv"})):
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump({**raw, "id": name, "au_readings": au}))
    by_proto = score(sets["real"], tmp_path / "lf.yaml")
    assert by_proto["au_judge"] == res["au_judge"]
    assert by_proto["metrics"]["au_f1"]["value"] == res["metrics"]["au_f1"]["value"]
    with pytest.raises(DataError, match="au_readings kind 'opencv' is not registered"):
        load_protocol(tmp_path / "bad-kind.yaml")
    with pytest.raises(DataError, match="escapes its folder"):
        score(sets["real"], tmp_path / "escapes.yaml")


def test_shuffled_control_claims_permuted_labels_of_real_images():
    world = {"seed": 0, "image_size": 32}
    conds = world_conditions(world, "val", 300)  # more than one batch of 256
    real = list(get_generator("real", world=world).generate(conds))
    shuf = list(get_generator("shuffled", world=world).generate(conds))
    perm = np.random.default_rng(0).permutation(len(conds))
    for j in (0, 1, 255, 256, 299):
        np.testing.assert_array_equal(shuf[j].image, real[j].image)
        np.testing.assert_array_equal(shuf[j].intensity, real[perm[j]].intensity)
        assert shuf[j].expression == real[perm[j]].expression and shuf[j].identity == real[j].identity
    assert sum(np.array_equal(s.intensity, r.intensity) for s, r in zip(shuf, real)) < 60


def test_control_family_reads_images_against_the_request(tiny):
    """`shuffled` holds the very images `real` does, so it follows the request as well as `real` does while its
    claimed labels are wrong; a set that does not answer the protocol's suite gets no control metrics."""
    proto, sets, tmp = tiny
    world = proto.world.as_dict()
    s = write_generated(get_generator("shuffled", world=world), world_conditions(world, "val", N), tmp / "shuffled",
                        protocol=proto.id)
    real, shuf = score(sets["real"], proto), score(s, proto)
    rm, sm = real["metrics"], shuf["metrics"]
    assert sm["au_f1_condition"]["value"] == rm["au_f1_condition"]["value"]
    assert sm["expression_accuracy_condition"]["value"] == rm["expression_accuracy_condition"]["value"]
    assert shuf["sampleset"]["labels_sha256"] != real["sampleset"]["labels_sha256"]  # ... with other claims
    other = write_generated(get_generator("real", world=world), world_conditions(world, "val", N), tmp / "unbound",
                            protocol=None)
    unbound = score(other, proto)
    assert "au_f1_condition" not in unbound["metrics"]
    assert set(unbound["not_applicable"]) == {"au_f1_condition", "au_pearson_condition", "expression_accuracy_condition"}
    assert "not_applicable" not in real  # a set answering the suite gets every listed metric


def test_partial_label_sets_score_only_what_they_label(tiny):
    """A MAUGen-style set (DISFA12 intensities, no expression) gets F1 on its 12 AUs and no expression score."""
    import dataclasses

    from bench.data.aus import AUS, subset

    proto, _, tmp = tiny
    disfa = subset("DISFA12")

    class Partial:
        name, version, config, image_size = "partial", "1", {}, (64, 64)
        labelled_aus, expression_labelled = disfa, False

        def generate(self, conds):
            for s in get_generator("real", world=proto.world.as_dict()).generate(conds):
                inten = np.where(np.isin(np.array(AUS), disfa), s.intensity, np.nan).astype(np.float32)
                yield dataclasses.replace(s, intensity=inten, expression=-1)

    root = write_generated(Partial(), world_conditions(proto.world.as_dict(), "val", N), tmp / "partial", protocol=proto.id)
    m = score(root, proto)["metrics"]
    per = m["au_f1"]["per_au"]
    assert all((per[f"AU{a:02d}"] is None) == (a not in disfa) for a in AUS)
    assert m["expression_accuracy"]["value"] is None and m["au_f1"]["value"] is not None
    assert m["au_f1_condition"]["value"] is not None  # the request is scored whatever the set claims
