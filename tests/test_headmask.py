"""Head regions for MAUGen's inpainting training (bench/data/headregions.py, `augen head-regions`) on the shipped
photographs: face-api's 68 landmarks -> a head outline covering the face and forehead and stopping under the chin; a
set's outlines written into it once, resumed after an interruption to the same values, and refused by name when
missing or written for other images."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bench.core.errors import DataError
from bench.data import headregions as H

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
        mask = H.rasterise(H.head_polygon(pts)[None], rgb.shape[:2], size)[0]
        assert mask.shape == (size, size) and set(np.unique(mask)) <= {0.0, 1.0}
        assert all(_inside(mask, p) for p in pts)  # every landmark, the jaw line included
        face_h = pts[8, 1] - pts[19, 1]  # brow to chin
        assert _inside(mask, (pts[27, 0], pts[19, 1] - 0.5 * face_h))  # the forehead above the brows
        assert not _inside(mask, (pts[8, 0], pts[8, 1] + 0.25 * face_h))  # the neck under the chin
        assert 0.25 < mask.mean() < 0.7  # the authors' example head mask covers 56% of its frame
    a = H.rasterise(H.head_polygon(portraits[0][1])[None], portraits[0][0].shape[:2], 64)
    assert a.shape == (1, 64, 64) and float(a.mean()) == pytest.approx(
        float(H.rasterise(H.head_polygon(portraits[0][1])[None], portraits[0][0].shape[:2], 512).mean()), abs=0.03)


def test_a_sets_regions_are_written_once_resume_and_are_refused_when_stale(portraits, tmp_path, monkeypatch,
                                                                           capsys):
    from bench.cli import main
    from bench.data.aus import AUS
    from bench.data.sampleset import Sample, SampleSet, SampleSetWriter
    from bench.judges.faceapi.pipeline import shared_pipeline

    def faces(root, photos):
        with SampleSetWriter(root, name="faces", generator={"name": "test"}, image_size=(128, 128)) as w:
            for rgb, _ in photos:
                w.add(Sample(image=np.asarray(Image.fromarray(rgb).resize((128, 128))), expression=0,
                             intensity=np.zeros(len(AUS), np.float32)))
        return SampleSet(root)

    ss = faces(tmp_path / "faces", portraits[:3])
    with pytest.raises(DataError, match=r"faces: no head regions \(head_regions.npy\); write them with "
                                        r"`augen head-regions .*faces`"):
        H.read_head_regions(ss)
    monkeypatch.setattr(H, "CHUNK", 2)
    assert main(["head-regions", str(ss.root), "--quiet"]) == 0
    assert "head regions of 3 faces written" in capsys.readouterr().out
    straight = H.read_head_regions(SampleSet(ss.root))
    assert straight.shape == (3, 34, 2) and straight.dtype == np.float32

    again = faces(tmp_path / "again", portraits[:3])
    pipe, calls = shared_pipeline(), []

    def crash_on_second(images):
        calls.append(len(images))
        if len(calls) == 2:
            raise KeyboardInterrupt("simulated")
        return [f[0].landmarks for f in pipe.whole_crops(images)]

    with pytest.raises(KeyboardInterrupt):
        H.write_head_regions(again, crash_on_second, "test")
    assert len(list(again.root.glob(".head_regions.*.partial.npy"))) == 1
    calls.clear()
    resumed = H.write_head_regions(again, lambda images: calls.append(len(images)) or
                                   [f[0].landmarks for f in pipe.whole_crops(images)], "test")
    assert calls == [1] and np.array_equal(resumed, straight)  # only the third row was read again
    assert not list(again.root.glob(".head_regions.*.partial.npy"))

    other = faces(tmp_path / "other", portraits[1:4])  # other images under the first set's regions
    for f in (H.FILE, H.META):
        (other.root / f).write_bytes((ss.root / f).read_bytes())
    with pytest.raises(DataError, match="head regions were written for other images"):
        H.read_head_regions(other)
