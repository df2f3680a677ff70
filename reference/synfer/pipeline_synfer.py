"""SynFERPipeline: expression text + AU vector -> face image, steered by semantic guidance, with a
pseudo-label that external FER models can overrule.

Components (diffusers `save_pretrained` / `from_pretrained`): `vae`, `text_encoder` + `tokenizer`, `unet`
(fine-tuned on expression text), `scheduler`; optional `au_adapter` (AUAdapter: decoupled cross-attention
for AU tokens), `fer_classifier` (FERClassifier used by semantic guidance), `pseudo_labeller`
(PseudoLabeller, FERAnno) and `fer_ensemble` (FEREnsemble, the external models).
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

from reference.synfer.modules import AUAdapter, FERClassifier, FEREnsemble, PseudoLabeller

LABEL_PROMPT = "a photo of a face"  # what the pseudo-labeller's UNet pass is conditioned on (no label in it)


@dataclass
class SynFERPipelineOutput(BaseOutput):
    images: np.ndarray | torch.Tensor | list  # (B, H, W, 3) uint8 ("np") or (B, 3, H, W) in [-1, 1] ("pt")
    expression: torch.Tensor  # (B,) long final labels (-1 where nothing labels the image)
    expression_pseudo: torch.Tensor  # (B,) long pseudo-labeller's labels (-1 without one)
    expression_ensemble: torch.Tensor  # (B,) long external ensemble's labels (-1 without one)
    relabelled: torch.Tensor  # (B,) bool: the ensemble overruled the pseudo-labeller


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
                      step_size: float, au_scale: float) -> torch.Tensor:
        """Semantic guidance: move the text embedding along the normalised gradient of the FER classifier's
        cross-entropy (toward `target`) at the predicted x0. Returns the updated embedding (B, L, D)."""
        with torch.enable_grad():
            e = emb.detach().requires_grad_(True)
            eps = self.predict_noise(latents, t, e, au, au_scale)
            img = self.decode(self.x0_from_eps(latents, eps, t)).clamp(-1, 1)
            loss = F.cross_entropy(self.fer_classifier(img.to(self.fer_classifier.dtype)), target, reduction="sum")
            (g,) = torch.autograd.grad(loss, e)
        norm = g.flatten(1).norm(dim=1).clamp_min(1e-12)[:, None, None]
        return (e - step_size * g / norm).detach()

    @torch.no_grad()
    def ddim_invert(self, image: torch.Tensor, emb: torch.Tensor, au: torch.Tensor | None, au_scale: float
                    ) -> torch.Tensor:
        """Layout initialisation: encode `image` (B, 3, H, W) in [-1, 1] and run DDIM backwards to the first
        sampling timestep; returns the initial latents."""
        z = self.vae.encode(image.to(self.vae.dtype)).latent_dist.mode() * self.vae.config.scaling_factor
        ac = self.scheduler.alphas_cumprod.to(z.device)
        ts = list(self.scheduler.timesteps.flip(0))
        prev = torch.as_tensor(getattr(self.scheduler, "final_alpha_cumprod", 1.0), dtype=ac.dtype, device=ac.device)
        for t in ts:
            eps = self.predict_noise(z, t, emb, au, au_scale)
            a = ac[int(t)]
            x0 = (z - (1 - prev).sqrt() * eps) / prev.sqrt()
            z = a.sqrt() * x0 + (1 - a).sqrt() * eps
            prev = a
        return z

    @torch.no_grad()
    def pseudo_label(self, latents: torch.Tensor, emb: torch.Tensor, au: torch.Tensor | None, t_small: int,
                     generator=None) -> torch.Tensor:
        """FERAnno: re-noise clean latents to a small t, read the UNet's features and cross-attention maps,
        classify. Returns (B, num_classes) logits."""
        noise = randn_tensor(latents.shape, generator=generator, device=latents.device, dtype=latents.dtype)
        t = torch.full((len(latents),), t_small, device=latents.device, dtype=torch.long)
        x = self.scheduler.add_noise(latents, noise, t)
        with FeatureTap(self.unet) as tap:
            if self.au_adapter is not None:
                tokens = None if au is None else self.au_adapter.au_tokens(au.to(x.device))
                with self.au_adapter.conditioned(tokens, 1.0, record_maps=True) as ad:
                    self.unet(x, t, encoder_hidden_states=emb)
                maps = ad.maps
            else:
                raise ValueError("the pseudo-labeller reads cross-attention maps through the AU adapter's "
                                 "processors; this pipeline has no au_adapter")
        pl = self.pseudo_labeller
        m = maps[-1]  # (B, Q, L): the last (highest-resolution up-block) cross-attention layer
        return pl([f.to(pl.dtype) for f in tap.features], m.to(pl.dtype))

    @torch.no_grad()
    def label_images(self, images: torch.Tensor, t_small: int = 50, generator=None) -> tuple[torch.Tensor, ...]:
        """Label any images (B, 3, H, W) in [-1, 1], generated or real: the pseudo-labeller reads the UNet at a
        small t on their VAE latents; where the external FER ensemble disagrees, its label wins.

        The labeller sees the image only: the generic LABEL_PROMPT and the null (zero) AU vector, in training
        as here, so the requested expression cannot leak into the label through the prompt or the AUs.
        Returns (final, pseudo, ensemble, relabelled), each (B,) on CPU; -1 where a model is absent."""
        n, dev = len(images), self._execution_device
        none = torch.full((n,), -1, dtype=torch.long)
        pseudo, ens = none.clone(), none.clone()
        x = images.to(dev)
        if self.pseudo_labeller is not None:
            z = self.vae.encode(x.to(self.vae.dtype)).latent_dist.mode() * self.vae.config.scaling_factor
            au0 = torch.zeros(n, self.au_adapter.config.num_aus, device=dev) if self.au_adapter is not None else None
            pseudo = self.pseudo_label(z, self.encode_text([LABEL_PROMPT] * n), au0, t_small, generator
                                       ).argmax(-1).cpu()
        if self.fer_ensemble is not None:
            ens = self.fer_ensemble(x.to(self.fer_ensemble.dtype)).argmax(-1).cpu()
        relabelled = (pseudo >= 0) & (ens >= 0) & (pseudo != ens)
        return torch.where(relabelled | (pseudo < 0), ens, pseudo), pseudo, ens, relabelled

    # -- sampling --------------------------------------------------------------------------------------------

    def check_inputs(self, prompts, au_intensity, expression, semantic_guidance_scale, layout_image, height, width):
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
        if semantic_guidance_scale > 0:
            if self.fer_classifier is None:
                raise ValueError("semantic guidance needs a fer_classifier")
            if expression is None:
                raise ValueError("semantic guidance needs target expressions")
        if expression is not None:
            e = torch.as_tensor(expression)
            if e.shape != (n,) or (e < 0).any() or (e > 7).any():
                raise ValueError(f"expression must be ({n},) codes 0-7")
        if layout_image is not None and (layout_image.ndim != 4 or len(layout_image) != n):
            raise ValueError(f"layout_image must be a (B={n}, 3, H, W) tensor")
        f = self.vae_scale_factor * 2 ** (len(self.unet.config.block_out_channels) - 1)
        if height % f or width % f:
            raise ValueError(f"height and width must be multiples of {f}")

    @torch.no_grad()
    def __call__(self, prompt: str | list[str], au_intensity: torch.Tensor | np.ndarray | None = None,
                 expression: torch.Tensor | list[int] | None = None, num_inference_steps: int = 50,
                 guidance_scale: float = 7.5, au_scale: float = 1.0, semantic_guidance_scale: float = 0.0,
                 guidance_start: int = 15, layout_image: torch.Tensor | None = None, pseudo_label: bool = True,
                 pseudo_label_t: int = 50, negative_prompt: str = "", height: int | None = None,
                 width: int | None = None, generator: torch.Generator | list[torch.Generator] | None = None,
                 latents: torch.Tensor | None = None, output_type: str = "np", return_dict: bool = True):
        """Generate faces for prompts (+ AU vectors); steer them toward `expression` with semantic guidance
        (`semantic_guidance_scale` = lambda_g, from step index `guidance_start`); label them.

        au_intensity (B, num_aus) 0-5 (the CFG null is the zero vector); expression (B,) AffectNet codes;
        layout_image (B, 3, H, W) in [-1, 1]: start from its DDIM inversion instead of noise.
        """
        # 1. check inputs
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        height = height or self.unet.config.sample_size * self.vae_scale_factor
        width = width or self.unet.config.sample_size * self.vae_scale_factor
        self.check_inputs(prompts, au_intensity, expression, semantic_guidance_scale, layout_image, height, width)
        n, dev = len(prompts), self._execution_device
        au = None if au_intensity is None else torch.as_tensor(au_intensity).float().to(dev)
        target = None if expression is None else torch.as_tensor(expression).long().to(dev)
        do_cfg = guidance_scale > 1.0

        # 2. text embeddings (the conditional one may be moved by semantic guidance); null = "" and zero AUs
        emb = self.encode_text(prompts)
        uemb = self.encode_text([negative_prompt] * n)
        au0 = None if au is None else torch.zeros_like(au)

        # 3. timesteps and initial latents (noise, or the DDIM inversion of a layout image)
        self.scheduler.set_timesteps(num_inference_steps, device=dev)
        c, h, w = self.vae.config.latent_channels, height // self.vae_scale_factor, width // self.vae_scale_factor
        if layout_image is not None:
            latents = self.ddim_invert(layout_image.to(dev), emb, au, au_scale)
        elif latents is None:
            latents = randn_tensor((n, c, h, w), generator=generator, device=dev, dtype=self.unet.dtype)
            latents = latents * self.scheduler.init_noise_sigma

        # 4. denoising loop with classifier-free guidance and, in late steps, semantic guidance
        for i, t in enumerate(self.progress_bar(self.scheduler.timesteps)):
            if semantic_guidance_scale > 0 and i >= guidance_start:
                emb = self.guidance_step(latents, t, emb, au, target, semantic_guidance_scale, au_scale)
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

        # 6. labels: pseudo-labeller, overruled by the external ensemble where they disagree
        if pseudo_label:
            final, pseudo, ens, relabelled = self.label_images(x0, pseudo_label_t, generator)
        else:
            final = pseudo = ens = torch.full((n,), -1, dtype=torch.long)
            relabelled = torch.zeros(n, dtype=torch.bool)

        if output_type == "pt":
            images = x0
        else:
            images = ((x0 + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        self.maybe_free_model_hooks()
        out = SynFERPipelineOutput(images=images, expression=final, expression_pseudo=pseudo,
                                   expression_ensemble=ens, relabelled=relabelled)
        return out if return_dict else tuple(out.values())
