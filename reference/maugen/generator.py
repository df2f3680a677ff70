"""MAUGen as a benchmark generator: `maugen-tiny` (the committed tiny checkpoints: the published variant by
default, `variant=v1` our first reading) and `maugen` (any trained MAUGen pipeline folder, e.g. SD-1.5 sized,
given by `weights=`).

Each condition's prompt goes to the pipeline, with its DISFA12 intensities (a v1 checkpoint reads them; a
published one only has them recorded in the condition: its request is the prompt). The sample's labels are
the ones the pipeline itself predicts (DIG), so a SampleSet of MAUGen labels only DISFA12 and no expression.

Inpainting as the authors sample (a head mask onto a frame, the masked region filled black): `mask=FILE` (an
image, white = generate) with `frames=DIR` (images; condition seed s uses the (s mod count)-th file in name
order) or alone (an all-black frame). Neither: the published pipeline generates everything from a black frame.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from bench.core.errors import UsageError
from bench.data.aus import AU_INDEX, N_AUS
from bench.data.conditions import Condition
from bench.data.sampleset import Sample
from reference.common.parts import load_pipeline_folder
from reference.common.text import CHECKED, UNKNOWN_WORDS, refuse_unknown
from reference.maugen.pipeline_maugen import DISFA12, VARIANTS, MAUGenPipeline

_COLS = [AU_INDEX[a] for a in DISFA12]
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg")


def read_mask(file: str | Path, size: tuple[int, int]) -> torch.Tensor:
    """An inpainting mask image (white = generate) -> (1, H, W) float 0/1 at `size` (nearest)."""
    from PIL import Image, UnidentifiedImageError

    file = Path(file)
    if not file.is_file():
        raise UsageError(f"mask={file}: no such file (an image, white where the face is generated)")
    try:
        im = Image.open(file).convert("L").resize(size[::-1], Image.NEAREST)
    except UnidentifiedImageError:
        raise UsageError(f"mask={file}: not an image") from None
    m = torch.from_numpy((np.asarray(im) >= 128).astype(np.float32))[None]
    if not m.any():
        raise UsageError(f"mask={file}: no white pixel (nothing would be generated)")
    return m


def read_frames(folder: str | Path) -> list[Path]:
    """The frame files of `folder` in name order (checked readable at use), or a clear error."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"frames={folder}: no such folder (images to inpaint the head onto)")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in FRAME_SUFFIXES)
    if not files:
        raise UsageError(f"frames={folder}: no {'/'.join(FRAME_SUFFIXES)} images")
    return files


def load_frame(file: Path, size: tuple[int, int]) -> torch.Tensor:
    """(3, H, W) in [-1, 1], resized (bilinear) to `size`."""
    from PIL import Image, UnidentifiedImageError

    try:
        im = Image.open(file).convert("RGB").resize(size[::-1], Image.BILINEAR)
    except UnidentifiedImageError:
        raise UsageError(f"frames: {file} is not an image") from None
    return torch.from_numpy(np.asarray(im, dtype=np.float32) / 127.5 - 1.0).permute(2, 0, 1)


