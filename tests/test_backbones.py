"""Pretrained backbones (bench.downstream.backbones) and the ResNets they load into: our ResNet-18 and ResNet-50
against transformers' independent ResNet on the same weights and inputs, torchvision's key layout loading strictly,
`augen weights add` identifying files by sha256, and a training starting from the loaded weights."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import torch
from transformers import ResNetConfig, ResNetModel

from bench.core.errors import DataError, MissingWeights
from bench.core.hashparts import hash_text
from bench.core.pinned import sha256_file
from bench.downstream import backbones as B
from bench.downstream.recognizers import ResNet18, ResNet50

CONFIGS = {  # transformers' configs of torchvision's resnet18 and resnet50 (v1.5: stride on the 3x3)
    "resnet18": dict(hidden_sizes=[64, 128, 256, 512], depths=[2, 2, 2, 2], layer_type="basic"),
    "resnet50": dict(hidden_sizes=[256, 512, 1024, 2048], depths=[3, 4, 6, 3], layer_type="bottleneck",
                     downsample_in_bottleneck=False),
}


def hf_to_torchvision(state: dict) -> dict:
    """transformers' ResNet keys -> torchvision's (written from both definitions)."""
    out = {}
    for k, v in state.items():
        k2 = k.replace("embedder.embedder.convolution", "conv1").replace("embedder.embedder.normalization", "bn1")
        m = re.match(r"encoder\.stages\.(\d+)\.layers\.(\d+)\.(.*)", k2)
        if m:
            i, j, rest = int(m.group(1)), int(m.group(2)), m.group(3)
            rest = re.sub(r"layer\.(\d+)\.convolution", lambda g: f"conv{int(g.group(1)) + 1}", rest)
            rest = re.sub(r"layer\.(\d+)\.normalization", lambda g: f"bn{int(g.group(1)) + 1}", rest)
            rest = rest.replace("shortcut.convolution", "downsample.0").replace("shortcut.normalization",
                                                                                 "downsample.1")
            k2 = f"layer{i + 1}.{j}.{rest}"
        out[k2] = v
    return out


def _hf(arch: str) -> ResNetModel:
    torch.manual_seed(0)
    m = ResNetModel(ResNetConfig(embedding_size=64, downsample_in_first_stage=False, **CONFIGS[arch])).eval()
    g = torch.Generator().manual_seed(1)
    for mod in m.modules():  # batch-norm statistics away from (0, 1), so eval mode tests them too
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.copy_(torch.randn(mod.num_features, generator=g) * 0.1)
            mod.running_var.copy_(torch.rand(mod.num_features, generator=g) + 0.5)
            mod.weight.data.copy_(torch.rand(mod.num_features, generator=g) + 0.5)
            mod.bias.data.copy_(torch.randn(mod.num_features, generator=g) * 0.1)
    return m


@pytest.mark.parametrize("arch,cls", [("resnet18", ResNet18), ("resnet50", ResNet50)])
def test_our_resnets_match_transformers_on_the_same_weights(arch, cls):
    hf = _hf(arch)
    ours = cls().eval()
    state = hf_to_torchvision(hf.state_dict())
    missing, unexpected = ours.load_state_dict(state, strict=False)
    assert unexpected == [] and all(k.startswith("heads.") for k in missing)
    x = torch.rand(2, 3, 96, 96, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        want = hf(x).pooler_output.flatten(1)  # (2, D)
        got = ours.features(x)
    assert got.shape == want.shape == (2, ours.out_dim)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def _torchvision_file(tmp: Path, arch: str = "resnet18") -> tuple[Path, dict]:
    """A file in torchvision's layout (trunk keys + fc) of random weights, and its state."""
    state = hf_to_torchvision(_hf(arch).state_dict())
    dim = 512 if arch == "resnet18" else 2048
    state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    state.update({"fc.weight": torch.randn(1000, dim), "fc.bias": torch.zeros(1000)})
    path = tmp / "download.pth"
    torch.save(state, path)
    return path, state


