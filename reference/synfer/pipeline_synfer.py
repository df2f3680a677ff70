"""SynFERPipeline: expression text + AU vector -> face image, steered by semantic guidance, with a
pseudo-label that external FER models can overrule.

Components (diffusers `save_pretrained` / `from_pretrained`): `vae`, `text_encoder` + `tokenizer`, `unet`
(fine-tuned on expression text), `scheduler`; optional `au_adapter` (AUAdapter: decoupled cross-attention
for AU tokens), `fer_classifier` (FERClassifier used by semantic guidance), `pseudo_labeller`
(PseudoLabeller, FERAnno) and `fer_ensemble` (FEREnsemble, the external models).

Defaults follow the method as published (docs/fidelity-synfer.md): the reproduction's sampling (50 DDIM steps,
CFG 7.5, its negative prompt), per-token semantic guidance over the last 40% of the schedule, layout inversion of
70% of the schedule under a neutral prompt, FERAnno on a DDIM inversion to t_small and the paper's soft ensemble
rule. Our earlier variants are argument values (`guidance_norm="global"`, `inversion="target"` with
`inversion_strength=1.0`, `feranno="renoise"`, `rectify="hard"`); the tiny generator selects them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL, DiffusionPipeline, UNet2DConditionModel
from diffusers.schedulers import KarrasDiffusionSchedulers
from diffusers.utils import BaseOutput
from diffusers.utils.torch_utils import randn_tensor
from transformers import CLIPTextModel, PreTrainedTokenizerBase

from reference.common.text import model_name, refuse_unknown
from reference.synfer.guidance import (
    GUIDANCE_NORMS,
    PUBLISHED_GUIDANCE_START,
    check_guidance_start,
    embedding_step,
    first_guided_step,
)
from reference.synfer.inversion import (
    INVERSION_SOURCES,
    PUBLISHED_INVERSION_STRENGTH,
    ddim_invert_latents,
    feranno_timesteps,
    inverted_steps,
)
from reference.synfer.labels import FERANNO_MODES, RECTIFY_RULES, Labels, check_choice, image_generators, quantise
from reference.synfer.labels import rectify as rectify_labels
from reference.synfer.modules import AUAdapter, FERClassifier, FEREnsemble, PseudoLabeller

LABEL_PROMPT = "a photo of a face"  # the pseudo-labeller's and the layout inversion's prompt (no label in it)
NEGATIVE_PROMPT = "low quality, distortion, blur"  # the reproduction's CFG negative prompt (evaluate_synfer.py:438)
PUBLISHED_SG_SCALE = 0.1  # the reproduction's lambda_g (evaluate_synfer.py:127), a per-token step length


@dataclass
class SynFERPipelineOutput(BaseOutput):
    images: np.ndarray | torch.Tensor | list  # (B, H, W, 3) uint8 ("np") or (B, 3, H, W) in [-1, 1] ("pt")
    expression: torch.Tensor  # (B,) long final labels (-1 where nothing labels the image)
    expression_pseudo: torch.Tensor  # (B,) long pseudo-labeller's labels (-1 without one)
    expression_ensemble: torch.Tensor  # (B,) long external ensemble's labels (-1 without one)
    relabelled: torch.Tensor  # (B,) bool: the ensemble overruled the pseudo-labeller
    expression_prob: torch.Tensor | None = None  # (B, 8) claimed label distribution (soft rule; NaN rows: none)


class FeatureTap:
    """Collects the outputs of the UNet's up-blocks (multi-scale features) during one forward."""

    def __init__(self, unet: UNet2DConditionModel):
        self.unet, self.features, self._hooks = unet, [], []

    def __enter__(self):
        self._hooks = [b.register_forward_hook(lambda m, i, o: self.features.append(o)) for b in self.unet.up_blocks]
        return self

    def __exit__(self, *exc):
        for h in self._hooks:
            h.remove()
        return False


