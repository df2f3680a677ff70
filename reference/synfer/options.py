"""The SynFER generators' sampling and labelling options: one frozen dataclass, with the published defaults
(`PUBLISHED`, the `synfer` generator on user weights) and the committed tiny checkpoint's (`TINY`, the
`synfer-tiny` generator, so its filed benchmark entries stay bit-identical).

Where each published value comes from: docs/fidelity-synfer.md.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from bench.core.errors import UsageError
from reference.synfer.guidance import GUIDANCE_NORMS, PUBLISHED_GUIDANCE_START, check_guidance_start
from reference.synfer.labels import FERANNO_MODES, RECTIFY_RULES
from reference.synfer.pipeline_synfer import NEGATIVE_PROMPT, PUBLISHED_SG_SCALE

RECORDED_ALWAYS = ("num_inference_steps", "guidance_scale", "au_scale", "semantic_guidance_scale", "guidance_start",
                   "pseudo_label")  # what the filed entries' generator config holds
UNLABELLED_PROMPTS = ("condition", "generic")  # prompt of a condition without an expression: its own | GENERIC


@dataclass(frozen=True)
class SynFERSampling:
    """How a SynFER generator samples and labels (each field is a generator option of the same name)."""

    steps: int = 50  # DDIM steps (reproduction evaluate_synfer.py:109)
    guidance_scale: float = 7.5  # classifier-free guidance (evaluate_synfer.py:103)
    negative_prompt: str = NEGATIVE_PROMPT  # CFG text null (evaluate_synfer.py:438); the AU null is zeros
    au_scale: float = 1.0  # weight of the decoupled AU attention (the reproduction's IP scale 1.0)
    semantic_guidance_scale: float = PUBLISHED_SG_SCALE  # lambda_g (evaluate_synfer.py:127); 0 = off
    guidance_start: int | float = PUBLISHED_GUIDANCE_START  # first guided step: int index | fraction of the steps
    guidance_norm: str = "token"  # gradient normalisation: "token" (reproduction) | "global" (our earlier)
    pseudo_label: bool = True  # claim FERAnno's rectified label instead of the requested expression
    feranno: str = "invert"  # FERAnno's route to t_small: "invert" (paper) | "renoise-image" | "renoise"
    rectify: str = "soft"  # disagreement rule: "soft" ensemble average (paper) | "hard" ensemble argmax
    unlabelled_prompt: str = "condition"  # prompt when a condition has no expression: "condition" | "generic"

    def __post_init__(self):
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1:
            raise UsageError(f"synfer option steps must be an int >= 1, got {self.steps!r}")
        for name in ("guidance_scale", "au_scale", "semantic_guidance_scale"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise UsageError(f"synfer option {name} must be a number >= 0, got {v!r}")
        try:
            check_guidance_start(self.guidance_start)
        except ValueError as e:
            raise UsageError(f"synfer option {e}") from None
        for name, choices in (("guidance_norm", GUIDANCE_NORMS), ("feranno", FERANNO_MODES),
                              ("rectify", RECTIFY_RULES), ("unlabelled_prompt", UNLABELLED_PROMPTS)):
            if getattr(self, name) not in choices:
                raise UsageError(f"synfer option {name} must be one of {', '.join(choices)}, "
                                 f"got {getattr(self, name)!r}")
        if not isinstance(self.pseudo_label, bool):
            raise UsageError(f"synfer option pseudo_label must be true or false, got {self.pseudo_label!r}")

    def with_options(self, **given) -> SynFERSampling:
        """These defaults with the options the user gave (None = not given)."""
        return dataclasses.replace(self, **{k: v for k, v in given.items() if v is not None})

    def record(self) -> dict:
        """The generator's recorded config: the six settings every filed SynFER entry records, plus each later
        option whose value differs from the committed tiny checkpoint's (`TINY`); an absent key means TINY's
        value, so the filed tiny entries' records (which stability re-runs must equal) stay as they were."""
        kw = {**self.pipeline_kwargs(), "unlabelled_prompt": self.unlabelled_prompt}
        legacy = {**TINY.pipeline_kwargs(), "unlabelled_prompt": TINY.unlabelled_prompt}
        return {k: v for k, v in kw.items() if k in RECORDED_ALWAYS or v != legacy[k]}

    def pipeline_kwargs(self) -> dict:
        """SynFERPipeline.__call__ arguments (also the generator's recorded config)."""
        return dict(num_inference_steps=self.steps, guidance_scale=self.guidance_scale, au_scale=self.au_scale,
                    semantic_guidance_scale=self.semantic_guidance_scale, guidance_start=self.guidance_start,
                    pseudo_label=self.pseudo_label, guidance_norm=self.guidance_norm,
                    negative_prompt=self.negative_prompt, feranno=self.feranno, rectify=self.rectify)


PUBLISHED = SynFERSampling()
# The committed tiny checkpoint's sampling (its filed entries): 25 steps and CFG 3 (cheap on CPU; the tiny model
# was tuned with them), no negative prompt (the tiny world tokenizer has none of its words), guidance off by
# default (the entry synfer-tiny-sg-pl switches it on with semantic_guidance_scale=2.0) from step index 10 with the
# whole-embedding norm, pseudo-labels off, and FERAnno re-noised with the caller's generator (what its labeller
# was trained on) under the hard rule.
TINY = SynFERSampling(steps=25, guidance_scale=3.0, negative_prompt="", semantic_guidance_scale=0.0,
                      guidance_start=10, guidance_norm="global", pseudo_label=False, feranno="renoise",
                      rectify="hard", unlabelled_prompt="generic")
# The method as published on the committed tiny weights (`synfer-tiny --option preset=published`): every
# PUBLISHED setting but the negative prompt, "" (the tiny's text null; its word-level vocabulary has none of the
# published one's words).
TINY_PUBLISHED = dataclasses.replace(PUBLISHED, negative_prompt="")
