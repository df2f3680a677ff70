"""MAUGen as a benchmark generator: `maugen-tiny` (the committed/cached tiny checkpoint) and `maugen` (any
trained MAUGen pipeline folder, e.g. SD-1.5 sized, given by `weights=`).

Each condition's prompt and DISFA12 intensities go to the pipeline; the sample's labels are the ones the
pipeline itself predicts (DIG), so a SampleSet of MAUGen labels only DISFA12 and no expression.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from bench.data.aus import AU_INDEX, N_AUS
from bench.data.conditions import Condition
from bench.data.sampleset import Sample
from reference.common.parts import load_pipeline_folder
from reference.maugen.pipeline_maugen import DISFA12, MAUGenPipeline

_COLS = [AU_INDEX[a] for a in DISFA12]


class MAUGenGenerator:
    """Generator protocol over a MAUGenPipeline."""

    name = "maugen"
    version = "1"
    labelled_aus = DISFA12
    expression_labelled = False
    needs = ("weights", "device")  # a local pipeline folder (--option weights=DIR); runs on --option device=cuda

    def __init__(self, weights: str | Path | None = None, steps: int = 25, guidance_scale: float = 3.0,
                 batch_size: int = 64, device: str = "cpu", dtype: str = "float32", pipe: MAUGenPipeline | None = None):
        if pipe is None:
            pipe = load_pipeline_folder(MAUGenPipeline, weights, "maugen", dtype)
        self.pipe = pipe.to(device)
        self.steps, self.guidance_scale, self.batch_size, self.device = steps, guidance_scale, batch_size, device
        s = pipe.unet.config.sample_size * pipe.vae_scale_factor
        self.image_size = (s, s)
        self.config = {"weights": Path(weights).name if weights else "", "steps": steps,
                       "guidance_scale": guidance_scale, "scheduler": type(pipe.scheduler).__name__}

    def generate(self, conditions: list[Condition]) -> Iterator[Sample]:
        for lo in range(0, len(conditions), self.batch_size):
            conds = conditions[lo:lo + self.batch_size]
            inten = np.stack([np.nan_to_num(c.aus[_COLS], nan=0.0) for c in conds]).clip(0, 5)
            gens = [torch.Generator(self.device).manual_seed(int(c.seed)) for c in conds]  # batch-independent
            out = self.pipe([c.prompt for c in conds], au_intensity=torch.from_numpy(inten).float(),
                            num_inference_steps=self.steps, guidance_scale=self.guidance_scale, generator=gens)
            for j, c in enumerate(conds):
                claim = np.full(N_AUS, np.nan, dtype=np.float32)
                claim[_COLS] = out.au_intensity[j].numpy()
                yield Sample(image=out.images[j], intensity=claim, expression=-1, prompt=c.prompt, seed=c.seed)


class MAUGenTiny(MAUGenGenerator):
    """The tiny MAUGen trained on world-v1 train data (committed weights, else the user cache, else trained
    now with a progress bar; `train=False` refuses instead)."""

    name = "maugen-tiny"
    needs = ("device",)  # committed weights

    def __init__(self, steps: int = 25, guidance_scale: float = 3.0, batch_size: int = 64, train: bool = True,
                 **kw):
        from reference.maugen.config import MAUGenTinyConfig
        from reference.maugen.train import load_tiny_maugen

        cfg = MAUGenTinyConfig()
        super().__init__(steps=steps, guidance_scale=guidance_scale, batch_size=batch_size,
                         pipe=load_tiny_maugen(cfg, train_if_missing=train), **kw)
        self.config = {**self.config, "weights": cfg.key}
        self.real_data = cfg.real_data()
