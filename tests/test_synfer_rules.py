"""SynFER's fidelity rules on their own (tests/test_synfer.py tests them inside the pipeline): the per-token
guidance step and the guided-step fraction against hand computations, partial DDIM inversion round trips, the
soft and hard rectification rules, and the AU processor's refusals. Tiny random components after
torch.manual_seed(0); each test a second or two on CPU."""

from __future__ import annotations

import pytest
import torch

from reference.synfer.config import SynFERTinyConfig, build_tiny
from reference.synfer.modules import cross_attention_layers


def test_per_token_step_against_a_hand_computation():
    from reference.synfer.guidance import embedding_step

    torch.manual_seed(0)
    g = torch.randn(2, 5, 3)
    g[1, 2] = 0.0  # an all-zero token (an unguided row's tokens are all zero) stays zero
    step = embedding_step(g, 0.3, "token")
    for b in range(2):
        for i in range(5):
            n = float(sum(float(v) ** 2 for v in g[b, i]) ** 0.5)
            want = [0.3 * float(v) / (n + 1e-8) for v in g[b, i]]
            assert torch.allclose(step[b, i], torch.tensor(want), atol=1e-6)
    whole = embedding_step(g, 0.3, "global")
    assert torch.allclose(whole, 0.3 * g / g.flatten(1).norm(dim=1)[:, None, None])
    with pytest.raises(ValueError, match="guidance_norm must be one of token, global"):
        embedding_step(g, 0.3, "tensor")


@pytest.mark.parametrize("start, n, first", [(0.6, 50, 30), (0.6, 25, 15), (10, 25, 10), (0.0, 25, 0), (1.0, 4, 4)])
def test_guided_steps_as_a_fraction_of_the_schedule(start, n, first):
    from reference.synfer.guidance import first_guided_step

    assert first_guided_step(start, n) == first


def test_partial_inversion_then_denoising_with_the_same_prompt_returns_the_latents():
    from reference.synfer.inversion import ddim_invert_latents, inverted_steps
    from reference.synfer.pipeline_synfer import LABEL_PROMPT

    torch.manual_seed(0)
    p = build_tiny(SynFERTinyConfig())
    z = torch.randn(2, 8, 16, 16) * 0.5
    emb, au = p.encode_text([LABEL_PROMPT] * 2), torch.zeros(2, 17)

    def round_trip(n, strength):
        p.scheduler.set_timesteps(n)
        k, ts = inverted_steps(strength, n), p.scheduler.timesteps
        with torch.no_grad():
            x = ddim_invert_latents(p, z, ts.flip(0)[:k], emb, au)
            assert not torch.allclose(x, z, atol=0.1)  # it did move away
            for t in ts[n - k:]:
                x = p.scheduler.step(p.predict_noise(x, t, emb, au), t, x).prev_sample
        return float((x - z).norm() / z.norm())

    assert round_trip(50, 0.2) < 0.05
    assert round_trip(200, 0.7) < round_trip(50, 0.7) / 2  # a first-order method: finer steps, closer


def test_rectification_rules_against_hand_computations():
    from reference.synfer.labels import rectify

    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 3.0]])
    members = torch.tensor([[[0.2, 0.7, 0.1], [0.1, 0.1, 0.8]],
                            [[0.3, 0.5, 0.2], [0.2, 0.2, 0.6]]])  # (M=2, B=2, K=3)
    p0 = [v / (2.718281828 ** 2 + 2) for v in (2.718281828 ** 2, 1.0, 1.0)]  # softmax of row 0
    # row 0: FERAnno says 0, the ensemble mean (0.25, 0.6, 0.15) says 1 -> average of the three distributions
    want0 = [(p0[k] + members[0, 0, k].item() + members[1, 0, k].item()) / 3 for k in range(3)]
    soft = rectify(logits, members, "soft", 2, num_classes=3)
    assert soft.relabelled.tolist() == [True, False] and soft.pseudo.tolist() == [0, 2]
    assert soft.ensemble.tolist() == [1, 2]
    assert torch.allclose(soft.prob[0], torch.tensor(want0), atol=1e-6)
    assert soft.prob[1].tolist() == [0.0, 0.0, 1.0]  # agreement: the one-hot pseudo-label
    assert soft.final.tolist() == [max(range(3), key=lambda k: want0[k]), 2]
    hard = rectify(logits, members, "hard", 2, num_classes=3)
    assert hard.final.tolist() == [1, 2] and hard.prob[0].tolist() == [0.0, 1.0, 0.0]
    alone = rectify(None, members, "soft", 2, num_classes=3)  # no FERAnno: the ensemble average
    assert alone.final.tolist() == [1, 2] and torch.allclose(alone.prob, members.mean(0))
    nothing = rectify(None, None, "soft", 2, num_classes=3)
    assert nothing.final.tolist() == [-1, -1] and nothing.prob.isnan().all()
    with pytest.raises(ValueError, match="rectify must be one of soft, hard"):
        rectify(logits, members, "vote", 2)


def test_adapter_refuses_attention_features_its_processor_lacks():
    torch.manual_seed(0)
    p = build_tiny(SynFERTinyConfig())
    _, attn = cross_attention_layers(p.unet)[0]
    attn.residual_connection = True
    with pytest.raises(ValueError, match="attn2 uses residual_connection"):
        p.au_adapter.install(p.unet)
