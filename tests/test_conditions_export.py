"""`augen conditions` / bench.data.conditions.export_conditions: the suite a world protocol asks for, written as
JSON lines (read back by read_condition_file with every field kept) or CSV; bad records are refused by entry."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from bench.core.errors import DataError, UsageError
from bench.data.conditions import export_conditions, read_condition_file
from bench.scoring.protocols import load_protocol
from bench.world.conditions import suite_conditions


def test_suite_round_trips_through_json_lines(tmp_path):
    suite = suite_conditions(load_protocol("world-v2"), 25)
    back = read_condition_file(export_conditions(suite, tmp_path / "s.jsonl"))
    assert [(c.index, c.seed, c.prompt, c.expression, c.identity, c.demographics) for c in back] == \
        [(c.index, c.seed, c.prompt, c.expression, c.identity, c.demographics) for c in suite]
    got, want = np.stack([c.aus for c in back]), np.stack([c.aus for c in suite])
    assert np.array_equal(np.isnan(got), np.isnan(want)) and np.nanmax(np.abs(got - want)) <= 5e-5  # 4 decimals


def test_csv_has_one_row_per_condition_with_its_labels(tmp_path):
    suite = suite_conditions(load_protocol("world-v2"), 7)
    rows = list(csv.DictReader(open(export_conditions(suite, tmp_path / "s.csv"), newline="")))
    assert [int(r["index"]) for r in rows] == [c.index for c in suite]
    assert float(rows[3]["AU12"]) == pytest.approx(float(suite[3].aus[8]), abs=5e-5)  # AU12 is column 8 of 17
    assert rows[3]["expression_name"] and rows[3]["skin_tone"] == str(suite[3].demographics["skin_tone"])


def test_bad_records_and_suffixes_are_refused(tmp_path):
    with pytest.raises(UsageError, match=".jsonl or .csv"):
        export_conditions(suite_conditions(load_protocol("world-v2"), 2), tmp_path / "s.txt")
    good = {"index": 0, "seed": 0, "prompt": "a face", "aus": {"AU12": 2.0}, "expression": 1}
    for bad, message in (({"aus": {"AU99": 1.0}}, "AU99"), ({"aus": {"AU12": 7}}, r"\[0, 5\]"),
                         ({"expression": 9}, "code 0-7"), ({"seed": -1}, "non-negative"),
                         ({"demographics": {"height": 3}}, "demographics")):
        (tmp_path / "b.jsonl").write_text(json.dumps(good) + "\n" + json.dumps({**good, **bad}) + "\n")
        with pytest.raises(DataError, match=message) as e:
            read_condition_file(tmp_path / "b.jsonl")
        assert "row 2" in str(e.value) or ":2" in str(e.value)


def test_cli_refuses_a_protocol_without_a_suite(tmp_path, capsys):
    from bench.cli import main

    assert main(["conditions", "--protocol", "faces-v1", "--out", str(tmp_path / "s.csv")]) == 2
    assert "asks for no condition suite" in capsys.readouterr().err
    assert main(["conditions", "--n", "3", "--out", str(tmp_path / "s.jsonl")]) == 0
    assert len((tmp_path / "s.jsonl").read_text().splitlines()) == 3