@pytest.fixture
def known(tmp_path, monkeypatch):
    """A random-weights torchvision-layout file registered as a known backbone (its name carries its sha256
    prefix, as torchvision's names do), with an empty cache."""
    monkeypatch.setenv("AUGEN_CACHE", str(tmp_path / "cache"))
    path, state = _torchvision_file(tmp_path)
    prefix = sha256_file(path)[:8]
    tv = B.BACKBONES["torchvision-resnet18-imagenet1k-v1"]
    monkeypatch.setitem(B.BACKBONES, "test-resnet18", dataclasses.replace(tv, file=f"resnet18-{prefix}.pth",
                                                                           sha256_prefix=prefix))
    return path, state


def test_add_checks_the_hash_and_a_training_starts_from_the_weights(known, tmp_path):
    path, state = known
    with pytest.raises(MissingWeights, match=r"augen weights add PATH/resnet18-\w{8}\.pth"):
        B.backbone_file("test-resnet18")
    name, dst = B.add_backbone(path)
    assert name == "test-resnet18" and dst.parent == B.backbone_dir()
    assert B.backbone_file("test-resnet18") == (dst, sha256_file(path))
    net = ResNet18()
    assert B.load_backbone(net, "test-resnet18") == sha256_file(path) and net.normalize
    assert torch.equal(net.conv1.weight, state["conv1.weight"])
    assert torch.equal(net.layer4[1].bn2.running_var, state["layer4.1.bn2.running_var"])
    x = torch.rand(1, 3, 64, 64)
    net.eval()
    with torch.no_grad():  # normalised with ImageNet's mean and std before the trunk
        want = net.heads(net.features((x - torch.tensor(B.IMAGENET_MEAN).view(1, 3, 1, 1))
                                      / torch.tensor(B.IMAGENET_STD).view(1, 3, 1, 1)))
        got = net(x)
    torch.testing.assert_close(got["expression"], want["expression"])

    other = tmp_path / "other.pth"
    torch.save({"conv1.weight": torch.zeros(1)}, other)
    with pytest.raises(DataError, match="none of the known backbones"):
        B.add_backbone(other)
    with pytest.raises(DataError, match="does not fit ResNet50: size mismatch for layer1.0.conv1.weight"):
        B.load_backbone(ResNet50(), "test-resnet18")
    dst.write_bytes(other.read_bytes())  # replaced in the cache by another file
    with pytest.raises(DataError, match="a different or damaged file"):
        B.backbone_file("test-resnet18")


def test_a_protocol_names_a_backbone_that_fits_its_recognizer(known):
    from bench.core.protocol import DownstreamSettings, section
    from bench.downstream import data as DD
    from bench.downstream import harness as DS
    from bench.downstream import spec
    from tests.test_downstream import FAST_D

    ok = {**FAST_D, "recognizer": "resnet18", "width": 64, "pretrained": "test-resnet18"}
    spec.check_settings(section(DownstreamSettings, ok, Path("p"), "downstream"), "p")
    for bad, msg in (({"pretrained": "imagenet"}, "unknown"), ({"width": 32}, "at width 64, not resnet18 at 32"),
                     ({"recognizer": "resnet50"}, "initialises recognizer resnet18")):
        with pytest.raises(DataError, match=msg):
            spec.check_settings(section(DownstreamSettings, {**ok, **bad}, Path("p"), "downstream"), "p")
    path, state = known
    B.add_backbone(path)
    s = section(DownstreamSettings, {**ok, "steps": 1, "input_size": 32, "batch_size": 4}, Path("p"), "downstream")
    data = DD.from_world({"seed": 0, "image_size": 64}, "train", 8, 32)
    net = DS.train(data, s, seed=0)  # one step from the loaded weights: close to them, not equal
    assert net.normalize and not torch.equal(net.conv1.weight, state["conv1.weight"])
    assert (net.conv1.weight - state["conv1.weight"]).abs().max() < 0.01


EVOLVE_IRSE = "models/cv/image_face_fusion/network/model_irse.py"  # face.evoLVe's model_irse.py, as modelscope ships it
EVOLVE_SHA = "4f0ac0d014ee9ddec5d6b1eb8f2e856c5b12815350a2ee6a50dfd2e0a96aa4b2"


