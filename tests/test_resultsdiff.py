"""The value-for-value comparison of results trees: equal trees compare clean, each kind of difference is named."""

from __future__ import annotations

import json

from bench.devtools.resultsdiff import compare_trees


def test_resultsdiff_names_each_difference(tmp_path):
    base = {"created": "t0", "git": "a", "metrics": {"fd": {"value": 1.0, "ci95": [0.5, 1.5], "n": 10}},
            "protocol": {"hash": "h"}}
    for side, changes in (("old", {}), ("new", {"created": "t1", "git": "b"})):
        (tmp_path / side / "p").mkdir(parents=True)
        (tmp_path / side / "p" / "a.json").write_text(json.dumps({**base, **changes}))
    assert compare_trees(tmp_path / "old", tmp_path / "new") == ([], 1)  # times and git hashes may differ
    last_bit = {**base, "metrics": {"fd": {"value": 1.0 + 1e-15, "ci95": [0.5, 1.5], "n": 10}}}
    (tmp_path / "new" / "p" / "a.json").write_text(json.dumps(last_bit))
    assert compare_trees(tmp_path / "old", tmp_path / "new") == ([], 1)
    moved = {**base, "metrics": {"fd": {"value": 1.001, "ci95": [0.5, 1.5], "n": 11}}}
    (tmp_path / "new" / "p" / "a.json").write_text(json.dumps(moved))
    (tmp_path / "new" / "p" / "b.json").write_text("{}")
    found, n = compare_trees(tmp_path / "old", tmp_path / "new")
    assert found == ["p/a.json/metrics/fd/n: 10 vs 11", "p/a.json/metrics/fd/value: 1.0 vs 1.001", "p/b.json: only in new"]
