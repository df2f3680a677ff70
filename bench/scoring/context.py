"""What a metric function sees (`ScoreInputs`) and returns (`Value`), and `NotApplicable` for a metric that does
not apply to a set (the control family needs the protocol's requested conditions)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.core.protocol import Protocol
from bench.data.aus import AU_INDEX, subset
from bench.data.conditions import Condition
from bench.metrics.stats import bootstrap_counts


class NotApplicable(Exception):  # noqa: N818  (a signal, not an error)
    """Raised by a metric function when the set cannot answer it (e.g. no requested conditions)."""


@dataclass
class Value:
    """One metric's answer: its value, the number of samples it reads, an optional 95% interval, extra fields."""

    value: float
    n: int
    ci: tuple[float, float] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ScoreInputs:
    """Everything one score reads; `memo` shares work between metrics of one family (precision and recall)."""

    proto: Protocol
    gen: dict[str, np.ndarray]  # judge readings of the scored set, row-aligned (features (N, D), au_prob (N, 17)...)
    ref: dict[str, np.ndarray]  # judge readings of the protocol's reference split
    train: dict[str, np.ndarray]  # judge readings of its train reference (memorization)
    claimed_aus: np.ndarray  # (N, 17) intensities the set claims, NaN = not labelled
    claimed_expression: np.ndarray  # (N,) expression codes the set claims, -1 = not labelled
    requested: list[Condition] | None  # the condition behind each row, when the set answers the protocol's suite
    au_judge: str  # id of what read the AUs (the judge, or an external tool)
    facts: dict[str, Any] = field(default_factory=dict)  # about the set beyond readings: an imported set's
    #                                                      `face_counts` (faces found per source image)
    _memo: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.claimed_aus)

    @property
    def boot(self) -> dict:
        b = self.proto.bootstrap
        return {"n_boot": b.n, "seed": b.seed, "alpha": b.alpha}

    def boot_counts(self) -> np.ndarray:
        """Row counts (B, N) of the protocol's one-sample bootstrap resamples of this set's rows: the draws of
        `bootstrap_ci(..., **self.boot)`, made once for every alignment interval that is a sum over rows."""
        b = self.proto.bootstrap
        return self.memo("boot_counts", lambda: bootstrap_counts(self.n, b.n, b.seed))

    @property
    def cols(self) -> list[int]:
        """Columns of the protocol's AU subset."""
        return [AU_INDEX[a] for a in subset(self.proto.aus)]

    @property
    def au_names(self) -> list[str]:
        return [f"AU{a:02d}" for a in subset(self.proto.aus)]

    def memo(self, key: str, compute: Callable[[], Any]) -> Any:
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]
