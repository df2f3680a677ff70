"""`augen head-regions SET`: every face's head outline from face-api's 68 landmarks, written into the set
(bench.data.headregions: the rule, the files, the reader MAUGen's sd15 trainer uses).

The set's faces are already crops (imported or generated), so the landmark net reads each whole image
(`FaceApiPipeline.whole_crops`: no detector, as face-api reads a face it was given).
"""

from __future__ import annotations

import numpy as np

from bench.data.headregions import write_head_regions


def faceapi_head_regions(ss, progress: bool = False) -> np.ndarray:
    """Write and return the head outlines of the opened SampleSet `ss` (face-api's verified weights)."""
    from bench.judges.faceapi.judge import pins_sha256
    from bench.judges.faceapi.pipeline import shared_pipeline

    pipe = shared_pipeline()

    def landmarks(images: list[np.ndarray]) -> list[np.ndarray]:
        return [faces[0].landmarks for faces in pipe.whole_crops(images)]

    return write_head_regions(ss, landmarks, f"face-api 68-point landmarks on the whole crop (pins "
                                             f"{pins_sha256()[:12]})", progress)
