"""Real-data fixtures made from world faces (whose true labels are known): an AffectNet-format folder (official CSV
layout, faces on a larger canvas with their boxes) and shrunken copies of the real-data protocols."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from bench.core.paths import PROTOCOLS as PROTOCOL_DIR
from bench.world.params import WorldConfig, sample_params
from bench.world.render import render

WORLD = WorldConfig(seed=0, image_size=64)
BOX = (10, 6, 64, 64)  # where each face sits on its 84 x 76 AffectNet canvas
COLS = ["subDirectory_filePath", "face_x", "face_y", "face_width", "face_height", "facial_landmarks", "expression",
        "valence", "arousal"]


def world_faces(split: str, idx: np.ndarray):
    """(images (N, 64, 64, 3) uint8, their parameters) of world faces `idx` of a split."""
    p = sample_params(WORLD, split, idx)
    return render(p, 64), p


def affectnet_folder(root: Path, n_train: int = 240, per_class: int = 6) -> Path:
    """An AffectNet-format dataset under `root`: training.csv (`n_train` world train faces) and validation.csv
    (`per_class` world test faces of each of the 8 classes), each with one "uncertain" row the reader skips."""
    imgs = root / "Manually_Annotated_Images"
    rows_by_split = {}
    train_x, train_p = world_faces("train", np.arange(n_train))
    test_idx = np.arange(1500)
    test_x, test_p = world_faces("test", test_idx)
    picks = [i for c in range(8) for i in np.flatnonzero(test_p.expression == c)[:per_class]]
    for name, xs, exprs, idx, tag in (("training.csv", train_x, train_p.expression, range(n_train), "tr"),
                                      ("validation.csv", test_x, test_p.expression, picks, "va")):
        rows = []
        for i in idx:
            rel = f"{i // 100}/{tag}{i:05d}.jpg"
            (imgs / rel).parent.mkdir(parents=True, exist_ok=True)
            canvas = np.full((76, 84, 3), 128, np.uint8)
            canvas[BOX[1]:BOX[1] + 64, BOX[0]:BOX[0] + 64] = xs[i]
            Image.fromarray(canvas).save(imgs / rel, quality=95)
            rows.append([rel, *BOX, "1.0;2.0", int(exprs[i]), 0.1, 0.2])
        rows.insert(3, [rows[0][0], *BOX, "", 9, -2, -2])  # "uncertain": skipped by the reader
        rows_by_split[name] = rows
        with open(root / name, "w", newline="") as f:
            csv.writer(f).writerows([COLS, *rows])
    return root


def tiny_real_protocol(tmp: Path, name: str, **down) -> str:
    """A shrunken copy of a real-data protocol (tiny recognizer, 12 steps, one seed, 0.5x and 1x, 40 val rows),
    `down` overriding its downstream settings; its path."""
    s = yaml.safe_load((PROTOCOL_DIR / f"{name}.yaml").read_text())
    s["downstream"].update({"recognizer": "resnet18", "width": 8, "input_size": 32, "steps": 12, "batch_size": 16,
                            "seeds": [0], "scales": [0.5, 1], "val": {"n": 40}, **down})
    if name in ("bp4d-v1", "disfa-v1"):
        s["data"]["frame_stride"] = 1
    path = tmp / f"{name}-tiny.yaml"
    path.write_text(yaml.safe_dump(s))
    return str(path)


def rafdb_folder(root: Path, n_train: int = 120, n_test: int = 56) -> Path:
    """A RAF-DB-format dataset under `root`: EmoLabel/list_patition_label.txt and Image/aligned/*_aligned.jpg, world
    faces of the 7 basic classes (contempt faces left out) with RAF-DB's 1-7 labels."""
    from bench.data.datasets import RAF_TO_AFFECTNET

    to_raf = {code: raf for raf, code in RAF_TO_AFFECTNET.items()}
    (root / "EmoLabel").mkdir(parents=True)
    (root / "Image" / "aligned").mkdir(parents=True)
    lines = []
    for split, n in (("train", n_train), ("test", n_test)):
        xs, p = world_faces(split, np.arange(3 * n))
        keep = [i for i in range(3 * n) if int(p.expression[i]) in to_raf][:n]
        for k, i in enumerate(keep, 1):
            name = f"{split}_{k:05d}.jpg"
            Image.fromarray(xs[i]).save(root / "Image" / "aligned" / name.replace(".jpg", "_aligned.jpg"), quality=95)
            lines.append(f"{name} {to_raf[int(p.expression[i])]}")
    (root / "EmoLabel" / "list_patition_label.txt").write_text("\n".join(lines) + "\n")
    return root


def disfa_folder(root: Path, subjects: tuple[str, ...] = ("SN001", "SN002", "SN003", "SN004", "SN005", "SN006"),
                 frames: int = 40) -> Path:
    """A DISFA-format dataset under `root`: ActionUnit_Labels/SNxxx/SNxxx_au{k}.txt ("frame,intensity", the world
    faces' true intensities of DISFA's 12 AUs, rounded) and frames/SNxxx/{frame}.png."""
    from bench.data.aus import AU_INDEX, subset

    for k, subj in enumerate(subjects):
        xs, p = world_faces("val", np.arange(k * frames, (k + 1) * frames))
        (root / "frames" / subj).mkdir(parents=True)
        (root / "ActionUnit_Labels" / subj).mkdir(parents=True)
        for f in range(frames):
            Image.fromarray(xs[f]).save(root / "frames" / subj / f"{f}.png")
        for au in subset("DISFA12"):
            rows = [f"{f},{int(np.clip(np.round(p.aus[f, AU_INDEX[au]]), 0, 5))}" for f in range(frames)]
            (root / "ActionUnit_Labels" / subj / f"{subj}_au{au}.txt").write_text("\n".join(rows) + "\n")
    return root
