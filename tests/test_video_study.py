"""`augen study video` (bench/studies/video.py): the report and figures are drawn from the results JSON alone (every
number in them is the JSON's), a missing AU reader is said rather than skipped, and one clip runs end to end (import,
faces per frame, the reader's readings when it is there)."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from bench.cli import main
from bench.data.hostile import write_video
from bench.studies import video as S


def _results(au: bool = True) -> dict:
    """Results for a 10-frame 'single_face.mp4' whose AU12 rises at frame 4, and a 4-frame other video."""
    def part(n: int, stride: int, au12: list) -> dict:
        frames = [{"frame": i * stride, "time": i * stride / 10, "faces": 1 if i else 0, "score": 0.9 if i else None,
                   "label": "x", "output": f"{i:08d}.png" if i else ""} for i in range(n)]
        out = {"frames": n * stride, "fps": 10.0, "stride": stride, "kept": n, "decode_s": 0.1, "decode_fps": 100.0,
               "import_s": 2.0, "shows": "a clip", "per_frame": frames,
               "import": {"one_face": n - 1, "no_face": 1, "several_faces": 0, "face_yield": (n - 1) / n,
                          "skipped": {"no face": 1}}}
        out["au"] = {"reader": "blendshapes-test", "aus": [1, 12], "found": [True] * n,
                     "prob": {"AU01": [0.1] * n, "AU12": au12}} if au else {"missing": "no reader here"}
        return out

    return {"study": "video", "size": 128, "smile_onset_by_eye": [3, 4], "time_s": 12.5,
            "segments_by_eye": {S.SINGLE: [["neutral", 0, 3], ["smiling", 3, 10]],
                                S.WOLFGANG: [["all", 0, 8]]},
            "videos": {S.SINGLE: part(10, 1, [None, 0.0, 0.1, 0.2, 0.6, 0.8, 0.9, 0.9, 0.4, 0.1]),
                       S.WOLFGANG: part(4, 2, [None, 0.5, 0.5, 0.5])}}


def test_report_and_figures_are_drawn_from_the_results(tmp_path, capsys):
    (tmp_path / "results.json").write_text(json.dumps(_results()))
    assert main(["study", "video", "--report-only", "--json", str(tmp_path / "results.json"), "--out",
                 str(tmp_path / "out")]) == 0
    md = (tmp_path / "out" / "report.md").read_text()
    assert "| single_face.mp4 | 10 | 10 | 1 | 10 | 9 | 1 | 0 | 0.900 | 100 | 2 |" in md
    assert "| single_face.mp4 | neutral (0-2) | 0.10 | n/a | n/a | 0.05 | n/a | n/a |" in md  # the mean of 0.0, 0.1
    assert "single_face.mp4: found in 10 of 10 crops" in md
    assert "first reaches 0.5 at frame 4 (0.400 s) and falls under it again at frame 8 (0.800 s)" in md
    assert ("Kept frames, faces as the import records them: 1 with 0 faces, 9 with 1 face; detection score "
            "0.900-0.900; not imported: frame 0 (skipped: 1 no face).") in md
    for png in ("au12_single_face.png", "au_over_time.png"):
        with Image.open(tmp_path / "out" / png) as im:
            assert im.width > 600
    assert "wrote" in capsys.readouterr().out


def test_a_missing_reader_is_said(tmp_path):
    written = S.write_report(_results(au=False), tmp_path)
    assert written == [tmp_path / "report.md"] and not (tmp_path / "au12_single_face.png").exists()
    assert "Not computed: no reader here" in (tmp_path / "report.md").read_text()


def test_one_clip_end_to_end(shipped_photos, blendshapes_task, tmp_path):
    path = next(p.path for p in shipped_photos if p.path.name == "0-f15-hao-ph.jpg")
    with Image.open(path) as im:
        face = np.asarray(im.convert("RGB").resize((256, 256)))
    clip = write_video(tmp_path / "clip.mp4", [np.roll(face, 4 * k, axis=1) for k in range(4)])
    (tmp_path / "work").mkdir()
    part = S.study_video(clip, 2, tmp_path / "work")
    assert (part["frames"], part["kept"], part["stride"]) == (4, 2, 2)
    assert [(f["frame"], f["faces"], f["label"]) for f in part["per_frame"]] == [(0, 1, "clip.mp4"), (2, 1, "clip.mp4")]
    assert part["import"]["face_yield"] == 1.0 and part["decode_fps"] > 0
    assert "missing" not in part["au"], part["au"].get("missing")  # the reader ships and its model is fetched
    assert len(part["au"]["prob"]["AU12"]) == 2 and all(part["au"]["found"])
    assert part["au"]["prob"]["AU12"][0] > 0.5  # a posed, open-mouthed smile
