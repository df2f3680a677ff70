"""A shrunken world-v1 for tests: same settings, fewer conditions, references and resamples."""

from __future__ import annotations

from pathlib import Path

import yaml

from bench.scoring.protocols import load_protocol


def mini_protocol(folder: Path, n: int) -> str:
    """Write world-v1 with n conditions, 200 reference images, 10 KID subsets, 20 bootstrap resamples and a
    4-training downstream as `world-mini`; returns the YAML path."""
    s = yaml.safe_load(load_protocol("world-v1").path.read_text())
    s["id"] = "world-mini"
    s["conditions"]["n"] = n
    s["reference"]["n"] = s["train_reference"]["n"] = 200
    s["realism"]["kid_subsets"] = 10
    s["bootstrap"]["n"] = 20
    s["downstream"].update(real_train={"split": "train", "n": 20}, test={"split": "test", "n": 100}, scales=[1, 2],
                           seeds=[0], steps=10, width=8)
    path = Path(folder) / "world-mini.yaml"
    path.write_text(yaml.safe_dump(s))
    return str(path)


MINI_WORLD = {"seed": 0, "image_size": 64}  # world-mini's world


def control_set(root: Path, n: int) -> Path:
    """The `real` control's answers to world-mini's first n conditions, written at `root` (its manifest names
    generator `real`)."""
    from bench.generation.base import get_generator, write_generated
    from bench.world.conditions import world_conditions

    return write_generated(get_generator("real", world=MINI_WORLD), world_conditions(MINI_WORLD, "val", n), root,
                           protocol="world-mini")


def mini_v3_protocol(folder: Path, block: int = 40) -> str:
    """world-v3 shrunk as `world-mini3`: 3 replicate blocks of `block` conditions (1x = block / 2 real images,
    scales 0.5-2), 200 reference and train-reference images, 20 bootstrap resamples, trainings of at most 6 steps
    and a real-only curve of 4 sizes; returns the YAML path."""
    s = yaml.safe_load(load_protocol("world-v3").path.read_text())
    s["id"] = "world-mini3"
    s["conditions"]["n"] = 3 * block
    s["reference"]["n"] = s["train_reference"]["n"] = 200
    s["realism"]["kid_subsets"] = 10
    s["bootstrap"]["n"] = 20
    n1 = block // 2
    s["downstream"].update(real_train={"split": "train", "n": n1}, test={"split": "test", "n": 150},
                           val={"split": "val", "start": 900000, "n": 80}, width=8, epochs=3, max_steps=6,
                           real_curve=[n1 // 2, n1, 2 * n1, 4 * n1])
    path = Path(folder) / "world-mini3.yaml"
    path.write_text(yaml.safe_dump(s))
    return str(path)
