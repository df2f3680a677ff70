"""The `blendshapes` AU reader: MediaPipe's blendshapes of each image of a set, mapped to AUs, as an AU tool's readings.

    AU_READINGS kind `blendshapes` (`augen score SET --au-readings blendshapes`; faces-v1's `au_reader`): reads the
    set's own images, so it needs no WHERE. `blendshapes_readings(ss)` -> ({'au_intensity', 'au_prob'} (n, 17)
    over bench.data.aus.AUS, the shape bench.judges.external returns; the reader's id)
    JUDGES kind `blendshapes` (`BlendshapesJudge`): the raw readings per image, built once per process by
    bench.judges.build_judge

The raw readings (found, 52 scores, 478 landmarks in crop pixels) are cached with the project's feature cache
(bench.judges.cache: one .npz per set content hash and reader id), and the AU arrays are mapped from them on every
read (bench.judges.blendshapes.mapping), so a change of the table needs no new pass over the images. The id names the
reader, the runtime's version and the model file's sha256 prefix (`blendshapes-mediapipe1.2.3-64184e229b26`): a
results file's `au_judge` carries it with `proxy: true` (registered in bench/judges/__init__.py), and it enters the
protocol hash (bench.core.hashparts.au_tool_part).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.data.sampleset import SampleSet
from bench.judges.blendshapes.fetch import TASK_SHA256, task_file
from bench.judges.blendshapes.mapping import au_readings
from bench.judges.blendshapes.runtime import RUNTIME, runtime_version, shared_landmarker
from bench.judges.cache import judge_sharded

KIND = "blendshapes"


def reader_id(task_sha256: str = TASK_SHA256) -> str:
    """'blendshapes-mediapipe<version>-<sha256[:12] of the .task>'; its last '-' part is the model's hash prefix."""
    return f"{KIND}-{RUNTIME}{runtime_version()}-{task_sha256[:12]}"


class BlendshapesJudge:
    """MediaPipe's Face Landmarker on each image (an aligned face crop): {'found' (B,), 'blendshapes' (B, 52),
    'landmarks' (B, 478, 2) crop pixels}, NaN where no face was found. Loads the pinned model only (MissingWeights
    saying what to run)."""

    readings = ("found", "blendshapes", "landmarks")

    def __init__(self):
        self.task = task_file()
        self.sha256 = TASK_SHA256
        self.id = reader_id()
        self.config = {"runtime": f"{RUNTIME}=={runtime_version()}", "task": self.task.name}
        self.landmarker = shared_landmarker(self.task)

    def __call__(self, images: np.ndarray) -> dict[str, np.ndarray]:
        return self.landmarker(images)


def raw_readings(ss: SampleSet | str | Path, cache: Path | None = None) -> dict[str, np.ndarray]:
    """The judge's readings of every row of a set, in row order, cached by (content hash, reader id)."""
    from bench import judges

    judge = judges.build_judge(KIND)
    return judge_sharded(ss, judge, judge.id, folder=cache)


def blendshapes_readings(ss: SampleSet, where: str | Path | None = None,
                         cache: Path | None = None) -> tuple[dict, str]:
    """AU readings of the set's own images (`where` is not read: the reader needs no tool output); (arrays, id)."""
    raw = raw_readings(ss, cache)
    return au_readings(raw["blendshapes"]), reader_id()
