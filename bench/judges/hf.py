"""DINOv2 features and CLIP embeddings / CLIP score through `transformers`, from local folders only.

A judge folder is what `save_pretrained` writes (config.json + weights, and a tokenizer for CLIP).
Nothing is downloaded: a missing folder is an error saying what to put where. Preprocessing is ours
(bicubic resize with antialiasing + the model family's mean/std), so no image processor (and no
torchvision) is needed; the judge id carries the sha256 of the folder's config and weights.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from bench.core.errors import MissingWeights

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def local_folder(path: str | Path | None, what: str) -> Path:
    """Check a `save_pretrained` folder exists; the error says what to put there."""
    p = Path(path) if path else None
    if p is None or not (p / "config.json").is_file() or not any((p / w).is_file() for w in WEIGHT_FILES):
        raise MissingWeights(
            f"{what} weights not found{f' at {p}' if p else ''}: on a machine with internet run "
            f"`from_pretrained(...)` then `save_pretrained(FOLDER)` for {what}, copy FOLDER here and pass its path")
    return p


def folder_sha256(folder: Path) -> str:
    """sha256 over config.json and the weight files (the judge's weight hash)."""
    h = hashlib.sha256()
    for name in ("config.json", *WEIGHT_FILES):
        f = folder / name
        if f.is_file():
            with open(f, "rb") as fh:
                while block := fh.read(1 << 20):
                    h.update(block)
    return h.hexdigest()


def preprocess(images: np.ndarray, size: int, mean, std) -> torch.Tensor:
    """uint8 (B, H, W, 3) -> normalized float (B, 3, size, size), bicubic with antialiasing."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255.0)
    x = F.interpolate(x, size=(size, size), mode="bicubic", antialias=True, align_corners=False).clamp_(0, 1)
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


class DinoV2Judge:
    """DINOv2 CLS features (B, hidden) for FD / precision-recall on real data."""

    readings = ("features",)

    def __init__(self, folder: str | Path, device: str = "cpu"):
        from transformers import Dinov2Model

        folder = local_folder(folder, "DINOv2")
        self.model = Dinov2Model.from_pretrained(folder, local_files_only=True).to(device).eval()
        self.device, self.size = device, int(self.model.config.image_size)
        self.sha256 = folder_sha256(folder)
        self.id, self.config = f"dinov2-{self.sha256[:12]}", {}

    @torch.no_grad()
    def __call__(self, images: np.ndarray) -> dict[str, np.ndarray]:
        x = preprocess(images, self.size, IMAGENET_MEAN, IMAGENET_STD).to(self.device)
        return {"features": self.model(pixel_values=x).pooler_output.float().cpu().numpy()}


class CLIPJudge:
    """CLIP image/text embeddings and CLIP score = max(100 * cos(image, text), 0) per sample."""

    readings = ("features",)

    def __init__(self, folder: str | Path, device: str = "cpu"):
        from transformers import AutoTokenizer, CLIPModel

        folder = local_folder(folder, "CLIP")
        self.model = CLIPModel.from_pretrained(folder, local_files_only=True).to(device).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        self.device = device
        self.size = int(self.model.config.vision_config.image_size)
        self.max_len = int(self.model.config.text_config.max_position_embeddings)
        self.sha256 = folder_sha256(folder)
        self.id, self.config = f"clip-{self.sha256[:12]}", {}

    @torch.no_grad()
    def image_embeds(self, images: np.ndarray) -> torch.Tensor:
        x = preprocess(images, self.size, CLIP_MEAN, CLIP_STD).to(self.device)
        return F.normalize(self.model.get_image_features(pixel_values=x).pooler_output.float(), dim=-1)

    @torch.no_grad()
    def text_embeds(self, prompts: list[str]) -> torch.Tensor:
        tok = self.tokenizer(prompts, padding=True, truncation=True, max_length=self.max_len, return_tensors="pt")
        out = self.model.get_text_features(input_ids=tok["input_ids"].to(self.device),
                                           attention_mask=tok["attention_mask"].to(self.device))
        return F.normalize(out.pooler_output.float(), dim=-1)

    def clip_score(self, images: np.ndarray, prompts: list[str]) -> np.ndarray:
        """(B,) CLIP score of each image with its own prompt."""
        if len(images) != len(prompts):
            raise ValueError(f"{len(images)} images but {len(prompts)} prompts")
        cos = (self.image_embeds(images) * self.text_embeds(prompts)).sum(-1)
        return (100.0 * cos).clamp(min=0).cpu().numpy()

    def __call__(self, images: np.ndarray) -> dict[str, np.ndarray]:
        return {"features": self.image_embeds(images).cpu().numpy()}
