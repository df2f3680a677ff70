"""MAUGenPipeline: one denoising loop that produces face images and their AU labels together.

Components (saved/loaded by diffusers' `save_pretrained` / `from_pretrained`):
- `vae` AutoencoderKL, `unet` UNet2DConditionModel with the inpainting input (noisy latent C + mask 1 +
  masked-image latent C: 9 channels for SD's 4-channel latents, 17 for the tiny 8-channel ones),
  `text_encoder` CLIPTextModel + `tokenizer`, `scheduler`;
- `mrl` MultimodalRepresentation: AU cue tokens (one per DISFA12 AU, carrying its level) appended to the text
  tokens as cross-attention context, identity pseudo-words written into the `<ID>` `<ID2>` prompt slots;
- `label_head` DIGLabelHead: reads the cross-attention up-blocks at every step; the steps' predictions are
  averaged with weights 1/(t+1);
- `identity_encoder` (optional) ViTModel for reference faces.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL, DiffusionPipeline, UNet2DConditionModel
from diffusers.schedulers import KarrasDiffusionSchedulers
from diffusers.utils import BaseOutput
from diffusers.utils.torch_utils import randn_tensor
from transformers import CLIPTextModel, PreTrainedTokenizerBase, ViTModel

from reference.maugen.modules import DIGLabelHead, MultimodalRepresentation, combine_steps, labels_from

DISFA12 = (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)
ID_PLACEHOLDERS = ("<ID>", "<ID2>")


@dataclass
class MAUGenPipelineOutput(BaseOutput):
    images: np.ndarray | torch.Tensor | list  # (B, H, W, 3) uint8 ("np"), (B, 3, H, W) in [-1, 1] ("pt"), or PIL
    au_occurrence: torch.Tensor  # (B, 12) bool
    au_intensity: torch.Tensor  # (B, 12) long 0-5 (0 where absent)
    au_probability: torch.Tensor  # (B, 12) float, step-weighted occurrence probability
    au_intensity_raw: torch.Tensor  # (B, 12) float, step-weighted intensity before rounding


class UpBlockTap(contextlib.AbstractContextManager):
    """Collects the outputs of the UNet's cross-attention up-blocks during one forward."""

    def __init__(self, unet: UNet2DConditionModel):
        self.blocks = [b for b in unet.up_blocks if getattr(b, "has_cross_attention", False)]
        self.features: list[torch.Tensor] = []
        self._hooks = []

    def __enter__(self):
        self._hooks = [b.register_forward_hook(lambda m, i, o: self.features.append(o)) for b in self.blocks]
        return self

    def __exit__(self, *exc):
        for h in self._hooks:
            h.remove()
        return False

    def take(self) -> list[torch.Tensor]:
        out, self.features = self.features, []
        return out