def _evolve_module():
    """face.evoLVe's IR-50 code from the pinned modelscope wheel (installed without dependencies by tox; loaded as
    one file, the package itself is never imported)."""
    import importlib.util

    spec = importlib.util.find_spec("modelscope")
    assert spec is not None, "modelscope (pinned in constraints.txt) is installed by tox's commands_pre"
    path = Path(spec.origin).parent / EVOLVE_IRSE
    assert sha256_file(path) == EVOLVE_SHA  # the reference read when this test was written
    mod_spec = importlib.util.spec_from_file_location("evolve_model_irse", path)
    mod = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(mod)
    return mod


def test_ir50_matches_face_evolve_on_the_same_weights():
    from bench.downstream.recognizers import IR50

    torch.manual_seed(0)
    ref = _evolve_module().IR_50([112, 112]).eval()
    g = torch.Generator().manual_seed(1)
    for mod in ref.modules():  # batch-norm statistics and PReLU slopes away from their initial values
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.copy_(torch.randn(mod.num_features, generator=g) * 0.1)
            mod.running_var.copy_(torch.rand(mod.num_features, generator=g) + 0.5)
        if isinstance(mod, torch.nn.PReLU):
            mod.weight.data.copy_(torch.rand(mod.weight.shape, generator=g) * 0.5)
    ours = IR50().eval()
    state = {k: v for k, v in ref.state_dict().items() if not k.startswith("output_layer.")}
    missing, unexpected = ours.load_state_dict(state, strict=False)
    assert unexpected == [] and all(k.startswith("heads.") for k in missing)
    x = torch.rand(2, 3, 112, 112, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        _, conv_out = ref(x)  # (2, 512 * 7 * 7): the body's output, flattened
        got = ours.feature_map(x)
    assert got.shape == (2, 512, 7, 7)
    torch.testing.assert_close(got.flatten(1), conv_out, rtol=1e-4, atol=1e-5)


def test_ir50_file_is_identified_by_name_and_its_embedding_layer_dropped(tmp_path, monkeypatch):
    from bench.downstream.recognizers import IR50

    monkeypatch.setenv("AUGEN_CACHE", str(tmp_path / "cache"))
    torch.manual_seed(0)
    ref = _evolve_module().IR_50([112, 112])
    path = tmp_path / "backbone_ir50_ms1m_epoch120.pth"
    torch.save(ref.state_dict(), path)
    assert B.add_backbone(path)[0] == "face-evolve-ir50-ms1m"
    net = IR50()
    assert B.load_backbone(net, "face-evolve-ir50-ms1m") == sha256_file(path)
    assert net.normalize and torch.equal(net.mean.flatten(), torch.full((3,), 0.5))
    assert torch.equal(net.body[23].res_layer[3].weight, ref.body[23].res_layer[3].weight)
    renamed = tmp_path / "ir50.pth"  # no published hash: the published name is what identifies it
    renamed.write_bytes(path.read_bytes())
    with pytest.raises(DataError, match="none of the known backbones"):
        B.add_backbone(renamed)


def test_the_backbone_file_enters_a_real_protocols_hash(known, tmp_path):
    from bench.downstream import realdata
    from bench.scoring.protocols import current_hash, load_protocol
    from tests.helpers.realdata import affectnet_folder, tiny_real_protocol

    root = affectnet_folder(tmp_path / "affectnet", n_train=20, per_class=1)
    plain = load_protocol(tiny_real_protocol(tmp_path, "affectnet-v1"))
    tuned = load_protocol(tiny_real_protocol(tmp_path, "affectnet-v2", pretrained="test-resnet18", width=64,
                                                      epochs=None))
    path, _ = known
    with pytest.raises(MissingWeights):  # no hash without the file it names
        current_hash(tuned, root)
    B.add_backbone(path)
    text = hash_text(realdata.hash_parts(tuned, root))
    assert text == hash_text(realdata.hash_parts(plain, root)) + "|backbone:" + sha256_file(path)
    assert current_hash(tuned, root) != current_hash(dataclasses.replace(
        tuned, downstream=dataclasses.replace(tuned.downstream, pretrained=None)), root)
