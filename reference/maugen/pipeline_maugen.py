"""MAUGenPipeline: one denoising loop that produces face images and their AU labels together.

Components (saved/loaded by diffusers' `save_pretrained` / `from_pretrained`):
- `vae` AutoencoderKL, `unet` UNet2DConditionModel with the inpainting input (noisy latent C + mask 1 +
  masked-image latent C: 9 channels for SD's 4-channel latents, 17 for the tiny 8-channel ones),
  `text_encoder` CLIPTextModel + `tokenizer`, `scheduler`;
- `mrl`: AU cue tokens appended to the text tokens as cross-attention context, identity pseudo-words written
  into the `<ID>` `<ID2>` prompt slots;
- `label_head`: reads the cross-attention up-blocks at every step; the steps' predictions are averaged with
  weights 1/(t+1);
- `identity_encoder` (optional) ViTModel for reference faces.

Two variants, picked by the `mrl` / `label_head` classes a folder names (their configs say `variant:
published`; v1 configs have no `variant`), documented in docs/fidelity-maugen.md:
- published (the authors' code, default): `PublishedMRL` + `PublishedDIGHead`. The request is the prompt text
  only: `au_intensity` is accepted but never reaches the model. Fixed cue tokens in both CFG halves, used as
  the DIG queries; pseudo-words written after the position embeddings; inpainting fills the masked region
  with black (-1) and, with no frame, encodes an all-black frame; the masked-image latent is sampled.
- v1 (the committed tiny checkpoint): `MultimodalRepresentation` + `DIGLabelHead`; cue tokens carry each AU's
  requested level (and a tiny UNet may take it as a class vector), occurrence-gated labels, zero latents.
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

from reference.common.text import model_name, refuse_unknown
from reference.maugen import dig
from reference.maugen.modules import combine_steps_v1, labels_from_v1

DISFA12 = (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)
ID_PLACEHOLDERS = ("<ID>", "<ID2>")
VARIANTS = ("published", "v1")

# The authors' negative prompt (`inference.py:41-57`, spacing as there). Their tokenizer truncates it to 77
# CLIP tokens (about up to "poorly drawn face, mutation,"); ours does the same. `(...:1.4)` is plain text.
MAUGEN_NEGATIVE_PROMPT = (
    "(deformed iris, deformed pupils, semi-realistic, cgi, 3d, render, sketch, cartoon, drawing, anime:1.4), text, "
    "close up, cropped, out of frame, worst quality, low quality, jpeg artifacts, ugly, duplicate, morbid, mutilated, "
    "extra fingers, mutated hands, poorly drawn hands, poorly drawn face, mutation, deformed, blurry, dehydrated, "
    "bad anatomy, bad proportions, extra limbs, cloned face, disfigured, gross proportions, malformed limbs, missing "
    "arms, missing legs, extra arms, extra legs, fused fingers, too many fingers, long neck, uneven skin texture, "
    "rough skin, noisy skin, patchy cheeks, unnatural lighting, blotchy color, red spots, discoloration, uneven tone, "
    "overexposed skin, deformed face, asymmetric cheeks, distorted features, unnatural proportions, sunken cheeks, "
    "plastic-like skin, overly smooth skin, waxy texture, overly edited face, harsh shadows, patchy texture, "
    "artifact, unrealistic lighting, unnatural cheek blush, uncanny valley,excessive frown lines, overly deep "
    "forehead wrinkles,unnaturally harsh forehead creases, excessively visible facial stress lines, overly defined "
    "horizontal lines on the forehead, over-exaggerated facial expressions, unnatural deep wrinkles, overly harsh "
    "shadows on skin, unnatural texture exaggeration, asymmetrical wrinkle distribution, overly strained facial "
    "features, exaggerated skin folds)")
SD15_SIZE = 512  # pipelines sampling this size or more default to MAUGEN_NEGATIVE_PROMPT; smaller (tiny): ""


def variant_of(component) -> str:
    """A MAUGen component's variant: its config's `variant`, or "v1" when the config has none (legacy)."""
    return getattr(component.config, "variant", "v1")


@dataclass
class MAUGenPipelineOutput(BaseOutput):
    images: np.ndarray | torch.Tensor | list  # (B, H, W, 3) uint8 ("np"), (B, 3, H, W) in [-1, 1] ("pt"), or PIL
    au_occurrence: torch.Tensor  # (B, 12) bool (published: sigmoid(avg logit) >= threshold, reported separately)
    au_intensity: torch.Tensor  # (B, 12) long 0-5 (published: round(5 * avg sigmoid); v1: 0 where absent)
    au_probability: torch.Tensor  # (B, 12) float, step-weighted occurrence probability
    au_intensity_raw: torch.Tensor  # (B, 12) float, step-weighted intensity (0-5) before rounding


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
    """Text (+ optional reference face, + optional inpainting frame and mask) -> images + AU labels.

    v1 checkpoints also take the AU request as `au_intensity`; published ones only record it (see module doc).
    """

    model_cpu_offload_seq = "text_encoder->unet->vae"
    _optional_components = ["identity_encoder"]

    def __init__(self, vae: AutoencoderKL, text_encoder: CLIPTextModel, tokenizer: PreTrainedTokenizerBase,
                 unet: UNet2DConditionModel, scheduler: KarrasDiffusionSchedulers, mrl: torch.nn.Module,
                 label_head: torch.nn.Module, identity_encoder: ViTModel | None = None):
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
        if variant_of(mrl) != variant_of(label_head):
            raise ValueError(f"mrl is {variant_of(mrl)!r} but label_head is {variant_of(label_head)!r}")
        if self.variant == "published" and unet.config.class_embed_type is not None:
            raise ValueError("a published MAUGen UNet takes no class embedding (the request is the prompt text)")

    @property
    def variant(self) -> str:
        """ "published" or "v1", from the MRL's saved config."""
        return variant_of(self.mrl)

    def default_negative_prompt(self) -> str:
        """The authors' negative prompt at SD size; "" for smaller (tiny) pipelines, whose word-level vocabulary
        would read it as `<unk>`s and which were trained with "" as the null condition."""
        size = self.unet.config.sample_size * self.vae_scale_factor
        return MAUGEN_NEGATIVE_PROMPT if size >= SD15_SIZE else ""

    # -- conditioning (shared with training) ------------------------------------------------------------------

    def identity_vector(self, reference: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) reference faces in [-1, 1] -> (B, identity_dim): CLS features of `identity_layers`
        (published: each through BatchNorm1d + LayerNorm)."""
        if self.identity_encoder is None:
            raise ValueError("this pipeline has no identity_encoder; pass reference_image=None")
        size = self.identity_encoder.config.image_size
        x = F.interpolate(reference, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        hs = self.identity_encoder(pixel_values=x.to(self.identity_encoder.dtype), output_hidden_states=True
                                   ).hidden_states  # embeddings, then one per block
        return self.mrl.identity_features(hs)

    def _placeholder_ids(self) -> list[int]:
        ids = self.tokenizer.convert_tokens_to_ids(list(ID_PLACEHOLDERS))
        if any(i is None or i == self.tokenizer.unk_token_id for i in ids):
            raise ValueError(f"the tokenizer has no {ID_PLACEHOLDERS} tokens (add them to use reference faces)")
        return ids

    def _pseudo_word_hook(self, ids: torch.Tensor, words: torch.Tensor, keep: torch.Tensor):
        """A forward hook writing the pseudo-words (B, 2, D) into the text embeddings of rows `keep` (B,).

        v1: on the token embedding, at the ids of `<ID>` and `<ID2>` (position codes are added after).
        published: on the whole embeddings module (token + position), first word at `<ID>`, last at `<ID>` + 1
        (authors `pl:199-207`), so the pseudo-words carry no position code.
        """
        pid = self._placeholder_ids()
        if self.variant == "v1":
            def put(module, inputs, emb):  # textual-inversion style: overwrite the placeholder embeddings
                emb = emb.clone()
                for k, p in enumerate(pid):
                    m = (ids == p) & keep[:, None]
                    rows = m.nonzero()[:, 0]
                    emb[m] = words[rows, k]
                return emb

            return self.text_encoder.get_input_embeddings().register_forward_hook(put)

        def put_after_position(module, inputs, emb):
            emb = emb.clone()
            rows, pos = ((ids == pid[0]) & keep[:, None]).nonzero(as_tuple=True)
            if len(pos) and int(pos.max()) + 1 >= ids.shape[1]:
                raise ValueError("<ID> is the last token of a prompt; the second pseudo-word needs the next slot")
            emb[rows, pos] = words[rows, 0].to(emb.dtype)
            emb[rows, pos + 1] = words[rows, 1].to(emb.dtype)
            return emb

        embeddings = getattr(self.text_encoder, "text_model", self.text_encoder).embeddings
        return embeddings.register_forward_hook(put_after_position)

    def encode_text(self, prompts: list[str], identity: torch.Tensor | None = None,
                    has_identity: torch.Tensor | None = None, words: torch.Tensor | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Prompts -> (hidden (B, L, D), pooled (B, D)); identity pseudo-words (`words` (B, 2, D), else made from
        `identity` (B, identity_dim)) replace the `<ID>` `<ID2>` embeddings in rows where `has_identity` (B,)."""
        tok = self.tokenizer(prompts, padding="max_length", max_length=self.tokenizer.model_max_length,
                             truncation=True, return_tensors="pt")
        ids = tok.input_ids.to(self.text_encoder.device)
        hook = None
        if words is None and identity is not None:
            words = self.mrl.identity_tokens(identity)
        if words is not None:
            keep = torch.ones(len(ids), dtype=torch.bool, device=ids.device) if has_identity is None else has_identity
            hook = self._pseudo_word_hook(ids, words.to(self.text_encoder.dtype), keep)
        try:
            out = self.text_encoder(ids)
        finally:
            if hook is not None:
                hook.remove()
        return out.last_hidden_state, out.pooler_output

    def context(self, prompts: list[str], intensity: torch.Tensor, identity: torch.Tensor | None = None,
                has_identity: torch.Tensor | None = None, words: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Cross-attention context, text tokens then AU cue tokens: ((B, L + 12, D), text hidden (B, L, D),
        pooled text (B, D)). Published cue tokens are the same whatever `intensity` (B, 12) says."""
        hidden, pooled = self.encode_text(prompts, identity, has_identity, words)
        au = self.mrl.au_tokens(intensity.to(hidden.device)).to(hidden.dtype)
        return torch.cat([hidden, au], 1), hidden, pooled

    def class_vector(self, intensity: torch.Tensor) -> torch.Tensor | None:
        """The AU vector as the UNet's class input (v1 tiny configs add it to the time embedding), else None."""
        return intensity.nan_to_num(0.0) / 5.0 if self.unet.config.class_embed_type == "projection" else None

    def unet_with_labels(self, x: torch.Tensor, t: torch.Tensor, ctx: torch.Tensor, text: torch.Tensor,
                         intensity: torch.Tensor, identity: torch.Tensor | None = None, label_rows: slice | None = None,
                         identity_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One UNet call that also reads AU labels from its up-blocks: (noise pred, logits, intensity).

        x (B, 9, h, w); t (B,); ctx (B, L', D); intensity (B, 12) the AU condition (v1 only). For the rows the
        labels are read from (`label_rows`, default all): text (B', L, D) (v1 only), identity — v1: the vector
        (B', id_dim), published: the pseudo-words (B', 2, D) — and identity_mask (B',).
        Intensity: v1 5 * sigmoid (0-5), published sigmoid (0-1).
        """
        if self.variant == "v1":
            with UpBlockTap(self.unet) as tap:
                eps = self.unet(x, t, encoder_hidden_states=ctx, class_labels=self.class_vector(intensity)).sample
            feats = tap.take()
            if label_rows is not None:
                feats, t = [f[label_rows] for f in feats], t[label_rows]
            dt = self.label_head.dtype
            logits, inten = self.label_head([f.to(dt) for f in feats], t, text.to(dt),
                                            None if identity is None else identity.to(dt), identity_mask)
            return eps, logits, inten
        temb: list[torch.Tensor] = []  # the UNet's own time embedding (B, T), as the authors' reader uses
        hook = self.unet.time_embedding.register_forward_hook(lambda m, i, o: temb.append(o))
        try:
            with UpBlockTap(self.unet) as tap:
                eps = self.unet(x, t, encoder_hidden_states=ctx).sample
        finally:
            hook.remove()
        feats, emb = tap.take(), temb[0]
        if label_rows is not None:
            feats, emb, ctx = [f[label_rows] for f in feats], emb[label_rows], ctx[label_rows]
        dt = self.label_head.dtype
        words = None if identity is None else identity.to(dt)
        if words is not None and identity_mask is not None:
            words = words * identity_mask[:, None, None].to(dt)
        a = self.mrl.config.num_aus
        logits, inten = self.label_head([f.to(dt) for f in feats], emb.to(dt), ctx.to(dt), ctx[:, -a:].to(dt), words)
        return eps, logits, inten

    def masked_latents(self, image: torch.Tensor | None, mask: torch.Tensor | None, batch: int, h: int, w: int,
                       generator=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Inpainting inputs: (mask (B, 1, h, w) 1 = generate, masked-image latents (B, C, h, w)).

        published: the masked region is filled with black (-1); no image = an all-black frame, mask 1; the
        latent is sampled with `generator`. v1: fill 0, latent mode; no image = zero latents.
        """
        c = self.vae.config.latent_channels
        dev, dt = self._execution_device, self.unet.dtype
        if self.variant == "v1":
            if image is None:
                return (torch.ones(batch, 1, h, w, device=dev, dtype=dt),
                        torch.zeros(batch, c, h, w, device=dev, dtype=dt))
            image, mask = image.to(dev, self.vae.dtype), mask.to(dev, self.vae.dtype)
            masked = image * (mask < 0.5)
            lat = self.vae.encode(masked).latent_dist.mode() * self.vae.config.scaling_factor
            return F.interpolate(mask, size=(h, w), mode="nearest").to(dt), lat.to(dt)
        s = self.vae_scale_factor
        if image is None:
            image = -torch.ones(batch, 3, h * s, w * s, device=dev, dtype=self.vae.dtype)
            mask = torch.ones(batch, 1, h * s, w * s, device=dev, dtype=self.vae.dtype)
        image, mask = image.to(dev, self.vae.dtype), mask.to(dev, self.vae.dtype)
        masked = torch.where(mask >= 0.5, -torch.ones_like(image), image)
        lat = self.vae.encode(masked).latent_dist.sample(generator) * self.vae.config.scaling_factor
        return F.interpolate(mask, size=(h, w), mode="nearest").to(dt), lat.to(dt)

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
        if (image is None) != (mask_image is None):
            raise ValueError("image and mask_image go together (inpaint `image` where `mask_image` is 1)")
        if image is not None:
            if image.shape[1] != 3 or mask_image.shape[1] != 1:
                raise ValueError(f"image must have 3 channels and mask_image 1, got {image.shape[1]} and "
                                 f"{mask_image.shape[1]}")
            if image.shape[2:] != (height, width) or mask_image.shape[2:] != (height, width):
                raise ValueError(f"image and mask_image must be {height}x{width}, got {tuple(image.shape[2:])} and "
                                 f"{tuple(mask_image.shape[2:])}")
        f = self.vae_scale_factor * 2 ** (len(self.unet.config.block_out_channels) - 1)  # VAE and UNet downsampling
        if height % f or width % f:
            raise ValueError(f"height and width must be multiples of {f}")

    @torch.no_grad()
    def __call__(self, prompt: str | list[str], au_intensity: torch.Tensor | np.ndarray | None = None,
                 reference_image: torch.Tensor | None = None, image: torch.Tensor | None = None,
                 mask_image: torch.Tensor | None = None, height: int | None = None, width: int | None = None,
                 num_inference_steps: int = 30, guidance_scale: float = 7.5,
                 negative_prompt: str | list[str] | None = None,
                 generator: torch.Generator | list[torch.Generator] | None = None, latents: torch.Tensor | None = None,
                 label_threshold: float = 0.5, label_branch: str = "cond", output_type: str = "np",
                 return_dict: bool = True, unknown_words: str = "refuse"):
        """Generate faces and their AU labels.

        prompt: B captions (may contain `<ID> <ID2>` when reference_image is given); au_intensity (B, 12) DISFA12
        levels 0-5 (None: all 0) reaches a v1 model only (published: the request is the prompt; checked, then
        unused); reference_image (B, 3, H, W) in [-1, 1]; image (B, 3, H, W) in [-1, 1] and mask_image
        (B, 1, H, W): inpaint `image` where the mask is 1. negative_prompt None: `default_negative_prompt()`.
        `generator` may be a list (one per image) for batch-independent results.
        label_branch: the label head reads the conditional ("cond", MAUGen) or, under CFG, the unconditional
        ("uncond") UNet pass, whose features carry the image without the request.
        unknown_words: a prompt word the tokenizer lacks is refused by name ("refuse") or warned about and read as
        `<unk>` ("warn"; reference.common.text.refuse_unknown); "checked": the caller checked prompts and negative
        prompts already (a generator, once for all its conditions), nothing is checked or said again.
        """
        # 1. check inputs
        height = height or self.unet.config.sample_size * self.vae_scale_factor
        width = width or self.unet.config.sample_size * self.vae_scale_factor
        self.check_inputs(prompt, au_intensity, reference_image, image, mask_image, height, width)
        if label_branch not in ("cond", "uncond"):
            raise ValueError(f"label_branch must be 'cond' or 'uncond', not {label_branch!r}")
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        n, dev = len(prompts), self._execution_device
        negative_prompt = self.default_negative_prompt() if negative_prompt is None else negative_prompt
        neg = [negative_prompt] * n if isinstance(negative_prompt, str) else list(negative_prompt)
        refuse_unknown(self.tokenizer, prompts, model_name(self), what="prompt", mode=unknown_words)  # word-level:
        refuse_unknown(self.tokenizer, neg, model_name(self), what="negative prompt", mode=unknown_words)  # no <unk>
        a = self.mrl.config.num_aus
        published = self.variant == "published"
        inten = torch.zeros(n, a) if au_intensity is None or published else torch.as_tensor(au_intensity).float()
        inten = inten.to(dev)  # (B, 12) what reaches the model: zeros for published checkpoints
        do_cfg = guidance_scale > 1.0

        # 2. conditioning: text + AU cue tokens (+ identity pseudo-words); the null is the negative prompt
        #    (v1: with all AUs at 0; published: the same cue tokens)
        identity = None if reference_image is None else self.identity_vector(reference_image.to(dev))
        words = None if identity is None else self.mrl.identity_tokens(identity)  # (B, 2, D)
        ctx, text, _ = self.context(prompts, inten, identity, words=words)
        label_identity = words if published else identity
        cls_int = inten
        if do_cfg:
            uctx, utext, _ = self.context(neg, torch.zeros_like(inten))
            ctx, cls_int = torch.cat([uctx, ctx]), torch.cat([torch.zeros_like(inten), inten])
            if label_branch == "uncond":
                text, label_identity = utext, None

        # 3. timesteps and initial noise (drawn before the masked-image latent, as the authors)
        self.scheduler.set_timesteps(num_inference_steps, device=dev)
        c = self.vae.config.latent_channels
        h, w = height // self.vae_scale_factor, width // self.vae_scale_factor
        if latents is None:
            latents = randn_tensor((n, c, h, w), generator=generator, device=dev, dtype=self.unet.dtype)
        latents = latents * self.scheduler.init_noise_sigma

        # 4. inpainting inputs
        mask, masked = self.masked_latents(image, mask_image, n, h, w, generator)

        # 5. denoising loop; the label head reads one half (default: conditional) at every step
        occs, intens, steps = [], [], []
        rows = slice(n, 2 * n) if do_cfg and label_branch == "cond" else slice(0, n)
        for t in self.progress_bar(self.scheduler.timesteps):
            x = torch.cat([latents] * 2) if do_cfg else latents
            x = self.scheduler.scale_model_input(x, t)
            x = torch.cat([x, torch.cat([mask] * (2 if do_cfg else 1)), torch.cat([masked] * (2 if do_cfg else 1))], 1)
            tt = torch.full((len(x),), int(t), device=dev, dtype=torch.long)
            eps, logits, pint = self.unet_with_labels(x, tt, ctx, text, cls_int, label_identity, rows)
            if do_cfg:
                eu, ec = eps.chunk(2)
                eps = eu + guidance_scale * (ec - eu)
            latents = self.scheduler.step(eps, t, latents).prev_sample
            occs.append((logits if published else torch.sigmoid(logits)).float().cpu())
            intens.append(pint.float().cpu())
            steps.append(int(t))

        # 6. decode, and combine the steps' labels with weights 1/(t+1)
        x0 = self.vae.decode(latents / self.vae.config.scaling_factor).sample.float().clamp(-1, 1)
        if published:  # logits averaged then sigmoid; labels round(5 * averaged sigmoid intensity)
            logit, reg = dig.combine_steps(occs, intens, steps)
            occ, lev, prob = dig.labels_from(logit, reg, label_threshold)
            raw = 5.0 * reg
        else:
            prob, raw = combine_steps_v1(occs, intens, steps)
            occ, lev = labels_from_v1(prob, raw, label_threshold)
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
