"""A newcomer's usual mistakes each give ONE line, `augen: error: ...` (exit 2), saying what is wrong and what to do,
before any work starts. docs/errors.md is rendered (`render_errors_md`) from the tables of three test modules, each of
which runs every row and compares the line it prints with the table, so the page cannot drift from the code:
MISTAKES here (options, protocols, manifests), IMPORT_MISTAKES (tests/test_import_accounting.py: `augen import`) and
SILENT_MISTAKES (tests/test_never_silent.py: workspace, unwritable outputs, empty and over-long arguments, hints);
the fuzz count comes from tests/test_cli_fuzz.py. Regenerate the page after changing a message:
AUGEN_WRITE_DOCS=1 pytest tests/test_newcomer_errors.py."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml
from conftest import write_world
from PIL import Image

from bench.cli import main
from bench.data.aus import SUBSETS
from bench.world.params import WorldConfig
from tests.helpers.mistakes import run_row

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "errors.md"
WORLD = WorldConfig(image_size=64)  # world-v1's image size


def _manifest(folder: Path, change) -> None:
    m = yaml.safe_load((folder / "manifest.yaml").read_text())
    change(m)
    (folder / "manifest.yaml").write_text(yaml.safe_dump(m, sort_keys=False))


def _mixed(work: Path) -> None:
    Image.new("RGB", (32, 32)).save(work / "set" / "images" / "00000003.png")


def _conditions(work: Path) -> None:
    (work / "c.jsonl").write_text(json.dumps({"prompt": "a face", "intensity": [0] * 12}) + "\n")


# (what the newcomer typed, how the folder was prepared, what it used to print, the one line it prints now)
MISTAKES = [
    ("augen generate real --out out --option stesp=10", None,
     "(already one line)",
     "augen: error: generator 'real' has no option 'stesp'; valid: seed, split"),
    ("augen run real --work run --option stesp=10", None,
     "(already one line)",
     "augen: error: generator 'real' has no option 'stesp'; valid: seed, split"),
    ("augen submit generator:real --option stesp=10 --results-dir results", None,
     "(already one line)",
     "augen: error: generator 'real' has no option 'stesp'; valid: seed, split"),
    ("augen generate maugen-tiny --out out --option steps=ten", None,
     "diffusers' traceback `TypeError: '>' not supported between instances of 'str' and 'int'`, after loading "
     "the weights",
     "augen: error: generator 'maugen-tiny' option steps must be int, not 'ten' (str)"),
    ("augen generate real --out out --option seed=ten", None,
     "a traceback from inside the generator",
     "augen: error: generator 'real' option seed must be int, not 'ten' (str)"),
    ("augen run real --work run --option seed=ten", None,
     "the same traceback",
     "augen: error: generator 'real' option seed must be int, not 'ten' (str)"),
    ("augen submit generator:real --option seed=ten --results-dir results", None,
     "the same traceback",
     "augen: error: generator 'real' option seed must be int, not 'ten' (str)"),
    ("augen score set --protocol affectnet-v1", None,
     "augen: error: 'world' (later: `...affectnet-v1.yaml: is a real-data protocol; score sets under it with "
     "augen downstream`)",
     "augen: error: affectnet-v1 is a real-data protocol (recognizers trained on the set, tested on a real "
     "dataset): use `augen downstream set --protocol affectnet-v1 --data-root DIR` (DIR: the dataset's local "
     "folder)"),
    ("augen score set  # one image of another size", _mixed,
     "a 60-line DataLoader traceback (`RuntimeError: Caught DataError in DataLoader worker process 0`)",
     "augen: error: set/labels.csv: row 4: 00000003.png: image is 32x32, the set's image_size is 64x64 (one size "
     "per set)"),
    ("augen downstream set --protocol affectnet-v1 --data-root empty", lambda w: (w / "empty").mkdir(),
     "augen: error: empty/training.csv: labels is missing (the protocol expects it under --data-root empty)",
     "augen: error: empty: missing under --data-root: training.csv (train labels), Manually_Annotated_Images "
     "(train images and test images), validation.csv (test labels); put the dataset there (the protocol's data: "
     "names each path)"),
    ("augen generate real --conditions c.jsonl --protocol world-v1 --out out", _conditions,
     "--protocol silently dropped (the set records no protocol); now a file holding the protocol's suite (`augen "
     "conditions --protocol world-v1 --out FILE.jsonl`) is generated and recorded under it",
     "augen: error: --conditions c.jsonl is not world-v1's condition suite (entry 1 differs): drop --protocol (a set "
     "of your own conditions records no protocol) or export the suite with `augen conditions --protocol world-v1 "
     "--out FILE.jsonl`"),
    ("augen validate set  # manifest.yaml written by hand without `name`",
     lambda w: _manifest(w / "set", lambda m: m.pop("name")),
     "augen: error: set/manifest.yaml: manifest field missing or malformed (KeyError('name'))",
     "augen: error: set/manifest.yaml: manifest field 'name' is missing: give the set's name (text)"),
    ("augen validate set  # `generator: mine`",
     lambda w: _manifest(w / "set", lambda m: m.update(generator="mine")),
     "augen: error: set/manifest.yaml: manifest field missing or malformed (ValueError('dictionary update "
     "sequence element #0 has length 1; 2 is required'))",
     "augen: error: set/manifest.yaml: manifest field 'generator' is 'mine': give a mapping such as {name: "
     "my-gen, version: '1'}"),
    ("augen validate set  # `image_size: 64`",
     lambda w: _manifest(w / "set", lambda m: m.update(image_size=64)),
     "augen: error: set/manifest.yaml: manifest field missing or malformed (TypeError(\"'int' object is not "
     "iterable\"))",
     "augen: error: set/manifest.yaml: manifest field 'image_size' is 64: give a list [height, width] of "
     "integers"),
    ("augen run real", None,
     "augen run: error: the following arguments are required: --work",
     "augen: error: augen run needs --work DIR (the run folder; reused to resume)"),
]

OUTPUTS = [  # not mistakes: what a command now says that it did not
    ("augen import photos --labels labels.csv --out set",
     "one summary line, e.g. `set: imported 2, skipped 6 (1 unsupported format, 1 not an image, 1 no label, 1 no "
     "image, 1 duplicate, 1 too small), refused 0; face yield 1.000 (2 of 2 images with one face, policy largest); 0 "
     "imported with a face score under 0.8 (uncertain); per file: set/import_log.csv`; the log names each file's "
     "label row, outcome, reason and face score (a spreadsheet's UTF-8 BOM, CRLF or `;` separators are read; a "
     "`.HEIC` is skipped as not supported; images under 32 px a side are skipped as too small)"),
    ("augen import single_face.mp4 --labels labels.csv --out set --frame-stride 12  # a video, or videos in IMAGES",
     "the summary line counts the frames and ends with the videos: `...; 1 video: 6 frames kept of 72 decoded "
     "(--frame-stride 12); per file: set/import_log.csv`; each kept frame is a row `single_face_f000012` of "
     "import_log.csv, and `frames.csv` gives its video, frame index, time and the label row that labels it (the "
     "video's, or the frame's own); a video that cannot be read is refused by name, the rest imported"),
    ("Ctrl-C during augen import (any command: its own line)",
     "`augen: interrupted: kept 1 of 2 shards in .set.partial; rerun the same command to resume` (exit 130); the "
     "rerun says `augen import: resuming in .set.partial: 1 of 2 shards already written`; during `augen run` or "
     "`augen submit generator:NAME`: `augen: interrupted: WORK keeps every finished shard, judged shard and "
     "downstream training; rerun the same command to resume from there`; during `augen train`: `augen: "
     "interrupted: CKPT holds step 400 of 2000; rerun the same command to resume from it (identical weights)`; "
     "elsewhere (outputs written whole or not at all) `augen: interrupted: nothing was written`"),
    ("any command that reads or writes filed results",
     "`augen: workspace DIR (the nearest folder holding leaderboards/ ...)` once on stderr (AUGEN_HOME, else found "
     "from the current folder upward)"),
    ("augen score SET / augen submit ...",
     "after the metrics, the headline (or why it is missing, e.g. `not scored: no downstream result (score with "
     "--downstream)` per task) and the rank the board would give among the filed results of the same hash"),
    ("augen score set --au-readings libreface:lf.csv:image_path",
     "the key column of a LibreFace CSV (default `file`) is named after a second colon, and the printout says that "
     "an external AU judge was used: `AU judge: external readings libreface-csv-<sha> (--au-readings "
     "libreface:lf.csv:image_path) replaced the protocol judge's AU readings in the alignment metrics`"),
    ("augen generate NAME --list-options (also augen run NAME, augen submit generator:NAME)",
     "each option the generator accepts: name=default, type, meaning (from its signature and options dataclass)"),
    ("augen reproduce --list", "the paper tables, id and title"),
]


def render_errors_md() -> str:
    from test_cli_fuzz import CASES
    from test_import_accounting import IMPORT_MISTAKES
    from test_never_silent import SILENT_MISTAKES

    cell = lambda t: t.replace("|", "\\|").replace("{old}", "<sha>").replace("{new}", "<sha>")  # noqa: E731
    lines = ["# One-line errors", "",
             "<!-- generated from tests/test_newcomer_errors.py (MISTAKES, OUTPUTS), tests/test_import_accounting.py "
             "(IMPORT_MISTAKES), tests/test_never_silent.py (SILENT_MISTAKES) and tests/test_cli_fuzz.py; the tests "
             "check this page -->",
             "", "Each of these mistakes stops `augen` before any work with one line on stderr and exit status 2 "
             "(bench.core.errors: `DataError` names the file and row, where a row is the line number an editor shows, "
             "header = 1; `UsageError` the option; `NotWritable` the output). Paths are shown relative to the folder "
             "the command ran in. Anything else that ends in a traceback is a bug: please report it.", ""]
    for title, rows in (("Options, protocols, manifests", MISTAKES), ("Importing photographs", IMPORT_MISTAKES),
                        ("Workspace, outputs, arguments", SILENT_MISTAKES)):
        lines += [f"## {title}", "", "| command | before | now |", "|---|---|---|"]
        lines += [f"| `{cell(cmd if len(cmd) < 120 else cmd[:60] + '...' + cmd[-30:])}` | {cell(before)} | "
                  f"`{cell(after if len(after) < 400 else after[:80] + '...' + after[-80:])}` |"
                  for cmd, _, before, after in rows]
        lines.append("")
    lines += ["## Fuzzed", "", f"tests/test_cli_fuzz.py builds {len(CASES)} cases from the parser itself: every "
              "subcommand with nothing, a misspelt option, and each of its arguments empty, a missing path, "
              "non-ASCII, 5,000 characters long or (outputs) unwritable. Each must end in exit 0 or 2 with an error "
              f"line, never a traceback; the {sum(c[2] for c in CASES)} whose value may be valid (a command whose "
              "arguments are all optional) are listed but not run, since they would start real work.", ""]
    lines += ["## New output", "", "| command | prints |", "|---|---|"]
    lines += [f"| `{cell(cmd)}` | {cell(what)} |" for cmd, what in OUTPUTS]
    return "\n".join(lines) + "\n"


def test_errors_page_is_rendered_from_the_table():
    if os.environ.get("AUGEN_WRITE_DOCS"):
        DOC.write_text(render_errors_md())
    assert DOC.read_text() == render_errors_md(), "regenerate: AUGEN_WRITE_DOCS=1 pytest tests/test_newcomer_errors.py"


@pytest.fixture
def work(tmp_path, monkeypatch):
    write_world(tmp_path / "set", n=24, cfg=WORLD, split="val")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("command, setup, before, after", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_each_mistake_is_one_line(work, capsys, command, setup, before, after):
    run_row(work, capsys, command, setup, after)


def test_conditions_of_the_protocols_suite_are_recorded_under_it(work, capsys):
    assert main(["conditions", "--protocol", "world-v2", "--out", "suite.jsonl", "--n", "3"]) == 0
    assert main(["generate", "real", "--conditions", "suite.jsonl", "--protocol", "world-v2", "--out", "g",
                 "--quiet"]) == 0
    assert yaml.safe_load((work / "g" / "manifest.yaml").read_text())["protocol"] == "world-v2"
    assert main(["generate", "real", "--conditions", "suite.jsonl", "--out", "h", "--quiet"]) == 0
    assert yaml.safe_load((work / "h" / "manifest.yaml").read_text())["protocol"] is None


def test_au_readings_with_a_key_column_say_the_external_judge(work, capsys):
    from bench.data.sampleset import SampleSet

    files = [s.file for s in SampleSet(work / "set").rows()]
    det, inten = SUBSETS["BP4D12"], SUBSETS["DISFA12"]
    header = ["image_path", *[f"au_{a}" for a in det], *[f"au_{a}_intensity" for a in inten]]
    rows = [",".join([f"images/{f}", *["0"] * len(det), *["1"] * len(inten)]) for f in files]
    (work / "lf.csv").write_text("\n".join([",".join(header), *rows]) + "\n")
    assert main(["score", "set", "--au-readings", "libreface:lf.csv:image_path", "--out", "r.json", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"AU judge: external readings libreface-csv-\w+ \(--au-readings libreface:lf.csv:image_path\)",
                     out), out
    assert json.loads((work / "r.json").read_text())["au_judge"]["id"].startswith("libreface-csv-")
    assert main(["score", "set", "--out", "r2.json", "--quiet"]) == 0  # the protocol's judge: nothing said
    assert "AU judge: external" not in capsys.readouterr().out


def test_option_types_are_checked_against_the_declared_signature():
    from bench.core.errors import UsageError
    from bench.core.registry import check_fields

    def factory(steps: int = 25, scale: float = 1.0, name: str | None = None, flag: bool = False, other=None):
        return None

    check_fields(factory, {"steps": 3, "scale": 2, "name": None, "flag": True, "other": object()}, "f")
    for key, value, want in (("steps", "ten", "int"), ("steps", True, "int"), ("scale", "x", "float"),
                             ("name", 3, "str"), ("flag", 1, "bool")):
        with pytest.raises(UsageError, match=f"option {key} must be {want}"):
            check_fields(factory, {key: value}, "f")


def test_option_values_read_as_yaml_and_exponents_as_numbers():
    from bench.generation.options import parse_options

    assert parse_options(["steps=25", "lr=1e-4", "scale=3.0", "flag=true", "name=text", "prompt=low: blur"]) == {
        "steps": 25, "lr": 1e-4, "scale": 3.0, "flag": True, "name": "text", "prompt": "low: blur"}


def test_every_listed_maugen_tiny_option_is_accepted():
    """What --list-options lists for maugen-tiny can be passed (negative_prompt used to collide with the base's)."""
    from reference.maugen.generator import MAUGenTiny

    gen = MAUGenTiny(train=False, negative_prompt="blurry", device="cpu")
    assert gen.negative_prompt == "blurry" and gen.config["negative_prompt"] == "blurry"
    assert "negative_prompt" not in MAUGenTiny(train=False).config  # the default's record is unchanged