class MAUGenGenerator:
    """Generator protocol over a MAUGenPipeline (defaults: the authors' 30 steps, CFG 7.5)."""

    name = "maugen"
    version = "2"  # 2: authors' sampling defaults, published checkpoints, frames/mask
    labelled_aus = DISFA12
    expression_labelled = False
    needs = ("weights", "device")  # a local pipeline folder (--option weights=DIR); runs on --option device=cuda
    option_help = {"unknown_words": "a prompt word the tokenizer lacks: refuse (by name) or warn (drawn as <unk>; "
                                    "docs/captions.md)"}

    def __init__(self, weights: str | Path | None = None, steps: int = 30, guidance_scale: float = 7.5,
                 batch_size: int = 64, device: str = "cpu", dtype: str = "float32", negative_prompt: str | None = None,
                 frames: str | Path | None = None, mask: str | Path | None = None, pipe: MAUGenPipeline | None = None,
                 unknown_words: str = "refuse"):
        if pipe is None:
            pipe = load_pipeline_folder(MAUGenPipeline, weights, "maugen", dtype)
        self.pipe = pipe.to(device)
        self.steps, self.guidance_scale, self.batch_size, self.device = steps, guidance_scale, batch_size, device
        if unknown_words not in UNKNOWN_WORDS:
            raise UsageError(f"option unknown_words must be one of {', '.join(UNKNOWN_WORDS)}, not {unknown_words!r}")
        self.unknown_words = unknown_words  # words the tokenizer lacks: refused, or warned about (docs/captions.md)
        s = pipe.unet.config.sample_size * pipe.vae_scale_factor
        self.image_size = (s, s)
        if frames is not None and mask is None:
            raise UsageError("frames= needs mask= (the region to generate; without it nothing of a frame is kept)")
        self.mask = None if mask is None else read_mask(mask, self.image_size)  # (1, H, W)
        self.frames = None if frames is None else read_frames(frames)
        self.negative_prompt = pipe.default_negative_prompt() if negative_prompt is None else negative_prompt
        sched = pipe.scheduler.config
        self.config = {"weights": Path(weights).name if weights else "", "steps": steps,
                       "guidance_scale": guidance_scale, "scheduler": type(pipe.scheduler).__name__,
                       "scheduler_config": {k: sched[k] for k in ("clip_sample", "set_alpha_to_one", "steps_offset",
                                                                  "prediction_type") if k in sched},
                       "variant": pipe.variant,
                       "negative_prompt": self.negative_prompt, **self._inpaint_config(frames, mask)}
        if unknown_words != "refuse":
            self.config["unknown_words"] = unknown_words

    @staticmethod
    def _inpaint_config(frames, mask) -> dict:
        return {**({"frames": Path(frames).name} if frames else {}), **({"mask": Path(mask).name} if mask else {})}

    def _inpaint_inputs(self, conds: list[Condition]) -> dict:
        """image (B, 3, H, W) and mask_image (B, 1, H, W) for the pipeline, or nothing."""
        if self.mask is None:
            return {}
        if self.frames is None:
            image = -torch.ones(len(conds), 3, *self.image_size)
        else:
            image = torch.stack([load_frame(self.frames[int(c.seed) % len(self.frames)], self.image_size)
                                 for c in conds])
        return {"image": image, "mask_image": self.mask[None].expand(len(conds), -1, -1, -1)}

    def check_prompts(self, conditions: list[Condition], file: str | None = None) -> None:
        """Refuse conditions whose prompts hold words the model's tokenizer does not know (by name and condition
        index; with `file`, the conditions are its rows in order). `generate` checks all before drawing any."""
        name = self.config["weights"] or "maugen"
        refuse_unknown(self.pipe.tokenizer, [c.prompt for c in conditions], name, file,
                       rows=[c.index for c in conditions], mode=self.unknown_words)
        refuse_unknown(self.pipe.tokenizer, [self.negative_prompt], name, what="negative prompt",
                       mode=self.unknown_words)

    def generate(self, conditions: list[Condition]) -> Iterator[Sample]:
        self.check_prompts(conditions)
        for lo in range(0, len(conditions), self.batch_size):
            conds = conditions[lo:lo + self.batch_size]
            inten = np.stack([np.nan_to_num(c.aus[_COLS], nan=0.0) for c in conds]).clip(0, 5)
            gens = [torch.Generator(self.device).manual_seed(int(c.seed)) for c in conds]  # batch-independent
            out = self.pipe([c.prompt for c in conds], au_intensity=torch.from_numpy(inten).float(),
                            num_inference_steps=self.steps, guidance_scale=self.guidance_scale,
                            negative_prompt=self.negative_prompt, generator=gens, unknown_words=CHECKED,
                            **self._inpaint_inputs(conds))
            for j, c in enumerate(conds):
                claim = np.full(N_AUS, np.nan, dtype=np.float32)
                claim[_COLS] = out.au_intensity[j].numpy()
                yield Sample(image=out.images[j], intensity=claim, expression=-1, prompt=c.prompt, seed=c.seed)


