"""`augen train synfer` (the `augen.trainers` entry): the tiny trainer (reference/synfer/train.py) or one SD-1.5
stage (reference/synfer/train_sd15.py, which reads the tiny trainer's losses: this dispatch sits above both so the
two modules import one way)."""

from __future__ import annotations

from pathlib import Path

from bench.core.errors import UsageError
from bench.core.registry import check_fields
from reference.synfer.config import SynFERTinyConfig


def train_command(config: str, options: dict, progress: bool = True) -> Path:
    """`augen train synfer --config tiny|sd15 [--sd15 FOLDER --data SET] [--option k=v]` (`augen.trainers`)."""
    if config == "sd15":
        from reference.common.sd15train import sd15_options
        from reference.synfer.train_sd15 import SynFERSD15Config, train_sd15_synfer

        folder, data, rest = sd15_options(options, "synfer")
        check_fields(SynFERSD15Config, rest, "trainer synfer (sd15)")
        return train_sd15_synfer(folder, data, SynFERSD15Config(**rest), progress=progress)
    if config != "tiny":
        raise UsageError(f"unknown config {config!r} (tiny | sd15)")
    from reference.synfer.train import train_tiny_synfer

    check_fields(SynFERTinyConfig, options, "trainer synfer")
    return train_tiny_synfer(SynFERTinyConfig(**options), progress=progress)
