"""Head masks for MAUGen's inpainting training (reference/common/headmask.py) on the shipped photographs: face-api's
68 landmarks -> a head outline covering the face and forehead and stopping under the chin; a set's outlines read once,
cached, and resumed after an interruption to the same values."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from reference.common import headmask as H

PORTRAITS = ("0-f1-su-ph.jpg", "0-f15-hao-ph.jpg", "15-f13-anc-ph.jpg", "45-m7-di-ph.jpg")


@pytest.fixture(scope="module")
def portraits(shipped_photos, faceapi_weights):
    """[(RGB image, (68, 2) landmarks)] of the four posed portraits."""
    from bench.judges.faceapi.pipeline import shared_pipeline

    pipe = shared_pipeline()
    out = []
    for name in PORTRAITS:
        path = next(p.path for p in shipped_photos if p.path.name == name)
        with Image.open(path) as im:
            rgb = np.asarray(im.convert("RGB"))
        out.append((rgb, pipe.locate(rgb)[0][0].landmarks))
    return out


def _inside(mask: np.ndarray, xy) -> bool:
    x, y = int(round(xy[0])), int(round(xy[1]))
    return 0 <= y < mask.shape[0] and 0 <= x < mask.shape[1] and mask[y, x] > 0.5


def test_head_masks_cover_face_and_forehead_and_stop_under_the_chin(portraits):
    for rgb, pts in portraits:
        size = rgb.shape[0]
        mask = H.rasterise(H.head_polygon(pts)[None], rgb.shape[:2], size)[0, 0].numpy()
        assert mask.shape == (size, size) and set(np.unique(mask)) <= {0.0, 1.0}
        assert all(_inside(mask, p) for p in pts)  # every landmark, the jaw line included
        face_h = pts[8, 1] - pts[19, 1]  # brow to chin
        assert _inside(mask, (pts[27, 0], pts[19, 1] - 0.5 * face_h))  # the forehead above the brows
        assert not _inside(mask, (pts[8, 0], pts[8, 1] + 0.25 * face_h))  # the neck under the chin
        assert 0.25 < mask.mean() < 0.7  # the authors' example head mask covers 56% of its frame
    a = H.rasterise(H.head_polygon(portraits[0][1])[None], portraits[0][0].shape[:2], 64)
    assert a.shape == (1, 1, 64, 64) and float(a.mean()) == pytest.approx(
        float(H.rasterise(H.head_polygon(portraits[0][1])[None], portraits[0][0].shape[:2], 512).mean()), abs=0.03)


def test_a_sets_outlines_are_cached_and_resume_after_an_interruption(portraits, tmp_path, monkeypatch):
    from bench.data.aus import AUS
    from bench.data.sampleset import Sample, SampleSet, SampleSetWriter

    root = tmp_path / "faces"
    with SampleSetWriter(root, name="faces", generator={"name": "test"}, image_size=(128, 128)) as w:
        for rgb, _ in portraits[:3]:
            w.add(Sample(image=np.asarray(Image.fromarray(rgb).resize((128, 128))), expression=0,
                         intensity=np.zeros(len(AUS), np.float32)))
    ss = SampleSet(root)
    monkeypatch.setattr(H, "CHUNK", 2)
    monkeypatch.setattr(H, "cache_file", lambda s: tmp_path / "cache" / "straight.npy")
    straight = H.set_polygons(ss)
    assert straight.shape == (3, 34, 2) and straight.dtype == np.float32

    monkeypatch.setattr(H, "cache_file", lambda s: tmp_path / "cache" / "resumed.npy")
    from bench.judges.faceapi.pipeline import shared_pipeline

    pipe, calls = shared_pipeline(), []

    def crash_on_second(images):
        calls.append(len(images))
        if len(calls) == 2:
            raise KeyboardInterrupt("simulated")
        return [f[0].landmarks for f in pipe.whole_crops(images)]

    with pytest.raises(KeyboardInterrupt):
        H.set_polygons(ss, landmarks=crash_on_second)
    assert (tmp_path / "cache" / "resumed.npy.partial.npy").is_file()
    calls.clear()
    resumed = H.set_polygons(ss, landmarks=lambda images: calls.append(len(images)) or
                             [f[0].landmarks for f in pipe.whole_crops(images)])
    assert calls == [1] and np.array_equal(resumed, straight)  # only the third row was read again
    assert not (tmp_path / "cache" / "resumed.npy.partial.npy").exists()
    again = H.set_polygons(ss, landmarks=lambda images: pytest.fail("read again, not cached"))
    assert np.array_equal(again, straight)