class MAUGenTiny(MAUGenGenerator):
    """The tiny MAUGen trained on world train data (committed weights, else the user cache, else trained now
    with a progress bar; `train=False` refuses instead), in one of two variants (docs/fidelity-maugen.md):

    * `variant=published` (default): the authors' model (`MAUGenTinyConfig(variant="published")`), sampled with
      their 30 steps / CFG 7.5. The negative prompt is "" (the null it was trained with): the tiny's word-level
      vocabulary would read the authors' one as `<unk>`s.
    * `captions=mixed` (published only): the published tiny fine-tuned on world-grammar and authors'-style captions
      with the larger vocabulary (`TWO_STYLE` in reference/maugen/config.py; docs/captions.md). Default "world":
      the checkpoint the board filed.
    * `variant=v1`: our first reading, the checkpoint `maugen-tiny-229745619a`, with the 25 steps / CFG 3.0 and
      "" it was tuned and filed with (reports/maugen_tiny.md). Its recorded config and version are those of the
      filed `maugen-tiny-v1` entry, so its re-runs compare with it.

    `steps` / `guidance_scale` override the variant's sampling."""

    name = "maugen-tiny"
    version = "2"  # 2: the published variant by default (the v1 variant records version 1, as it was filed)
    needs = ("device",)  # committed weights
    option_help = {**MAUGenGenerator.option_help,
                   "captions": "world (the filed checkpoint) or mixed (fine-tuned on world and MAUGen authors' caption "
                               "styles; docs/captions.md)"}
    SAMPLING = {"published": (30, 7.5), "v1": (25, 3.0)}  # variant -> (steps, CFG) it samples with by default

    def __init__(self, variant: str = "published", steps: int | None = None, guidance_scale: float | None = None,
                 batch_size: int = 64, train: bool = True, frames: str | Path | None = None,
                 mask: str | Path | None = None, device: str = "cpu", negative_prompt: str = "",
                 captions: str = "world", unknown_words: str = "refuse"):
        from reference.maugen.config import TWO_STYLE, MAUGenTinyConfig
        from reference.maugen.train import load_tiny_maugen

        if variant not in VARIANTS:
            raise UsageError(f"maugen-tiny option variant must be one of {', '.join(VARIANTS)}, not {variant!r}")
        if captions not in ("world", "mixed"):
            raise UsageError(f"maugen-tiny option captions must be world or mixed, not {captions!r}")
        if captions == "mixed" and variant != "published":
            raise UsageError("maugen-tiny option captions=mixed is a published-variant checkpoint (drop variant=v1)")
        cfg = MAUGenTinyConfig(**TWO_STYLE) if captions == "mixed" else MAUGenTinyConfig(variant=variant)
        d_steps, d_cfg = self.SAMPLING[variant]
        steps = d_steps if steps is None else steps
        guidance_scale = d_cfg if guidance_scale is None else guidance_scale
        super().__init__(steps=steps, guidance_scale=guidance_scale, batch_size=batch_size, device=device,
                         negative_prompt=negative_prompt, frames=frames, mask=mask, unknown_words=unknown_words,
                         pipe=load_tiny_maugen(cfg, train_if_missing=train))  # the committed weights, float32
        self.config = {"weights": cfg.key, "steps": steps, "guidance_scale": guidance_scale,
                       "scheduler": type(self.pipe.scheduler).__name__, **self._inpaint_config(frames, mask)}
        if negative_prompt:  # recorded only when set, so the default's config (and its filed results) stay as they were
            self.config["negative_prompt"] = negative_prompt
        if variant == "v1":
            self.version = "1"  # the filed entry's record
        else:
            self.config["variant"] = variant
        if captions != "world":  # recorded only when set, as negative_prompt
            self.config["captions"] = captions
        if unknown_words != "refuse":
            self.config["unknown_words"] = unknown_words
        self.real_data = cfg.real_data()
