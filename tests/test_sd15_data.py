"""The data side of sd15 training (reference/common/sd15train.py `LabelledFaces`, worlddata's `WorldBatch`
contract): the labelled-AU mask, missing expressions, caption rules, and MAUGen's masked label losses."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.core.errors import DataError, UsageError
from bench.data.aus import AUS
from bench.data.sampleset import Sample, SampleSetWriter


def few_labelled(root, aus, prompts=("a smile", ""), expressions=(-1, -1)):
    """A 32 px set labelling only `aus` (2 rows: a.png, b.png), with these prompts and expressions."""
    with SampleSetWriter(root, name="few", generator={"name": "test"}, image_size=(32, 32), labelled_aus=aus,
                         expression_labelled=min(expressions) >= 0) as w:
        for i, (file, prompt, expr) in enumerate(zip(("a.png", "b.png"), prompts, expressions)):
            w.add(Sample(image=np.full((32, 32, 3), 40 * i, np.uint8), file=file, prompt=prompt, expression=expr,
                         intensity=np.array([1.0 + i if a in aus else np.nan for a in AUS], np.float32)))
    return root


def test_labelled_faces_carries_the_au_mask_the_caption_rule_and_missing_expressions(tmp_path):
    """worlddata's contract: labelled-AU mask (0 placeholders), -1 for a missing expression, captions by a stated
    rule; rows without an expression refused by name where a stage needs them (a sharded set whose second shard
    has none); a world batch's mask is all true."""
    from bench.data.sampleset import finalize_shards
    from bench.world.params import WorldConfig
    from bench.world.prompts import prompt_from_aus
    from reference.common.sd15train import LabelledFaces
    from reference.common.worlddata import world_batch

    few = few_labelled(tmp_path / "few", (6, 12), prompts=("a smile", "a wide smile"))
    faces = LabelledFaces(few, 16, any_aus=(6, 12, 25), captions="dataset")
    wb = faces.batch(0, 2, seed=0)
    want = np.array([a in (6, 12) for a in AUS])
    assert wb.au_mask.dtype == torch.bool and (wb.au_mask.numpy() == want).all()
    assert (wb.aus.numpy()[:, ~want] == 0).all() and wb.expression.tolist() == [-1, -1]
    assert sorted(wb.prompts) == ["a smile", "a wide smile"]
    d = faces.describe()
    assert d["labelled_aus"] == [6, 12] and 25 in d["masked_aus"] and d["captions"].startswith("dataset: ")
    assert d["expressions"].startswith("not read as labels (2 rows have none")
    world = LabelledFaces(few, 16, captions="world").batch(0, 2, seed=0).prompts  # only the labelled AUs named
    assert sorted(world) == sorted(prompt_from_aus(np.where(want, v, np.nan)) for v in (1.0, 2.0))
    with pytest.raises(DataError, match=r"this set has none"):
        LabelledFaces(few, 16, need_expression=True, what="X")
    with pytest.raises(UsageError, match="captions must be one of dataset, world"):
        LabelledFaces(few, 16, captions="authors")
    sharded = tmp_path / "sharded"
    few_labelled(sharded / "shard-00000", (6, 12), expressions=(3, 4))
    few_labelled(sharded / "shard-00001", (6, 12), expressions=(-1, 2))
    finalize_shards(sharded, name="sharded", generator={"name": "test"})
    with pytest.raises(DataError, match=r"shard-00001/labels.csv: row 1: a.png: no expression; X trains on "
                                        r"expression labels \(rows without one are refused, not read as neutral\)"):
        LabelledFaces(sharded, 16, need_expression=True, what="X")
    assert world_batch(WorldConfig(seed=0, image_size=32), 0, 3).au_mask.all()


def test_masked_label_losses_read_only_labelled_cells():
    """MAUGen's label losses under a mask: x.mean() exactly without one; with one, the mean over labelled cells,
    whatever the unlabelled cells hold."""
    from reference.maugen.modules import focal_bce, focal_mse, focal_mse_tanh

    g = torch.Generator().manual_seed(0)
    logits, pred, target = torch.randn(4, 12, generator=g), torch.rand(4, 12, generator=g), torch.rand(4, 12, generator=g)
    mask = torch.rand(4, 12, generator=g) > 0.4
    for fn in (focal_bce, focal_mse, focal_mse_tanh):
        x = logits if fn is focal_bce else pred
        assert torch.equal(fn(x, target), fn(x, target, mask=None))
        assert torch.allclose(fn(x, target, mask=torch.ones_like(mask)), fn(x, target), rtol=1e-6)
        scrambled = torch.where(mask, target, torch.rand(4, 12, generator=g) * 5)
        assert torch.equal(fn(x, target, mask=mask), fn(x, scrambled, mask=mask))
        one = fn(x[mask][:, None], target[mask][:, None])  # the mean over the labelled cells only
        assert torch.allclose(fn(x, target, mask=mask), one, rtol=1e-6)
