"""Hostile photographs (bench/data/hostile.py) through the photo reader (bench.data.safeio.read_photo) and the
`face-align` judge: every input refused with one message naming the file, or read upright as RGB with its
conversions noted, then counted by the detector.

    refused    20,000 x 20,000 header (before decoding), animated PNG, truncated JPEG, text named .jpg, missing file,
               symlink, a format not allowed (BMP)
    converted  CMYK, 16-bit grey (scaled, not clipped: max 65535 -> 255), greyscale, palette, RGBA, EXIF orientation 6
               (read back upright: within JPEG error of the original); each still holds its one face
    faces      no face -> 0; a 30-face mosaic -> 30
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bench.core.errors import DataError
from bench.data.hostile import face_mosaic, write_hostile
from bench.data.safeio import MAX_PHOTO_PIXELS, read_photo
from bench.judges import build_judge


@pytest.fixture(scope="module")
def judge(faceapi_weights):
    return build_judge("face-align", {})


@pytest.fixture(scope="module")
def hostile(faceapi_weights, judge, tmp_path_factory):
    photos = [np.asarray(Image.open(faceapi_weights / "demo" / f"sample{k}.jpg").convert("RGB")) for k in (1, 5)]
    boxes = [[f.box for f in faces] for faces in judge.pipeline.locate(photos)]
    face = photos[0][275:675, 302:702]
    return face, write_hostile(tmp_path_factory.mktemp("hostile"), face, face_mosaic(photos, boxes, n=30))


@pytest.mark.parametrize("name, message", [
    ("huge.png", f"over the {MAX_PHOTO_PIXELS} pixel limit"),
    ("animated.png", "animated \\(2 frames\\)"),
    ("truncated.jpg", "corrupt or truncated"),
    ("not_an_image.jpg", "corrupt or truncated"),
])
def test_refused_with_one_message(hostile, name, message):
    with pytest.raises(DataError, match=f"{name}: .*{message}"):
        read_photo(hostile[1][name])


def test_refused_files(tmp_path, hostile):
    with pytest.raises(DataError, match="missing"):
        read_photo(tmp_path / "absent.jpg")
    (tmp_path / "link.jpg").symlink_to(hostile[1]["greyscale.jpg"])
    with pytest.raises(DataError, match="symlink"):
        read_photo(tmp_path / "link.jpg")
    Image.fromarray(hostile[0]).save(tmp_path / "face.bmp")
    with pytest.raises(DataError, match="format BMP") as excinfo:
        read_photo(tmp_path / "face.bmp", where="labels.csv", row=7)
    assert "labels.csv" in str(excinfo.value) and "face.bmp" in str(excinfo.value)


@pytest.mark.parametrize("name, note", [
    ("cmyk.jpg", "CMYK converted"), ("grey16.png", "grey scaled to 8 bits"), ("greyscale.jpg", "L converted"),
    ("palette.png", "palette converted"), ("rgba.png", "alpha composited"), ("exif_rotated.jpg", "EXIF orientation 6"),
])
def test_converted_and_still_one_face(hostile, judge, name, note):
    face, paths = hostile
    pixels, notes = read_photo(paths[name])
    assert pixels.dtype == np.uint8 and pixels.shape == face.shape and any(note in n for n in notes), notes
    assert judge(pixels[None])["face_count"].tolist() == [1], name


def test_exif_rotation_is_undone(hostile):
    face, paths = hostile
    pixels, _ = read_photo(paths["exif_rotated.jpg"])
    assert np.abs(pixels.astype(int) - face.astype(int)).mean() < 3  # upright again, up to JPEG error


def test_sixteen_bit_is_scaled_not_clipped(tmp_path):
    ramp = np.linspace(0, 65535, 256 * 4).astype(np.uint16).reshape(4, 256)
    Image.fromarray(ramp).save(tmp_path / "ramp.png")  # mode I;16
    pixels, _ = read_photo(tmp_path / "ramp.png")
    assert pixels[..., 0].max() == 255 and pixels[..., 0].min() == 0 and len(np.unique(pixels[..., 0])) > 200


def test_face_counts(hostile, judge):
    paths = hostile[1]
    images = [read_photo(paths[n])[0] for n in ("no_face.png", "crowd.jpg")]
    assert [judge(im[None])["face_count"][0] for im in images] == [0, 30]