class MAUGenPipeline(DiffusionPipeline):
    """Text (+ AU intensities, + optional reference face, + optional inpainting mask) -> images + AU labels."""

    model_cpu_offload_seq = "text_encoder->unet->vae"
    _optional_components = ["identity_encoder"]

    def __init__(self, vae: AutoencoderKL, text_encoder: CLIPTextModel, tokenizer: PreTrainedTokenizerBase,
                 unet: UNet2DConditionModel, scheduler: KarrasDiffusionSchedulers, mrl: MultimodalRepresentation,
                 label_head: DIGLabelHead, identity_encoder: ViTModel | None = None):
        super().__init__()
        self.register_modules(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
                              mrl=mrl, label_head=label_head, identity_encoder=identity_encoder)
        self.vae_scale_factor = 2 ** (len(vae.config.block_out_channels) - 1)
        n_taps = sum(getattr(b, "has_cross_attention", False) for b in unet.up_blocks)
        if n_taps != len(label_head.config.feature_channels):
            raise ValueError(f"label_head reads {len(label_head.config.feature_channels)} up-blocks, the UNet has "
                             f"{n_taps} cross-attention up-blocks")
        if unet.config.in_channels != 2 * vae.config.latent_channels + 1:
            raise ValueError(f"MAUGen needs an inpainting UNet ({2 * vae.config.latent_channels + 1} input "
                             f"channels), got {unet.config.in_channels}")

    # -- conditioning (shared with training) ------------------------------------------------------------------

    def identity_vector(self, reference: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) reference faces in [-1, 1] -> (B, identity_dim): CLS features of `identity_layers`."""
        if self.identity_encoder is None:
            raise ValueError("this pipeline has no identity_encoder; pass reference_image=None")
        size = self.identity_encoder.config.image_size
        x = F.interpolate(reference, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        hs = self.identity_encoder(pixel_values=x.to(self.identity_encoder.dtype), output_hidden_states=True
                                   ).hidden_states  # embeddings, then one per block
        return torch.cat([hs[i + 1][:, 0] for i in self.mrl.config.identity_layers], -1)

    def _placeholder_ids(self) -> list[int]:
        ids = self.tokenizer.convert_tokens_to_ids(list(ID_PLACEHOLDERS))
        if any(i is None or i == self.tokenizer.unk_token_id for i in ids):
            raise ValueError(f"the tokenizer has no {ID_PLACEHOLDERS} tokens (add them to use reference faces)")
        return ids

    def encode_text(self, prompts: list[str], identity: torch.Tensor | None = None,
                    has_identity: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Prompts -> (hidden (B, L, D), pooled (B, D)); identity pseudo-words replace `<ID>` `<ID2>` embeddings
        in rows where `has_identity` (B,) is true."""
        tok = self.tokenizer(prompts, padding="max_length", max_length=self.tokenizer.model_max_length,
                             truncation=True, return_tensors="pt")
        ids = tok.input_ids.to(self.text_encoder.device)
        hook = None
        if identity is not None:
            pid = self._placeholder_ids()
            words = self.mrl.identity_tokens(identity).to(self.text_encoder.dtype)  # (B, 2, D)
            keep = torch.ones(len(ids), dtype=torch.bool, device=ids.device) if has_identity is None else has_identity

            def put(module, inputs, emb):  # textual-inversion style: overwrite the placeholder embeddings
                emb = emb.clone()
                for k, p in enumerate(pid):
                    m = (ids == p) & keep[:, None]
                    rows = m.nonzero()[:, 0]
                    emb[m] = words[rows, k]
                return emb

            hook = self.text_encoder.get_input_embeddings().register_forward_hook(put)
        try:
            out = self.text_encoder(ids)
        finally:
            if hook is not None:
                hook.remove()
        return out.last_hidden_state, out.pooler_output

    def context(self, prompts: list[str], intensity: torch.Tensor, identity: torch.Tensor | None = None,
                has_identity: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Cross-attention context, text tokens then AU cue tokens: ((B, L + 12, D), text hidden (B, L, D),
        pooled text (B, D))."""
        hidden, pooled = self.encode_text(prompts, identity, has_identity)
        au = self.mrl.au_tokens(intensity.to(hidden.device)).to(hidden.dtype)
        return torch.cat([hidden, au], 1), hidden, pooled

    def class_vector(self, intensity: torch.Tensor) -> torch.Tensor | None:
        """The AU vector as the UNet's class input (tiny configs add it to the time embedding), else None."""
        return intensity.nan_to_num(0.0) / 5.0 if self.unet.config.class_embed_type == "projection" else None

    def unet_with_labels(self, x: torch.Tensor, t: torch.Tensor, ctx: torch.Tensor, text: torch.Tensor,
                         intensity: torch.Tensor, identity: torch.Tensor | None = None, label_rows: slice | None = None,
                         identity_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One UNet call that also reads AU labels from its up-blocks: (noise pred, logits, intensity).

        x (B, 9, h, w); t (B,); ctx (B, L', D); intensity (B, 12) the AU condition; text (B', L, D), identity
        (B', id_dim) and identity_mask (B',) for the rows the labels are read from (`label_rows`, default all).
        """
        with UpBlockTap(self.unet) as tap:
            eps = self.unet(x, t, encoder_hidden_states=ctx, class_labels=self.class_vector(intensity)).sample
        feats = tap.take()
        if label_rows is not None:
            feats, t = [f[label_rows] for f in feats], t[label_rows]
        dt = self.label_head.dtype
        logits, inten = self.label_head([f.to(dt) for f in feats], t, text.to(dt),
                                        None if identity is None else identity.to(dt), identity_mask)
        return eps, logits, inten

    def masked_latents(self, image: torch.Tensor | None, mask: torch.Tensor | None, batch: int, h: int, w: int,
                       generator=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Inpainting inputs: (mask (B, 1, h, w) 1 = generate, masked-image latents (B, C, h, w)).

        No image: everything is generated (mask 1, masked latents 0).
        """
        c = self.vae.config.latent_channels
        dev, dt = self._execution_device, self.unet.dtype
        if image is None:
            return torch.ones(batch, 1, h, w, device=dev, dtype=dt), torch.zeros(batch, c, h, w, device=dev, dtype=dt)
        if mask is None:
            raise ValueError("image given without mask_image")
        image, mask = image.to(dev, self.vae.dtype), mask.to(dev, self.vae.dtype)
        masked = image * (mask < 0.5)
        lat = self.vae.encode(masked).latent_dist.mode() * self.vae.config.scaling_factor
        m = F.interpolate(mask, size=(h, w), mode="nearest")
        return m.to(dt), lat.to(dt)

    # -- sampling --------------------------------------------------------------------------------------------

    def check_inputs(self, prompt, au_intensity, reference_image, image, mask_image, height, width):
        if not isinstance(prompt, (str, list)) or (isinstance(prompt, list)
                                                   and not all(isinstance(p, str) for p in prompt)):
            raise TypeError("prompt must be a string or a list of strings")
        n = 1 if isinstance(prompt, str) else len(prompt)
        if au_intensity is not None:
            a = torch.as_tensor(au_intensity)
            if a.shape != (n, self.mrl.config.num_aus):
                raise ValueError(f"au_intensity must be ({n}, {self.mrl.config.num_aus}), got {tuple(a.shape)}")
            if torch.isnan(a.float()).any() or (a < 0).any() or (a > 5).any():
                raise ValueError("au_intensity must be in [0, 5] with no NaN")
        for name, x in (("reference_image", reference_image), ("image", image), ("mask_image", mask_image)):
            if x is not None and (x.ndim != 4 or len(x) != n):
                raise ValueError(f"{name} must be a (B={n}, C, H, W) tensor")
        f = self.vae_scale_factor * 2 ** (len(self.unet.config.block_out_channels) - 1)  # VAE and UNet downsampling
        if height % f or width % f:
            raise ValueError(f"height and width must be multiples of {f}")

    @torch.no_grad()
    def __call__(self, prompt: str | list[str], au_intensity: torch.Tensor | np.ndarray | None = None,
                 reference_image: torch.Tensor | None = None, image: torch.Tensor | None = None,
                 mask_image: torch.Tensor | None = None, height: int | None = None, width: int | None = None,
                 num_inference_steps: int = 30, guidance_scale: float = 7.5, negative_prompt: str | list[str] = "",
                 generator: torch.Generator | list[torch.Generator] | None = None, latents: torch.Tensor | None = None,
                 label_threshold: float = 0.5, label_branch: str = "cond", output_type: str = "np",
                 return_dict: bool = True):
        """Generate faces and their AU labels.

        prompt: B captions (may contain `<ID> <ID2>` when reference_image is given); au_intensity (B, 12) DISFA12
        levels 0-5 (None: all 0); reference_image (B, 3, H, W) in [-1, 1]; image/mask_image (B, 3|1, H, W):
        inpaint where mask is 1. `generator` may be a list (one per image) for batch-independent results.
        label_branch: the label head reads the conditional ("cond", MAUGen) or, under CFG, the unconditional
        ("uncond") UNet pass, whose features carry the image without the request.
        """
        # 1. check inputs
        height = height or self.unet.config.sample_size * self.vae_scale_factor
        width = width or self.unet.config.sample_size * self.vae_scale_factor
        self.check_inputs(prompt, au_intensity, reference_image, image, mask_image, height, width)
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        n, dev = len(prompts), self._execution_device
        neg = [negative_prompt] * n if isinstance(negative_prompt, str) else list(negative_prompt)
        a = self.mrl.config.num_aus
        inten = torch.zeros(n, a) if au_intensity is None else torch.as_tensor(au_intensity).float()
        inten = inten.to(dev)
        do_cfg = guidance_scale > 1.0

        # 2. conditioning: text + AU cue tokens (+ identity pseudo-words); the null is "" with all AUs at 0
        identity = None if reference_image is None else self.identity_vector(reference_image.to(dev))
        if label_branch not in ("cond", "uncond"):
            raise ValueError(f"label_branch must be 'cond' or 'uncond', not {label_branch!r}")
        ctx, text, _ = self.context(prompts, inten, identity)
        cls_int = inten
        if do_cfg:
            uctx, utext, _ = self.context(neg, torch.zeros_like(inten))
            ctx, cls_int = torch.cat([uctx, ctx]), torch.cat([torch.zeros_like(inten), inten])
            if label_branch == "uncond":
                text, identity = utext, None

        # 3. inpainting inputs
        h, w = height // self.vae_scale_factor, width // self.vae_scale_factor
        mask, masked = self.masked_latents(image, mask_image, n, h, w, generator)

        # 4. timesteps and initial noise
        self.scheduler.set_timesteps(num_inference_steps, device=dev)
        c = self.vae.config.latent_channels
        if latents is None:
            latents = randn_tensor((n, c, h, w), generator=generator, device=dev, dtype=self.unet.dtype)
        latents = latents * self.scheduler.init_noise_sigma

        # 5. denoising loop; the label head reads the conditional half at every step
        probs, intens, steps = [], [], []
        rows = slice(n, 2 * n) if do_cfg and label_branch == "cond" else slice(0, n)
        for t in self.progress_bar(self.scheduler.timesteps):
            x = torch.cat([latents] * 2) if do_cfg else latents
            x = self.scheduler.scale_model_input(x, t)
            x = torch.cat([x, torch.cat([mask] * (2 if do_cfg else 1)), torch.cat([masked] * (2 if do_cfg else 1))], 1)
            tt = torch.full((len(x),), int(t), device=dev, dtype=torch.long)
            eps, logits, pint = self.unet_with_labels(x, tt, ctx, text, cls_int, identity, rows)
            if do_cfg:
                eu, ec = eps.chunk(2)
                eps = eu + guidance_scale * (ec - eu)
            latents = self.scheduler.step(eps, t, latents).prev_sample
            probs.append(torch.sigmoid(logits).float().cpu())
            intens.append(pint.float().cpu())
            steps.append(int(t))

        # 6. decode, and combine the steps' labels with weights 1/(t+1)
        x0 = self.vae.decode(latents / self.vae.config.scaling_factor).sample.float().clamp(-1, 1)
        prob, raw = combine_steps(probs, intens, steps)
        occ, lev = labels_from(prob, raw, label_threshold)
        if output_type == "pt":
            images = x0
        else:
            images = ((x0 + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
            if output_type == "pil":
                from PIL import Image

                images = [Image.fromarray(im) for im in images]
        self.maybe_free_model_hooks()
        out = MAUGenPipelineOutput(images=images, au_occurrence=occ, au_intensity=lev, au_probability=prob,
                                   au_intensity_raw=raw)
        return out if return_dict else tuple(out.values())
