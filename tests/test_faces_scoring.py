"""Scoring photographs (bench/scoring/faces.py) under the faces protocols, on the shipped photos imported in two
halves by the demo (bench/studies/facesdemo.py):

    protocol    faces-v1 and faces-demo load; a faces protocol naming a world or a reference is refused
    families    realism on the identity descriptor, diversity, expression alignment with its ceiling, face yield;
                memorization skipped with its reason when nothing supplies it
    AU proxy    without AU tool readings the protocol's au_reader (MediaPipe's blendshapes) reads the AUs, named and
                marked a proxy in the results, on its own AU subset; intensity metrics say why they are n/a; the
                gate's AU kappa reads only au_gate's AUs
    ceiling     equals the reference's own claimed expressions against the judge's readings, computed here
    face yield  equals the import's counts with scipy's Wilson interval
    AUs         a LibreFace CSV shipped in the scored set (the protocol's au_readings) makes the AU metrics run
    memory      --train-set gives nearest-identity distances (0 against itself: every face is its own neighbour)
    hash        another reference changes the protocol hash
    demo        the report and the contact sheet are written from the results JSON
    NaN rows    a judge row without a reading is left out of a demographic distribution, not counted as group 0
    headline    the training value on a real dataset (AffectNet-format, made of world faces) run with --data-root or
                folded in from its results file (same numbers, same hash); the board ranks by it behind the gate
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from scipy.stats import binomtest

from bench.cli import main as augen
from bench.core.errors import DataError
from bench.data.aus import AU_INDEX, EXPRESSIONS, subset
from bench.data.sampleset import SampleSet
from bench.judges import build_judge
from bench.scoring import diversity
from bench.scoring.context import ScoreInputs
from bench.scoring.protocols import load_protocol
from bench.scoring.score import score
from bench.studies import facesdemo


@pytest.fixture(scope="module")
def demo(shipped_photos, blendshapes_task, tmp_path_factory):
    work = tmp_path_factory.mktemp("facesdemo")
    res, scored = facesdemo.run(work)
    return res, scored, work / "reference", work


def test_protocols_load_and_refuse(tmp_path):
    for pid in ("faces-v1", "faces-demo"):
        p = load_protocol(pid)
        assert p.kind == "faces" and "face_yield" in p.metrics and p.judge.kind == "faces"
    raw = load_protocol("faces-v1").path.read_text()
    (tmp_path / "bad.yaml").write_text(raw.replace("id: faces-v1", "id: bad") + "reference: {split: test, n: 5}\n")
    with pytest.raises(DataError, match="names no world, conditions, reference"):
        load_protocol(tmp_path / "bad.yaml")


def test_families_ceiling_and_skips(demo):
    res, scored, reference, work = demo
    m = res["metrics"]
    for name in ("fd_identity", "precision", "vendi", "gender_entropy", "expression_kappa", "face_yield"):
        assert m[name]["value"] is not None, name
    assert set(res["not_applicable"]) == {"au_icc", "nn_distance_to_train", "near_copy_share"}
    assert "no intensities" in res["not_applicable"]["au_icc"]
    # the ceiling: the reference's own labels against the judge's argmax on its crops
    ref_ss = SampleSet(reference)
    ref_claims = np.array([s.expression for s in ref_ss.rows()])
    read = build_judge("faces", {"detect": False})(np.stack([s.image for s in ref_ss]))
    acc = float((read["expression_prob"].argmax(1) == ref_claims).mean())
    assert m["expression_accuracy"]["ceiling"]["value"] == pytest.approx(acc)
    # face yield: the scored half's import counts, Wilson interval as scipy computes it
    stats = res["demo"]["import"]["scored"]
    ci = binomtest(stats["one_face"], stats["images"]).proportion_ci(method="wilson")
    assert m["face_yield"]["value"] == pytest.approx(stats["face_yield"])
    assert m["face_yield"]["ci95"] == pytest.approx([ci.low, ci.high])


def test_au_readings_shipped_in_the_set_and_training_set(demo, tmp_path):
    from bench.generation.importer import ImportConfig, import_images

    res, scored, reference, work = demo
    labels = [",".join(line.split(",")[:3])  # file, expression, prompt: the demo's claimed AUs left out
              for line in (work / "scored-source" / "labels.csv").read_text().splitlines()]
    claims = [labels[0] + ",AU12"] + [f"{line},{3.0 if k % 2 else 0.0}" for k, line in enumerate(labels[1:])]
    (tmp_path / "labels.csv").write_text("\n".join(claims) + "\n")
    au_set = tmp_path / "au-set"
    import_images(work / "scored-source" / "images", tmp_path / "labels.csv", au_set,
                  ImportConfig(size=facesdemo.SIZE))
    rows = list(SampleSet(au_set).rows())
    lines = ["file," + ",".join(f"au_{a}_intensity" for a in subset("DISFA12"))]
    lines += [s.file + "," + ",".join(f"{s.intensity[8]:.1f}" if a == 12 else "0.0" for a in subset("DISFA12"))
              for s in rows]  # a tool that reads back the claimed AU12 (column 8 of the 17 is AU12)
    (au_set / "libreface.csv").write_text("\n".join(lines) + "\n")
    out = score(au_set, "faces-demo", reference=reference, train=reference, cache=work / "cache")
    assert out["au_judge"]["id"].startswith("libreface-csv-") and "proxy" not in out["au_judge"]
    assert out["metrics"]["au_f1"]["value"] == pytest.approx(1.0)  # AU12 claimed = read; the others unlabelled
    assert out["metrics"]["nn_distance_to_train"]["value"] > 0
    same = score(scored, "faces-demo", reference=reference, train=scored, cache=work / "cache")
    assert same["metrics"]["nn_distance_to_train"]["value"] == pytest.approx(0, abs=1e-6)
    other = score(scored, "faces-demo", reference=scored, cache=work / "cache")  # another reference
    assert other["protocol"]["hash"] != res["protocol"]["hash"]


def test_without_au_readings_the_blendshapes_proxy_reads_the_aus_and_says_so(demo, tmp_path):
    from bench.judges.blendshapes.mapping import VALIDATED_AUS
    from bench.judges.blendshapes.reader import reader_id

    res, scored, reference, work = demo
    j = res["au_judge"]
    assert j["id"] == reader_id() and j["reader"] == "blendshapes" and j["proxy"] is True and "proxy" in j["what"]
    m = res["metrics"]
    assert set(m["au_kappa"]["per_au"]) == {f"AU{a:02d}" for a in subset("DISFA12_BLENDSHAPES")}
    assert m["au_kappa_gate"]["aus"] == [f"AU{a:02d}" for a in VALIDATED_AUS]
    assert m["au_f1"]["ceiling"]["value"] is not None  # the reference read by the same reader
    same = score(scored, "faces-demo", reference=reference, au_readings="blendshapes", cache=work / "cache")
    assert same["protocol"]["hash"] == res["protocol"]["hash"] and same["metrics"]["au_kappa"] == m["au_kappa"]


def test_the_gate_kappa_reads_only_the_gate_aus():
    from bench.scoring.alignment import au_kappa, au_kappa_gate

    proto = load_protocol("faces-v1")
    rng = np.random.default_rng(0)
    n = 60
    claimed = np.zeros((n, 17), np.float32)
    prob = np.full((n, 17), np.nan, np.float32)
    for a in subset("DISFA12_BLENDSHAPES"):
        c = rng.random(n) < 0.5
        claimed[:, AU_INDEX[a]] = np.where(c, 3.0, 0.0)
        agree = a in proto.au_gate  # the gate's AUs read back what is claimed, the others at random
        prob[:, AU_INDEX[a]] = np.where(c if agree else rng.random(n) < 0.5, 0.9, 0.1)
    gen = {"au_intensity": np.full_like(prob, np.nan), "au_prob": prob}
    x = ScoreInputs(dataclasses.replace(proto, aus="DISFA12_BLENDSHAPES"), gen, {}, {}, claimed,
                    np.full(n, -1), None, "test")
    assert au_kappa_gate(x).value == pytest.approx(1.0)
    assert au_kappa(x).value < 0.8


def test_cli_needs_a_reference_and_scores_with_one(demo, tmp_path, capsys):
    from bench.cli import main

    _, scored, reference, _ = demo
    assert main(["score", str(scored), "--protocol", "faces-v1"]) == 2
    assert "--reference REF" in capsys.readouterr().err
    assert main(["score", str(scored), "--protocol", "world-v2", "--reference", str(reference)]) == 2
    assert main(["score", str(scored), "--protocol", "faces-demo", "--reference", str(reference), "--quiet",
                 "--out", str(tmp_path / "r.json")]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["protocol"]["id"] == "faces-demo"
    base = ["score", str(scored), "--reference", str(reference), "--quiet"]
    assert main([*base, "--protocol", "faces-v1", "--downstream"]) == 2
    assert "--data-root DIR" in capsys.readouterr().err
    assert main([*base, "--protocol", "faces-demo", "--data-root", str(tmp_path)]) == 2
    assert "names no real-data protocol" in capsys.readouterr().err


def test_demo_report(demo, tmp_path):
    assert augen(["study", "facesdemo", "--out", str(tmp_path / "out"), "--json", str(tmp_path / "r.json")]) == 0
    res = json.loads((tmp_path / "r.json").read_text())
    md = (tmp_path / "out" / "report.md").read_text()
    assert f"| alignment | expression_kappa | {res['metrics']['expression_kappa']['value']:.4g} |" in md
    assert (tmp_path / "out" / "contact_sheet.png").stat().st_size > 1000
    assert all(DEMO in EXPRESSIONS for DEMO in facesdemo.DEMO_EXPRESSIONS.values())


def test_unread_rows_are_left_out_of_distributions():
    p = np.array([[np.nan] * 6, [0, 0, 1, 0, 0, 0], [0, 0, 1, 0, 0, 0]], np.float32)
    x = ScoreInputs(load_protocol("faces-v1"), {"skin_tone_prob": p}, {}, {}, np.zeros((3, 17)), np.zeros(3), None,
                    "j")
    assert diversity._distribution(x, "skin_tone").tolist() == [0, 0, 1, 0, 0, 0]


def test_faces_judge_reading_names(faceapi_weights):
    from PIL import Image

    from bench.judges.faceapi.judge import AGE_EDGES, FacesJudge, one_hot

    photo = np.asarray(Image.open(faceapi_weights / "demo" / "sample1.jpg").convert("RGB"))
    batch = np.stack([photo[275:675, 302:702], np.full((400, 400, 3), 128, np.uint8)])
    judge = build_judge("faces", {})
    out = judge(batch)
    assert set(out) == set(FacesJudge.readings) and out["face_found"].tolist() == [1, 0]
    assert out["features"].shape == (2, 128) and np.isnan(out["features"][1]).all()
    age_group = int(np.searchsorted(AGE_EDGES, out["age"][0], side="right"))
    assert out["age_group_prob"][0].tolist() == one_hot(np.array([age_group]), 3)[0].tolist()
    assert np.isnan(out["skin_tone_prob"][1]).all() and np.isnan(out["age_group_prob"][1]).all()
    crops = build_judge("faces", {"detect": False})
    assert "-crops-" in crops.id and crops.config == {"min_confidence": 0.5, "detect": False}
    assert crops(batch)["face_found"].tolist() == [1, 1]  # every image is read as one face crop


def test_submit_photographs(demo, tmp_path, capsys):
    from bench.cli import main

    _, _, reference, work = demo
    src = work / "scored-source"
    args = ["submit", str(src / "images"), "--labels", str(src / "labels.csv"), "--protocol", "faces-demo",
            "--reference", str(reference), "--results-dir", str(tmp_path), "--name", "demo-gen", "--quiet"]
    assert main(args) == 0
    filed = json.loads((tmp_path / "faces-demo" / "demo-gen.json").read_text())
    assert filed["submission"] == {"name": "demo-gen", "source": "photographs", "labels": "labels.csv"}
    # 3 of 8 images with one face: camera.png's profile is "not a face" to MediaPipe's check (docs/photographs.md)
    assert filed["metrics"]["face_yield"]["value"] == pytest.approx(0.375)
    assert main(args) == 2 and "exists" in capsys.readouterr().err  # no silent overwrite
    head, first, *rest = (src / "labels.csv").read_text().split("\n")  # a misspelt expression: refused by row
    cells = first.split(",")
    (tmp_path / "bad.csv").write_text("\n".join([head, ",".join([cells[0], "hapy", *cells[2:]]), *rest]))
    bad = args[:3] + [str(tmp_path / "bad.csv")] + args[4:-3] + ["--name", "bad-gen", "--quiet"]
    assert main(bad) == 2 and "row 2" in (err := capsys.readouterr().err) and "hapy" in err
    assert not (tmp_path / "faces-demo" / "bad-gen.json").exists()
    assert main(["submit", str(src / "images"), "--labels", str(src / "labels.csv"), "--protocol", "world-v2",
                 "--reference", str(reference), "--results-dir", str(tmp_path), "--quiet"]) == 2


def test_faces_board_groups_by_reference_and_does_not_rank(demo, tmp_path):
    from bench.cli import main

    _, scored, reference, work = demo
    src = work / "scored-source"
    swap = {"happy": "neutral", "neutral": "happy"}  # gen-b: other labels, so another set (one set, one entry)
    (tmp_path / "b.csv").write_text("".join(",".join([f, swap.get(e, e), *r]) + "\n" for f, e, *r in (
        ln.split(",") for ln in (src / "labels.csv").read_text().splitlines())))
    for name, ref, labels in (("gen-a", reference, src / "labels.csv"), ("gen-b", reference, tmp_path / "b.csv"),
                              ("gen-c", scored, src / "labels.csv")):
        assert main(["submit", str(src / "images"), "--labels", str(labels), "--protocol", "faces-demo",
                     "--reference", str(ref), "--results-dir", str(tmp_path), "--name", name, "--quiet"]) == 0
    assert main(["leaderboard", "--protocol", "faces-demo", "--results-dir", str(tmp_path),
                 "--out", str(tmp_path / "board.md")]) == 0
    md = (tmp_path / "board.md").read_text()
    assert md.count("## Against") == 2 and "Not ranked" in md  # two references, two tables
    assert md.count("a proxy: MediaPipe Face Landmarker blendshapes") == 2  # each table names its AU reader
    a = json.loads((tmp_path / "faces-demo" / "gen-a.json").read_text())
    assert f"| gen-a | {a['sampleset']['n']} | 0.375 [" in md  # face yield 3 of 8 (test_submit_photographs)
    assert f"({a['metrics']['expression_kappa']['ceiling']['value']:.3g})" in md


def test_feature_judges_add_fd_and_clip_score(demo, hf_folders, tmp_path):
    """Local DINOv2 / CLIP weights (tiny random models in their real layout) add FD in their features and the CLIP
    score; FD equals bench.metrics.realism on the judges' own features; their hashes enter the protocol hash."""
    from bench.judges.hf import CLIPJudge
    from bench.metrics.realism import fd_from_features
    from bench.scoring.faces import parse_feature_judges

    res, scored, reference, work = demo
    judges_ = parse_feature_judges([f"dinov2={hf_folders / 'dino'}", f"clip={hf_folders / 'clip'}"])
    out = score(scored, "faces-demo", reference=reference, cache=work / "cache", feature_judges=judges_)
    m = out["metrics"]
    clip = CLIPJudge(hf_folders / "clip")
    ims = {k: np.stack([s.image for s in SampleSet(p)]) for k, p in (("gen", scored), ("ref", reference))}
    assert m["fd_clip"]["value"] == pytest.approx(fd_from_features(clip(ims["ref"])["features"],
                                                                   clip(ims["gen"])["features"]), rel=1e-5)
    prompts = [s.prompt for s in SampleSet(scored).rows()]
    assert m["clip_score"]["value"] == pytest.approx(float(clip.clip_score(ims["gen"], prompts).mean()), rel=1e-5)
    assert m["fd_dinov2"]["value"] is not None and m["fd_dinov2"]["ci95"] is not None
    assert out["protocol"]["hash"] != res["protocol"]["hash"] and len(out["judges"]) == 3
    with pytest.raises(Exception, match="KIND=WHERE"):
        parse_feature_judges(["fid=x"])


