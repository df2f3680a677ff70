"""`augen train synfer` (the `augen.trainers` entry): the tiny trainer (reference/synfer/train.py) or one SD-1.5
stage (reference/synfer/train_sd15.py, which reads the tiny trainer's losses: this dispatch sits above both so the
two modules import one way)."""

from __future__ import annotations

from pathlib import Path

from reference.common.sd15train import train_by_config


def _tiny():
    from reference.synfer.config import SynFERTinyConfig
    from reference.synfer.train import train_tiny_synfer

    return SynFERTinyConfig, train_tiny_synfer


def _sd15():
    from reference.synfer.train_sd15 import SynFERSD15Config, train_sd15_synfer

    return SynFERSD15Config, train_sd15_synfer


def train_command(config: str, options: dict, progress: bool = True) -> Path:
    """`augen train synfer --config tiny|sd15 [--sd15 FOLDER --data SET] [--option k=v]` (`augen.trainers`)."""
    return train_by_config("synfer", config, options, _tiny, _sd15, progress)
