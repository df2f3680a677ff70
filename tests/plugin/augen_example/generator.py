"""`example-flat`: a flat face-coloured image per condition, claiming exactly the requested labels.

The whole contract of a generator: `name`, `version`, `config` (recorded in every result), `image_size`,
`labelled_aus`, and `generate(conditions)` yielding one Sample per Condition, in order. Keyword arguments of
`__init__` are its options (`--option shade=0.4`); the harness refuses any other name.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from bench.core.errors import UsageError
from bench.data.aus import AUS
from bench.data.conditions import Condition
from bench.data.sampleset import Sample


class FlatGenerator:
    name = "example-flat"
    version = "1"
    labelled_aus = AUS  # it claims every canonical AU (the requested intensities)

    def __init__(self, shade: float = 0.6, size: int = 64):
        if not 0.0 <= shade <= 1.0:
            raise UsageError(f"shade must be in [0, 1], not {shade}")
        self.shade, self.image_size = shade, (size, size)
        self.config = {"shade": shade, "size": size}

    def generate(self, conditions: list[Condition]) -> Iterator[Sample]:
        colour = np.array([255, 205, 170]) * self.shade
        for c in conditions:
            image = np.broadcast_to(colour.astype(np.uint8), (*self.image_size, 3)).copy()  # (H, W, 3) uint8
            yield Sample(image=image, intensity=np.nan_to_num(c.aus, nan=0.0).astype(np.float32),
                         expression=c.expression, prompt=c.prompt, seed=c.seed)
