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
