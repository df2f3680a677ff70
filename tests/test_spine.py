"""One scoring spine (docs/architecture.md): a scored set is opened once and read as little as its stages need, a
protocol is parsed once, a judge is built once per process, and every protocol kind files through one results
builder whose protocol hash comes from typed parts. Counts come from bench.devtools.opencount, the tool that
measured issue 28's before/after figures."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.core.errors import DataError, UsageError
from bench.core.hashparts import HashPart, au_tool_part, hash_text, judge_part
from bench.data.sampleset import SampleSet
from bench.devtools import opencount
from bench.scoring.score import score

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.helpers.protocols import control_set, mini_protocol  # noqa: E402

N = 24


@pytest.fixture(scope="module")
def proto_path(tmp_path_factory) -> str:
    return mini_protocol(tmp_path_factory.mktemp("proto"), N)


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    return control_set(tmp_path_factory.mktemp("good") / "set", N)


def test_hash_text_renders_the_filed_forms():
    """The three shapes filed results were hashed with, now from typed parts (their hashes must not move)."""
    assert hash_text([judge_part("abc")]) == "abc"
    assert hash_text([judge_part("abc"), au_tool_part("libreface-12ab")]) == "abc|libreface-12ab"
    assert hash_text([judge_part("j"), HashPart("ref", "r"), HashPart("clip-x", "s"),
                      HashPart("downstream", "d")]) == "j|ref:r|clip-x:s|downstream:d"
    assert hash_text([HashPart("data", "f"), HashPart("backbone", "b")]) == "data:f|backbone:b"


def _counts(tmp_path, code: str) -> dict:
    """bench.devtools.opencount's counts of `code` run in a fresh process (the audit hook stays in a process)."""
    log = tmp_path / "events.log"
    script = f"from bench.devtools import opencount\nopencount._install({str(log)!r})\n{code}"
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return opencount.summarise(log.read_text().splitlines())


def test_an_opened_set_reads_each_image_once_for_hash_and_check(good, tmp_path):
    """open_checked decodes and hashes from one read; asking again for claims or the hash reads nothing, nor does
    another opened set of the same unchanged files in the same process."""
    counts = _counts(tmp_path, f"""
from bench.data.sampleset import SampleSet, open_checked
ss = open_checked({str(good)!r})
first = ss.content_hash()
assert (ss.claims().intensity.shape, ss.content_hash()) == (({N}, 17), first)
assert SampleSet({str(good)!r}).content_hash() == first
""")
    assert counts["images"] == N and counts["png_opens_per_image"] == 1 and counts["decodes_per_image"] == 1


def test_a_sharded_set_joins_its_parts_digests(tmp_path):
    """The merged set's hash and each shard's hash come from one read per image (the runner judges shards first)."""
    from bench.data.sampleset import finalize_shards

    root = tmp_path / "merged"
    for j in range(2):
        control_set(root / f"shard-{j:05d}", 6 * (j + 1))
    finalize_shards(root, name="x", generator={"name": "real"}, protocol="world-mini")
    ss = SampleSet(root)
    parts = [p.content_hash() for p in ss.parts]
    assert len(ss.image_digests()) == 6 + 12 and ss.content_hash() not in parts
    assert [p.content_hash() for p in SampleSet(root).parts] == parts


def test_a_missing_image_is_one_error_naming_file_and_row(good, tmp_path):
    bad = tmp_path / "set"
    shutil.copytree(good, bad)
    victim = sorted((bad / "images").iterdir())[3]
    victim.rename(bad / "images" / "zz-stray.png")  # same count of files, one listed name missing
    with pytest.raises(DataError) as e:
        SampleSet(bad).content_hash()
    assert victim.name in str(e.value) and "row 4" in str(e.value)


def test_options_of_another_kind_are_refused(good, proto_path):
    with pytest.raises(UsageError, match="world protocol: reference, data_root do not apply"):
        score(good, proto_path, reference=good, data_root="x")


def test_submit_counts(good, proto_path, tmp_path):
    """`augen submit SET`: one parse of the protocol, one judge build, every PNG opened twice (validated and hashed
    from one read, decoded once by the judge) when downstream is off."""
    out = tmp_path / "counts.json"
    env = {**os.environ, "AUGEN_CACHE": str(tmp_path / "cache")}
    r = subprocess.run([sys.executable, "-m", "bench.devtools.opencount", "--json", str(out), "--", "augen", "submit",
                    str(good), "--protocol", proto_path, "--name", "counted", "--no-downstream", "--results-dir",
                    str(tmp_path / "results"), "--quiet"], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    counts = json.loads(out.read_text())
    assert counts["images"] == N
    assert counts["png_opens_per_image"] == 2 and counts["decodes_per_image"] == 2
    assert counts["hash_reads_per_image"] == 0 and counts["judge_builds"] == 1 and counts["protocol_parses"] == 1
    filed = json.loads((tmp_path / "results" / "world-mini" / "counted.json").read_text())
    assert filed["sampleset"]["content_hash"] == SampleSet(good).content_hash()
    assert np.isfinite(filed["metrics"]["fd_world"]["value"])


def test_count_report_pairs_before_and_after(tmp_path):
    counts = {"exit": 0, "images": 2, "png_opens_per_image": 5.0, "decodes_per_image": 3.0,
              "hash_reads_per_image": 2.0, "protocol_parses": 4, "judge_builds": 3}
    (tmp_path / "before-x.json").write_text(json.dumps({**counts, "command": "augen submit a"}))
    (tmp_path / "after-x.json").write_text(json.dumps({**counts, "command": "augen submit a", "judge_builds": 1}))
    rows = [r for r in opencount.report(tmp_path).read_text().splitlines() if r.startswith("| `")]
    assert rows == ["| `augen submit a` | before | 5.0 | 3.0 | 2.0 | 4 | 3 |",
                    "| `augen submit a` | after | 5.0 | 3.0 | 2.0 | 4 | 1 |"]
    assert opencount.public_command([str(tmp_path), "--name", "x"]) == f"augen {tmp_path.name} --name x"
