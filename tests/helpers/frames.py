"""Video frames of a real face for import tests (test_import_video.py, test_disfa_import.py): a window moving over
one shipped posed photograph, so every frame holds one face and no two frames are the same."""

from __future__ import annotations

import numpy as np
from PIL import Image

PHOTO = "0-f15-hao-ph.jpg"  # a posed, frontal face among the shipped photos (augen weights fetch photos)


def moving_window_frames(shipped_photos, n: int) -> list[np.ndarray]:
    """n frames (256, 256, 3) uint8: a 448 px window over the photo, moved 8 px down and 4 px right a frame."""
    path = next(p.path for p in shipped_photos if p.path.name == PHOTO)
    with Image.open(path) as im:
        photo = np.asarray(im.convert("RGB"))
    return [np.asarray(Image.fromarray(photo[8 * k:8 * k + 448, 4 * k:4 * k + 448]).resize((256, 256)))
            for k in range(n)]