def test_headline_trains_on_the_real_dataset_and_ranks(demo, tmp_path):
    import yaml

    from bench.core.results import write_results
    from bench.publish import facesboard
    from tests.helpers.realdata import affectnet_folder, tiny_real_protocol

    _, scored, reference, work = demo
    data = affectnet_folder(tmp_path / "affectnet", n_train=60)
    real = tiny_real_protocol(tmp_path, "affectnet-v1", real_train={"n": 6, "seed": 0}, val={"n": 40},
                              test={"per_class": 6})
    raw = yaml.safe_load(load_protocol("faces-demo").path.read_text())
    # the gate on expression only: the demo's claimed AUs (EMFACS prototypes) read by the blendshapes proxy on 7 faces
    # do not clear an AU gate, and this test is about the headline
    raw.update(id="faces-h", headline={"rank_by": "downstream_training_value", "gate": ["expression_kappa"],
                                       "gate_min": 0.0, "downstream": real})
    (tmp_path / "faces-h.yaml").write_text(yaml.safe_dump(raw))
    proto = load_protocol(tmp_path / "faces-h.yaml")
    run = score(scored, proto, reference=reference, data_root=data, cache=work / "cache")
    tv = run["metrics"]["downstream_training_value"]
    assert np.isfinite(tv["value"]) and run["downstream"]["protocol"]["id"] == "affectnet-v1"
    assert run["metrics"]["downstream_au_kappa_1x"]["value"] is None  # AffectNet labels no AUs
    filed = score(scored, load_protocol(real), data_root=data, cache=tmp_path / "downstream")
    write_results(tmp_path / "down.json", filed)
    folded = score(scored, proto, reference=reference, downstream_results=tmp_path / "down.json", cache=work / "cache")
    assert folded["metrics"]["downstream_training_value"]["value"] == tv["value"]
    assert folded["protocol"]["hash"] == run["protocol"]["hash"] and folded["downstream"]["from"] == "results file"
    bare = score(scored, proto, reference=reference, cache=work / "cache")
    assert "--data-root" in bare["not_applicable"]["downstream_training_value"]
    assert bare["protocol"]["hash"] != run["protocol"]["hash"]  # never ranked beside trained entries
    other = dict(filed, sampleset={**filed["sampleset"], "content_hash": "0" * 64})
    write_results(tmp_path / "other.json", other)
    with pytest.raises(DataError, match="scored another set"):
        score(scored, proto, reference=reference, downstream_results=tmp_path / "other.json", cache=work / "cache")
    with pytest.raises(DataError, match="holds world-v2 results"):
        write_results(tmp_path / "w.json", dict(filed, protocol={"id": "world-v2", "hash": "h"}))
        score(scored, proto, reference=reference, downstream_results=tmp_path / "w.json", cache=work / "cache")
    # the board: ranked by training value behind the gate; a set whose labels fail it, and one untrained, listed
    better = json.loads(json.dumps(run))
    better["metrics"]["downstream_training_value"]["value"] = tv["value"] + 1.0
    failing = json.loads(json.dumps(better))
    failing["metrics"]["expression_kappa"]["ci95"] = [-0.2, 0.3]
    entries = [("gen-run", run), ("gen-better", better), ("gen-fails", failing), ("gen-bare", bare)]
    md = facesboard.markdown(proto, entries)
    assert md.index("| 1 | gen-better |") < md.index("| 2 | gen-run |")
    assert "gen-fails (fails gate: expression_kappa lower bound -0.200 <= 0)" in md
    assert "gen-bare (no training value: no downstream result)" in md
    assert md.count("## Against") == 2  # trained and untrained results are two protocol hashes
    from bench.publish.facesreport import build_faces_report

    for name, res in entries:
        write_results(tmp_path / "results" / "faces-h" / f"{name}.json", res)
    report, page = build_faces_report(proto, tmp_path / "report", {}, tmp_path / "results")
    text = report.read_text()
    assert "Downstream at 1x beside image-blind baselines" in text and "| 1 | gen-better |" in text
    assert "a proxy: MediaPipe Face Landmarker blendshapes" in text  # the report names the AU reader too
    maj = run["metrics"]["downstream_expression_accuracy_1x"]["trivial"]["majority"]
    assert f"| gen-run | n/a | n/a | n/a | n/a | {run['metrics']['downstream_expression_accuracy_1x']['value']:.3f} | " \
           f"{maj:.3f} |" in text  # AU columns n/a: AffectNet labels no AUs
    assert "gen-bare: downstream_training_value (no downstream data" in text
    assert (tmp_path / "report" / f"scaling_utility_{run['protocol']['hash'][:8]}.png").is_file() and page.is_file()


def test_a_set_under_the_knn_metrics_k_is_one_clear_line(demo, tmp_path):
    """Density and coverage count k_dc = 5 neighbours within the reference: a set of 5 faces is refused by name
    before any work (it raised a ValueError inside density before), and the rule is one function."""
    from bench.data.sampleset import SampleSetWriter
    from bench.scoring.faces import min_faces

    proto = load_protocol("faces-demo")
    assert min_faces(proto) == proto.realism.k_dc + 1 == 6
    _, scored, reference, _ = demo
    src = SampleSet(scored)
    with SampleSetWriter(tmp_path / "five", name="five", generator={"name": "five"}, image_size=src.image_size,
                         labelled_aus=src.manifest.labelled_aus) as w:
        for s in list(src.rows())[:5]:
            w.add(dataclasses.replace(s, image=src.load_image(s)))
    with pytest.raises(DataError, match="5 faces; at least 6 are needed to score under faces-demo"):
        score(tmp_path / "five", proto, reference=reference)
