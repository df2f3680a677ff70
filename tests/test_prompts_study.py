"""`augen study prompts` end to end on tiny settings: 4 world val conditions and the authors' two records, 2 sampling
steps per row; the structure of the results, the report drawn from them, and values computed again here."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.studies import prompts


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("prompts")
    res = prompts.run(n=4, work=out / "work", figure=out / "records.png", progress=False, steps=2)
    return res, out


def test_structure_and_report(study):
    res, out = study
    assert res["study"] == "prompts" and res["n"] == 4
    assert list(res["rows"]) == ["before", "before-world", "after", "after-world", "real"]
    assert res["rows"]["real"]["claims_vs_request"] is None
    assert res["rows"]["after"]["options"] == {"captions": "mixed", "steps": 2} and res["command"].endswith("--steps 2")
    for row in res["rows"].values():
        for part in ("claims_vs_request", "judge_vs_request"):
            if row[part] is not None:
                assert set(row[part]) == {"micro_f1", "macro_f1", "per_au"}
    assert [(r["record"], r["row"]) for r in res["records"]] == [(1, "before"), (2, "before"), (1, "before-world"),
                                                                 (2, "before-world"), (1, "after"), (2, "after")]
    assert res["records"][0]["requested"] == {"AU6": 2, "AU12": 3, "AU25": 2}
    assert res["records"][0]["prompt"].startswith("Displaying moderate warm smile")
    assert res["records"][2]["prompt"].startswith("a face with moderately raised cheeks")
    assert (out / "records.png").is_file()
    text = prompts.markdown(json.loads(json.dumps(res)), "records.png")
    assert "| real | real |" in text and "records.png" in text and "baseline" in text


def test_known_values_recomputed(study):
    """The judge's F1 on the world's own images, and the majority baseline, computed again from the cached arrays."""
    from bench.metrics.alignment import f1_micro
    from bench.scoring.protocols import load_protocol

    res, out = study
    world = load_protocol(prompts.PROTOCOL).world.as_dict()
    request = prompts.occurrence(np.stack([c.aus for c in prompts.study_conditions(world, 4, "world")]))
    (cached,) = (out / "work").glob("real-n4-steps2-*.npz")
    with np.load(cached) as z:
        judged = (z["judge_prob"][:, prompts._COLS] >= 0.5).astype(float)
    assert res["rows"]["real"]["judge_vs_request"]["micro_f1"] == pytest.approx(f1_micro(request, judged))
    t, p = request >= 0.5, judged >= 0.5
    assert f1_micro(request, judged) == pytest.approx(2 * (t & p).sum() / (t.sum() + p.sum()))
    majority = (request.mean(0) > 0.5)[None].repeat(4, 0)
    tp = (majority & t).sum()
    expect = 2 * tp / (t.sum() + majority.sum()) if t.sum() + majority.sum() else None
    assert res["baselines"]["majority"]["micro_f1"] == pytest.approx(expect)


def test_rows_are_cached_under_their_generator_config(study):
    """A retrained checkpoint (another weights key) never reads the rows cached for the one before: the cache file
    is named by the generator's config, and each row records that config."""
    res, out = study
    digest = {p.name.split("-n4-")[0]: p.stem.rsplit("-", 1)[1] for p in (out / "work").glob("*-n4-*.npz")}
    assert set(digest) == set(res["rows"])
    assert digest["after"] == digest["after-world"] != digest["before-world"]  # same generator, same config
    assert res["rows"]["after"]["config"]["weights"] != res["rows"]["before"]["config"]["weights"]
    assert res["rows"]["before"]["config"]["weights"] == res["rows"]["before-world"]["config"]["weights"]


def test_the_two_style_checkpoint_draws_the_authors_records_as_asked():
    """The committed two-style checkpoint, asked with the authors' two sample records word for word at their 30 steps
    / CFG 7.5: it claims exactly the requested AUs (occurrence), and the judge reads them in its images far better than
    in the published tiny's (which reads their unknown words as <unk>). Judge F1 pooled over both records."""
    from bench.judges import build_judge
    from bench.metrics.alignment import f1_micro
    from bench.scoring.protocols import load_protocol

    proto = load_protocol(prompts.PROTOCOL)
    world, judge = proto.world.as_dict(), build_judge(proto.judge.kind, proto.judge.config, progress=False)
    conds = prompts.record_conditions("authors")
    request = prompts.occurrence(np.stack([c.aus for c in conds]))
    judged = {}
    for row in ("before", "after"):
        got = prompts._generate(prompts.ROWS[row], conds, world, judge, None)
        judged[row] = f1_micro(request, (got["judge_prob"][:, prompts._COLS] >= 0.5).astype(float))
        if row == "after":
            np.testing.assert_array_equal(prompts.occurrence(got["claims"]), request)
    assert judged["after"] >= 0.5 and judged["after"] > judged["before"] + 0.2  # filed: 0.67 vs 0.27