class SynFERPipeline(DiffusionPipeline):
    """Text (+ AU vector, + target expression for guidance, + optional layout image) -> faces + labels."""

    model_cpu_offload_seq = "text_encoder->unet->vae"
    _optional_components = ["au_adapter", "fer_classifier", "pseudo_labeller", "fer_ensemble"]

    def __init__(self, vae: AutoencoderKL, text_encoder: CLIPTextModel, tokenizer: PreTrainedTokenizerBase,
                 unet: UNet2DConditionModel, scheduler: KarrasDiffusionSchedulers, au_adapter: AUAdapter | None = None,
                 fer_classifier: FERClassifier | None = None, pseudo_labeller: PseudoLabeller | None = None,
                 fer_ensemble: FEREnsemble | None = None):
        super().__init__()
        self.register_modules(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
                              au_adapter=au_adapter, fer_classifier=fer_classifier, pseudo_labeller=pseudo_labeller,
                              fer_ensemble=fer_ensemble)
        self.vae_scale_factor = 2 ** (len(vae.config.block_out_channels) - 1)
        if au_adapter is not None:
            au_adapter.install(unet)

    # -- pieces shared with training -------------------------------------------------------------------------

    def encode_text(self, prompts: list[str]) -> torch.Tensor:
        """Prompts -> (B, L, D) text embeddings."""
        ids = self.tokenizer(prompts, padding="max_length", max_length=self.tokenizer.model_max_length,
                             truncation=True, return_tensors="pt").input_ids.to(self.text_encoder.device)
        return self.text_encoder(ids).last_hidden_state

    def predict_noise(self, x: torch.Tensor, t, emb: torch.Tensor, au: torch.Tensor | None, au_scale: float = 1.0,
                      record_maps: bool = False) -> torch.Tensor:
        """UNet noise prediction with AU tokens from `au` (B, num_aus) when an adapter is installed."""
        if self.au_adapter is None or au is None:
            return self.unet(x, t, encoder_hidden_states=emb).sample
        tokens = self.au_adapter.au_tokens(au.to(x.device))
        with self.au_adapter.conditioned(tokens, au_scale, record_maps):
            return self.unet(x, t, encoder_hidden_states=emb).sample

    def x0_from_eps(self, x: torch.Tensor, eps: torch.Tensor, t) -> torch.Tensor:
        a = self.scheduler.alphas_cumprod.to(x.device)[int(t)]
        return (x - (1 - a).sqrt() * eps) / a.sqrt()

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        return self.vae.decode(latents / self.vae.config.scaling_factor).sample

    def guidance_step(self, latents: torch.Tensor, t, emb: torch.Tensor, au: torch.Tensor | None, target: torch.Tensor,
                      step_size: float, au_scale: float, norm: str = "token") -> torch.Tensor:
        """Semantic guidance: move the text embedding against the normalised gradient of the FER classifier's
        cross-entropy toward `target` (B,) at the predicted x0; rows with target -1 are not moved. `norm`:
        "token" (each token's step has length `step_size`) or "global" (the whole (L, D) step has).
        Returns the updated embedding (B, L, D)."""
        with torch.enable_grad():
            e = emb.detach().requires_grad_(True)
            eps = self.predict_noise(latents, t, e, au, au_scale)
            img = self.decode(self.x0_from_eps(latents, eps, t)).clamp(-1, 1)
            logits = self.fer_classifier(img.to(self.fer_classifier.dtype))
            loss = F.cross_entropy(logits, target, reduction="sum", ignore_index=-1)
            (g,) = torch.autograd.grad(loss, e)
        return (e - embedding_step(g, step_size, norm)).detach()

    @torch.no_grad()
    def ddim_invert(self, image: torch.Tensor, emb: torch.Tensor, au: torch.Tensor | None, au_scale: float,
                    steps: int | None = None) -> torch.Tensor:
        """Layout initialisation: encode `image` (B, 3, H, W) in [-1, 1] and run DDIM backwards over the first
        `steps` (all if None) of the current schedule under `emb` / `au`; returns latents at
        timesteps[N - steps] (B, C, h, w)."""
        z = self.vae.encode(image.to(self.vae.dtype)).latent_dist.mode() * self.vae.config.scaling_factor
        ts = self.scheduler.timesteps.flip(0)
        return ddim_invert_latents(self, z, ts if steps is None else ts[:steps], emb, au, au_scale)

    def feranno_inputs(self, latents: torch.Tensor, emb: torch.Tensor, au: torch.Tensor | None, t_small: int,
                       generator=None, feranno: str = "invert") -> tuple[list[torch.Tensor], torch.Tensor]:
        """What FERAnno reads (in training as in labelling): bring clean latents (B, C, h, w) to t_small (DDIM
        inversion, or re-noising with `generator`) and run the UNet once there under `emb` (B, L, D) and `au`.
        Returns the up-block features [(B, C_i, H_i, W_i)] and the last cross-attention map (B, Q, L)."""
        check_choice("feranno", feranno, FERANNO_MODES)
        if self.au_adapter is None:
            raise ValueError("the pseudo-labeller reads cross-attention maps through the AU adapter's processors; "
                             "this pipeline has no au_adapter")
        t = torch.full((len(latents),), t_small, device=latents.device, dtype=torch.long)
        if feranno == "invert":
            x = ddim_invert_latents(self, latents, feranno_timesteps(t_small).to(latents.device), emb, au)
        else:
            noise = randn_tensor(latents.shape, generator=generator, device=latents.device, dtype=latents.dtype)
            x = self.scheduler.add_noise(latents, noise, t)
        with FeatureTap(self.unet) as tap:
            tokens = None if au is None else self.au_adapter.au_tokens(au.to(x.device))
            with self.au_adapter.conditioned(tokens, 1.0, record_maps=True) as ad:
                self.unet(x, t, encoder_hidden_states=emb)
        return tap.features, ad.maps[-1]  # maps[-1]: the last (highest-resolution up-block) cross-attention layer

    @torch.no_grad()
    def pseudo_label(self, latents: torch.Tensor, emb: torch.Tensor, au: torch.Tensor | None, t_small: int,
                     generator=None, feranno: str = "invert") -> torch.Tensor:
        """FERAnno on clean latents (B, C, h, w): features and maps at t_small (`feranno_inputs`) -> (B, K) logits."""
        features, maps = self.feranno_inputs(latents, emb, au, t_small, generator, feranno)
        pl = self.pseudo_labeller
        return pl([f.to(pl.dtype) for f in features], maps.to(pl.dtype))

    @torch.no_grad()
    def label_images(self, images: torch.Tensor, t_small: int | None = None, generator=None, feranno: str = "invert",
                     rectify: str = "soft") -> Labels:
        """Label any images (B, 3, H, W) in [-1, 1], generated or real: FERAnno reads the UNet at t_small (None:
        the pseudo-labeller's own) on their VAE latents; where the external FER ensemble disagrees, `rectify`
        decides ("soft": the average of every model's probabilities; "hard": the ensemble's argmax).

        The labeller sees the image only: the generic LABEL_PROMPT and the null (zero) AU vector, in training
        as here, so the requested expression cannot leak into the label through the prompt or the AUs. With
        `feranno` "invert" or "renoise-image" the images are first put on the uint8 grid, so a label depends only
        on the saved image (the same inside the pipeline and when relabelling); `generator` is used by "renoise"
        only. Returns Labels (final, pseudo, ensemble, relabelled, prob) on CPU; -1 where no model labels."""
        check_choice("feranno", feranno, FERANNO_MODES)
        check_choice("rectify", rectify, RECTIFY_RULES)
        n, dev = len(images), self._execution_device
        x = images.to(dev) if feranno == "renoise" else quantise(images).to(dev)
        logits = probs = None
        if self.pseudo_labeller is not None:
            t_small = self.pseudo_labeller.config.get("t_small", 50) if t_small is None else t_small
            gen = image_generators(x) if feranno == "renoise-image" else generator
            z = self.vae.encode(x.to(self.vae.dtype)).latent_dist.mode() * self.vae.config.scaling_factor
            au0 = torch.zeros(n, self.au_adapter.config.num_aus, device=dev) if self.au_adapter is not None else None
            logits = self.pseudo_label(z, self.encode_text([LABEL_PROMPT] * n), au0, t_small, gen, feranno)
        if self.fer_ensemble is not None:
            probs = self.fer_ensemble.member_probs(x.to(self.fer_ensemble.dtype))  # (M, B, K)
        return rectify_labels(logits, probs, rectify, n)

    # -- sampling --------------------------------------------------------------------------------------------

    def check_inputs(self, prompts, au_intensity, expression, semantic_guidance_scale, layout_image, height, width,
                     guidance_start=PUBLISHED_GUIDANCE_START, guidance_norm="token", inversion="neutral",
                     inversion_strength=PUBLISHED_INVERSION_STRENGTH, feranno="invert", rectify="soft"):
        n = len(prompts)
        if au_intensity is not None:
            if self.au_adapter is None:
                raise ValueError("au_intensity given but this pipeline has no au_adapter")
            a = torch.as_tensor(au_intensity)
            k = self.au_adapter.config.num_aus
            if a.shape != (n, k):
                raise ValueError(f"au_intensity must be ({n}, {k}), got {tuple(a.shape)}")
            if torch.isnan(a.float()).any() or (a < 0).any() or (a > 5).any():
                raise ValueError("au_intensity must be in [0, 5] with no NaN")
        if semantic_guidance_scale < 0:
            raise ValueError(f"semantic_guidance_scale must be >= 0, got {semantic_guidance_scale}")
        if semantic_guidance_scale > 0:
            if self.fer_classifier is None:
                raise ValueError("semantic guidance needs a fer_classifier")
            if expression is None:
                raise ValueError("semantic guidance needs target expressions")
        if expression is not None:
            e = torch.as_tensor(expression)
            if e.shape != (n,) or (e < -1).any() or (e > 7).any():
                raise ValueError(f"expression must be ({n},) codes 0-7 (-1: no target, not guided)")
        if layout_image is not None and (layout_image.ndim != 4 or len(layout_image) != n):
            raise ValueError(f"layout_image must be a (B={n}, 3, H, W) tensor")
        f = self.vae_scale_factor * 2 ** (len(self.unet.config.block_out_channels) - 1)
        if height % f or width % f:
            raise ValueError(f"height and width must be multiples of {f}")
        check_guidance_start(guidance_start)
        check_choice("guidance_norm", guidance_norm, GUIDANCE_NORMS)
        check_choice("inversion", inversion, INVERSION_SOURCES)
        inverted_steps(inversion_strength, 1)
        check_choice("feranno", feranno, FERANNO_MODES)
        check_choice("rectify", rectify, RECTIFY_RULES)

    @torch.no_grad()
    def __call__(self, prompt: str | list[str], au_intensity: torch.Tensor | np.ndarray | None = None,
                 expression: torch.Tensor | list[int] | None = None, num_inference_steps: int = 50,
                 guidance_scale: float = 7.5, au_scale: float = 1.0, semantic_guidance_scale: float | None = None,
                 guidance_start: int | float = PUBLISHED_GUIDANCE_START, guidance_norm: str = "token",
                 layout_image: torch.Tensor | None = None, inversion: str = "neutral",
                 inversion_strength: float = PUBLISHED_INVERSION_STRENGTH, pseudo_label: bool = True,
                 pseudo_label_t: int | None = None, feranno: str = "invert", rectify: str = "soft",
                 negative_prompt: str = NEGATIVE_PROMPT, height: int | None = None, width: int | None = None,
                 generator: torch.Generator | list[torch.Generator] | None = None,
                 latents: torch.Tensor | None = None, output_type: str = "np", return_dict: bool = True):
        """Generate faces for prompts (+ AU vectors); steer them toward `expression` with semantic guidance; label
        them.

        au_intensity (B, num_aus) 0-5 (the CFG null is the zero vector); expression (B,) AffectNet codes, -1 = no
        target (that row is not guided). semantic_guidance_scale = lambda_g (None: 0.1 when `expression` is given
        and there is a fer_classifier, else off); guidance_start: first guided step, an int step index or a
        fraction of the schedule (0.6: the last 40%); guidance_norm "token" | "global".
        layout_image (B, 3, H, W) in [-1, 1]: DDIM-invert it over `inversion_strength` of the schedule under the
        "neutral" prompt and zero AUs (or the "target" prompt and AUs), then denoise the rest.
        pseudo_label: label with FERAnno at pseudo_label_t (None: the labeller's t_small) reached by `feranno`
        ("invert" | "renoise-image" | "renoise"), rectified by the ensemble with `rectify` ("soft" | "hard").
        """
        # 1. check inputs
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        height = height or self.unet.config.sample_size * self.vae_scale_factor
        width = width or self.unet.config.sample_size * self.vae_scale_factor
        if semantic_guidance_scale is None:
            on = expression is not None and self.fer_classifier is not None
            semantic_guidance_scale = PUBLISHED_SG_SCALE if on else 0.0
        self.check_inputs(prompts, au_intensity, expression, semantic_guidance_scale, layout_image, height, width,
                          guidance_start, guidance_norm, inversion, inversion_strength, feranno, rectify)
        refuse_unknown(self.tokenizer, prompts, model_name(self), what="prompt")  # word-level: no silent <unk>
        # the default negative is the reproduction's SD-size text, which a tiny word-level tokenizer reads as <unk>s
        # (as every call of a tiny pipeline without negative_prompt="" always did): warned by name, not refused
        refuse_unknown(self.tokenizer, [negative_prompt], model_name(self), what="negative prompt", mode="warn")
        n, dev = len(prompts), self._execution_device
        au = None if au_intensity is None else torch.as_tensor(au_intensity).float().to(dev)
        target = None if expression is None else torch.as_tensor(expression).long().to(dev)
        guide = semantic_guidance_scale > 0 and bool((target >= 0).any())
        do_cfg = guidance_scale > 1.0

        # 2. text embeddings (the conditional one may be moved by semantic guidance); null = negative prompt and
        #    zero AUs
        emb = self.encode_text(prompts)
        uemb = self.encode_text([negative_prompt] * n)
        au0 = None if au is None else torch.zeros_like(au)

        # 3. timesteps and initial latents (noise, or a layout image inverted part of the way)
        self.scheduler.set_timesteps(num_inference_steps, device=dev)
        c, h, w = self.vae.config.latent_channels, height // self.vae_scale_factor, width // self.vae_scale_factor
        start = 0  # index of the first denoised step
        if layout_image is not None:
            k = inverted_steps(inversion_strength, num_inference_steps)
            start = num_inference_steps - k
            if inversion == "neutral":
                src = self.encode_text([LABEL_PROMPT] * n)
                src_au = None if self.au_adapter is None else torch.zeros(n, self.au_adapter.config.num_aus,
                                                                           device=dev)
            else:
                src, src_au = emb, au
            latents = self.ddim_invert(layout_image.to(dev), src, src_au, au_scale, k)
        elif latents is None:
            latents = randn_tensor((n, c, h, w), generator=generator, device=dev, dtype=self.unet.dtype)
            latents = latents * self.scheduler.init_noise_sigma
        first_guided = first_guided_step(guidance_start, num_inference_steps)

        # 4. denoising loop with classifier-free guidance and, in late steps, semantic guidance
        for i, t in enumerate(self.progress_bar(self.scheduler.timesteps[start:]), start):
            if guide and i >= first_guided:
                emb = self.guidance_step(latents, t, emb, au, target, semantic_guidance_scale, au_scale,
                                         guidance_norm)
            x = self.scheduler.scale_model_input(latents, t)
            if do_cfg:
                eps = self.predict_noise(torch.cat([x, x]), t, torch.cat([uemb, emb]),
                                         None if au is None else torch.cat([au0, au]), au_scale)
                eu, ec = eps.chunk(2)
                eps = eu + guidance_scale * (ec - eu)
            else:
                eps = self.predict_noise(x, t, emb, au, au_scale)
            latents = self.scheduler.step(eps, t, latents).prev_sample

        # 5. decode
        x0 = self.decode(latents).float().clamp(-1, 1)

        # 6. labels: pseudo-labeller, rectified by the external ensemble where they disagree
        if pseudo_label:
            labels = self.label_images(x0, pseudo_label_t, generator, feranno, rectify)
        else:
            none = torch.full((n,), -1, dtype=torch.long)
            labels = Labels(none, none, none, torch.zeros(n, dtype=torch.bool), torch.full((n, 8), float("nan")))

        if output_type == "pt":
            images = x0
        else:
            images = ((x0 + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        self.maybe_free_model_hooks()
        out = SynFERPipelineOutput(images=images, expression=labels.final, expression_pseudo=labels.pseudo,
                                   expression_ensemble=labels.ensemble, relabelled=labels.relabelled,
                                   expression_prob=labels.prob)
        return out if return_dict else tuple(out.values())
