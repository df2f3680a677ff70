"""AU vocabulary and the environment check."""

from __future__ import annotations

import numpy as np
import pytest

from bench.data.aus import (
    AU_COLUMNS,
    AUS,
    SUBSETS,
    au_column,
    expression_code,
    occurrence,
    subset_indices,
    vector_from_mapping,
)
from bench.devtools import envcheck


def test_vocabulary_matches_design():
    assert AUS == (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 24, 25, 26)
    assert AU_COLUMNS[0] == "AU01" and AU_COLUMNS[-1] == "AU26" and au_column(9) == "AU09"
    assert SUBSETS["BP4D12"] == (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)
    assert SUBSETS["DISFA12"] == (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)
    assert SUBSETS["DISFA8"] == (1, 2, 4, 6, 9, 12, 25, 26) and SUBSETS["FERA5"] == (6, 10, 12, 14, 17)
    for name, aus in SUBSETS.items():
        assert [AUS[i] for i in subset_indices(name)] == list(aus)
    with pytest.raises(KeyError, match="AU3 is not a canonical AU"):
        au_column(3)
    with pytest.raises(KeyError, match="unknown AU subset"):
        subset_indices("BP4D99")


def test_occurrence_thresholds_and_nan():
    v = vector_from_mapping({1: 0.99, 2: 1.0, 4: 2.0, 5: 1.5})
    occ = occurrence(v)
    assert occ[:4].tolist() == [0.0, 1.0, 1.0, 1.0] and np.isnan(occ[4:]).all()
    assert occurrence(v, threshold=2.0)[:4].tolist() == [0.0, 0.0, 1.0, 0.0]  # DISFA convention


def test_expression_codes():
    assert expression_code("Happy") == 1 and expression_code(7) == 7
    for bad in (8, -1, "joy"):
        with pytest.raises(ValueError):
            expression_code(bad)


def test_envcheck_flags_torchvision_and_online_settings(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    assert envcheck.problems() == []  # this env: torch present, torchvision absent
    real = envcheck.importlib.util.find_spec
    monkeypatch.setattr(envcheck.importlib.util, "find_spec",
                        lambda name: object() if name == "torchvision" else real(name))
    monkeypatch.delenv("HF_HUB_OFFLINE")
    found = envcheck.problems()
    assert any("torchvision is installed" in p for p in found) and any("HF_HUB_OFFLINE" in p for p in found)


def test_emfacs_prototypes_for_photographs_differ_from_the_world_only_where_documented():
    """One table of EMFACS prototypes for photographs, on canonical AUs, for every expression; the world's
    generative table is the same but for disgust (9+10+15 there, EMFACS's 9+15(+16) here), as docs/sources.md says."""
    from bench.data.aus import AUS, EMFACS_PROTOTYPES, EXPRESSIONS
    from bench.world.params import PROTOTYPES

    assert tuple(EMFACS_PROTOTYPES) == EXPRESSIONS
    assert all(au in AUS for aus in EMFACS_PROTOTYPES.values() for au in aus)
    differ = {EXPRESSIONS[k] for k, aus in PROTOTYPES.items() if set(aus) != set(EMFACS_PROTOTYPES[EXPRESSIONS[k]])}
    assert differ == {"disgust"}
