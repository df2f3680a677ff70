"""LibreFace judge (`bench.judges.libreface`) on random weights saved in LibreFace 0.1.x's real layout.

    layout      three files at LibreFace's weights_download_dir paths, each `torch.save({'model': state_dict})` of
                its ResNet18 (`encoder.<torchvision child index>`, `classifier.0/2/4`; 129 keys, written out here
                from torchvision's resnet18 definition) load; shapes (B, 17), (B, 17), (B, 8), float32
    network     the judge's outputs equal an independent functional ResNet18 + head written from the key names
                (F.conv2d / F.batch_norm), fed by PIL resize/crop with torchvision's arithmetic written as numbers
    orders      a bias pushed up on one output of each file lights exactly the right column (AU 23 of BP4D, AU 25 of
                DISFA, Contempt); NaN exactly where a file does not cover an AU; ranges [0, 1], [0, 5], rows sum 1
    identity    same files, same id; one changed file, another id
    errors      each missing file named (with its folder); missing key, extra key, wrong shape, bare state dict and
                a non-torch file named with the file; bad image dtype refused
    registry    built by kind, and from a protocol whose `judge:` names it (its sha256 enters the protocol hash)
Not verified: parity with LibreFace's own modules (they need torchvision, which is never installed here) and
accuracy with the real released weights (not downloaded).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from bench.core.errors import DataError, MissingWeights, UsageError
from bench.core.registry import JUDGES
from bench.data.aus import AU_INDEX, AUS, EXPRESSIONS
from bench.judges import build_judge
from bench.judges.libreface import LibreFaceJudge

FILES = {"au_detection": "AU_Detection/weights/resnet.pt", "au_intensity": "AU_Recognition/weights/resnet.pt",
         "expression": "Facial_Expression_Recognition/weights/resnet.pt"}
N_LABELS = {"au_detection": 12, "au_intensity": 12, "expression": 8}
BP4D = [1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24]  # LibreFace AU_Detection solver's `self.aus`
DISFA = [1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26]  # LibreFace AU_Recognition solver's `self.aus`
# LibreFace's expression index -> our EXPRESSIONS name (its idx_to_fe: Neutral, Happiness, Sadness, Surprise, Fear,
# Disgust, Anger, Contempt)
EXPR = ["neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt"]
MEAN, STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])


def libreface_layout(n_labels: int) -> dict[str, tuple[int, ...]]:
    """Keys and shapes of LibreFace's ResNet18 (`encoder` = torchvision resnet18 children[:-1], MLP classifier)."""
    shapes: dict[str, tuple[int, ...]] = {"encoder.0.weight": (64, 3, 7, 7)}

    def bn(prefix: str, c: int):
        for k in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{prefix}.{k}"] = (c,)
        shapes[f"{prefix}.num_batches_tracked"] = ()

    bn("encoder.1", 64)
    cin = 64
    for child, cout in zip((4, 5, 6, 7), (64, 128, 256, 512)):  # layer1-4
        for b in range(2):
            p = f"encoder.{child}.{b}"
            shapes[f"{p}.conv1.weight"] = (cout, cin if b == 0 else cout, 3, 3)
            bn(f"{p}.bn1", cout)
            shapes[f"{p}.conv2.weight"] = (cout, cout, 3, 3)
            bn(f"{p}.bn2", cout)
            if b == 0 and child > 4:
                shapes[f"{p}.downsample.0.weight"] = (cout, cin, 1, 1)
                bn(f"{p}.downsample.1", cout)
        cin = cout
    shapes["classifier.0.weight"], shapes["classifier.0.bias"] = (128, 512), (128,)
    bn("classifier.2", 128)
    shapes["classifier.4.weight"], shapes["classifier.4.bias"] = (n_labels, 128), (n_labels,)
    return shapes


def random_state(n_labels: int) -> dict[str, torch.Tensor]:
    """Random values in the layout, scaled so the sigmoid outputs are not saturated."""
    state = {}
    for k, s in libreface_layout(n_labels).items():
        if k.endswith("num_batches_tracked"):
            state[k] = torch.tensor(7)
        elif k.endswith("running_var"):
            state[k] = torch.rand(s) + 0.5
        elif k.endswith(("running_mean", "bias")):
            state[k] = torch.randn(s) * 0.1
        elif len(s) == 1:  # batch-norm weight
            state[k] = 1 + torch.randn(s) * 0.1
        else:  # conv / linear weight
            state[k] = torch.randn(s) / np.sqrt(np.prod(s[1:]))
    return state


def save(folder, key: str, obj) -> None:
    path = folder / FILES[key]
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()  # may be a hard link into the shared folder
    torch.save(obj, path)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """(folder, {key: state}) with the three files in LibreFace's layout."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("weights_libreface")
    states = {k: random_state(N_LABELS[k]) for k in FILES}
    for k, s in states.items():
        save(folder, k, {"model": s})
    return folder, states


@pytest.fixture(scope="module")
def judge(weights):
    return LibreFaceJudge(str(weights[0]))


def variant(tmp_path, weights, key: str | None = None, obj=None, drop: str | None = None):
    """A copy of the weights folder (hard links) with `key`'s file replaced by `obj`, or the file `drop` left out."""
    base, _ = weights
    for k, rel in FILES.items():
        if k == drop:
            continue
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        os.link(base / rel, tmp_path / rel)
    if key is not None:
        save(tmp_path, key, obj)
    return tmp_path


def faces(n: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth random uint8 images (B, H, W, 3) (upsampled noise, so resizing matters but is not all aliasing)."""
    g = torch.Generator().manual_seed(seed)
    x = F.interpolate(torch.rand(n, 3, 8, 8, generator=g), size=(h, w), mode="bilinear", align_corners=False)
    return (x.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)


def reference_net(s: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """LibreFace's ResNet18 + head, functionally from its key names: (B, 3, 224, 224) -> (B, n) sigmoid scores."""
    def bn(t, p):
        return F.batch_norm(t, s[f"{p}.running_mean"], s[f"{p}.running_var"], s[f"{p}.weight"], s[f"{p}.bias"],
                            False, 0.0, 1e-5)

    x = F.max_pool2d(F.relu(bn(F.conv2d(x, s["encoder.0.weight"], stride=2, padding=3), "encoder.1")), 3, 2, 1)
    for child in (4, 5, 6, 7):
        for b in (0, 1):
            p = f"encoder.{child}.{b}"
            stride = 2 if child > 4 and b == 0 else 1
            y = F.relu(bn(F.conv2d(x, s[f"{p}.conv1.weight"], stride=stride, padding=1), f"{p}.bn1"))
            y = bn(F.conv2d(y, s[f"{p}.conv2.weight"], padding=1), f"{p}.bn2")
            if f"{p}.downsample.0.weight" in s:
                x = bn(F.conv2d(x, s[f"{p}.downsample.0.weight"], stride=stride), f"{p}.downsample.1")
            x = F.relu(y + x)
    h = F.relu(F.linear(x.mean((2, 3)), s["classifier.0.weight"], s["classifier.0.bias"]))
    return torch.sigmoid(F.linear(bn(h, "classifier.2"), s["classifier.4.weight"], s["classifier.4.bias"]))


def to_input(crops: list[np.ndarray]) -> torch.Tensor:
    x = (np.stack(crops).astype(np.float64) / 255.0 - MEAN) / STD
    return torch.from_numpy(x).permute(0, 3, 1, 2).float()


def test_layout_is_torchvision_resnet18_plus_head():
    layout = libreface_layout(12)
    assert len(layout) == 129  # resnet18 without fc: 120 (60 params + 60 BN buffers); head: 9
    assert sum(k.endswith("num_batches_tracked") for k in layout) == 21


def test_readings_shapes_nan_columns_and_ranges(judge):
    assert judge.readings == ("au_prob", "au_intensity", "expression_prob")
    out = judge(faces(3, 512, 512))
    assert set(out) == set(judge.readings)
    assert out["au_prob"].shape == (3, 17) and out["au_intensity"].shape == (3, 17)
    assert out["expression_prob"].shape == (3, 8)
    assert all(v.dtype == np.float32 for v in out.values())
    for reading, covered in (("au_prob", BP4D), ("au_intensity", DISFA)):
        nan_aus = [a for a, col in zip(AUS, out[reading].T) if np.isnan(col).all()]
        assert nan_aus == [a for a in AUS if a not in covered], reading
        assert not np.isnan(out[reading][:, [AU_INDEX[a] for a in covered]]).any()
    p, i = out["au_prob"][:, [AU_INDEX[a] for a in BP4D]], out["au_intensity"][:, [AU_INDEX[a] for a in DISFA]]
    assert ((p >= 0) & (p <= 1)).all() and ((i >= 0) & (i <= 5)).all()
    assert p.std() > 0.01 and i.std() > 0.05  # random weights are not saturated: the comparisons below mean something
    np.testing.assert_allclose(out["expression_prob"].sum(1), 1.0, rtol=1e-5)
    assert out["expression_prob"].min() >= 0


@pytest.mark.parametrize("h, w", [(512, 512), (300, 200), (180, 250)])
def test_outputs_equal_functional_reference(judge, weights, h, w):
    """Whole pipeline against an independent reference: torchvision Resize(256) + CenterCrop(224) written as numbers
    (shorter side 256, longer int(256 * long / short), crop offsets round((size - 224) / 2)), PIL bicubic 224 for the
    expression net, the functional net per file, then LibreFace's post-processing and our column orders."""
    _, states = weights
    images = faces(2, h, w, seed=h)
    sizes = {(512, 512): (256, 256), (300, 200): (256, 384), (180, 250): (355, 256)}  # (W, H) after Resize(256)
    rw, rh = sizes[(h, w)]
    left, top = int(round((rw - 224) / 2)), int(round((rh - 224) / 2))
    au_crops = [np.asarray(Image.fromarray(im).resize((rw, rh), Image.BILINEAR).crop((left, top, left + 224, top + 224)))
                for im in images]
    ex_crops = [np.asarray(Image.fromarray(im).resize((224, 224), Image.BICUBIC)) for im in images]
    with torch.no_grad():
        det = reference_net(states["au_detection"], to_input(au_crops)).numpy()
        inten = (reference_net(states["au_intensity"], to_input(au_crops)) * 5).clamp(0, 5).numpy()
        expr = reference_net(states["expression"], to_input(ex_crops)).numpy()
    out = judge(images)
    np.testing.assert_allclose(out["au_prob"][:, [AU_INDEX[a] for a in BP4D]], det, atol=2e-5)
    np.testing.assert_allclose(out["au_intensity"][:, [AU_INDEX[a] for a in DISFA]], inten, atol=1e-4)
    want = np.zeros((2, 8))
    want[:, [EXPRESSIONS.index(n) for n in EXPR]] = expr / expr.sum(1, keepdims=True)
    np.testing.assert_allclose(out["expression_prob"], want, atol=2e-5)


def test_output_orders_by_pushed_bias(tmp_path, weights):
    """Push one output of each file high (bias +60, others -60): exactly that AU / class column lights up."""
    _, states = weights
    base = tmp_path / "w"
    pushed = {"au_detection": BP4D.index(23), "au_intensity": DISFA.index(25), "expression": 7}  # 7: Contempt
    for key, index in pushed.items():
        s = dict(states[key])
        bias = torch.full((N_LABELS[key],), -60.0)
        bias[index] = 60.0
        s["classifier.4.bias"] = bias
        save(base, key, {"model": s})
    out = LibreFaceJudge(base)(faces(2, 256, 256))
    p, i = out["au_prob"], out["au_intensity"]
    assert np.allclose(p[:, AU_INDEX[23]], 1) and np.allclose(p[:, [AU_INDEX[a] for a in BP4D if a != 23]], 0)
    assert np.allclose(i[:, AU_INDEX[25]], 5) and np.allclose(i[:, [AU_INDEX[a] for a in DISFA if a != 25]], 0)
    assert (out["expression_prob"].argmax(1) == EXPRESSIONS.index("contempt")).all()


def test_id_and_sha_follow_the_files(tmp_path, weights, judge):
    folder, states = weights
    assert judge.id == f"libreface-{judge.sha256[:12]}" and len(judge.sha256) == 64
    assert LibreFaceJudge(folder).id == judge.id
    assert judge.config["au_resize"] == 256 and judge.config["au_crop"] == 224 and judge.device == "cpu"
    s = dict(states["au_intensity"])
    s["classifier.4.bias"] = s["classifier.4.bias"] + 1
    changed = LibreFaceJudge(variant(tmp_path, weights, "au_intensity", {"model": s}))
    assert changed.id != judge.id


@pytest.mark.parametrize("key", list(FILES))
def test_each_missing_file_is_named(tmp_path, weights, key):
    folder = variant(tmp_path, weights, drop=key)
    with pytest.raises(MissingWeights) as e:
        LibreFaceJudge(folder)
    msg = str(e.value)
    assert FILES[key] in msg and str(folder) in msg
    assert all(rel not in msg for k, rel in FILES.items() if k != key)  # only the missing one


def test_missing_folder(tmp_path):
    with pytest.raises(MissingWeights, match="AU_Detection/weights/resnet.pt"):
        LibreFaceJudge(tmp_path / "nope")


@pytest.mark.parametrize("damage, expected", [
    ("missing", "classifier.2.running_var"),
    ("extra", "classifier_2.0.weight"),
    ("shape", r"classifier.4.weight.*\(7, 128\).*\(8, 128\)"),
    ("bare", "'model'"),
    ("garbage", "cannot be read as a torch file"),
])
def test_wrong_layout_names_file_and_key(tmp_path, weights, damage, expected):
    _, states = weights
    s = dict(states["expression"])
    if damage == "missing":
        del s["classifier.2.running_var"]
    elif damage == "extra":
        s["classifier_2.0.weight"] = torch.zeros(128, 512)  # as in LibreFace's combined_resnet.pt
    elif damage == "shape":
        s["classifier.4.weight"] = torch.zeros(7, 128)
    folder = variant(tmp_path, weights, "expression", s if damage == "bare" else {"model": s})
    if damage == "garbage":
        (folder / FILES["expression"]).write_bytes(b"not a torch file")
    with pytest.raises(DataError, match=expected) as e:
        LibreFaceJudge(folder)
    assert FILES["expression"].split("/")[0] in str(e.value)  # the message names the file


def test_inputs_checked_and_empty_batch(judge):
    with pytest.raises(ValueError, match="uint8"):
        judge(np.zeros((1, 64, 64, 3), np.float32))
    with pytest.raises(ValueError, match="uint8"):
        judge(np.zeros((64, 64, 3), np.uint8))
    out = judge(np.zeros((0, 64, 64, 3), np.uint8))
    assert out["au_prob"].shape == (0, 17) and out["expression_prob"].shape == (0, 8)


def test_registered_by_kind(weights, judge):
    entry = JUDGES.entry("libreface")
    assert {"weights", "device"} <= entry.needs
    built = build_judge("libreface", {"folder": str(weights[0])}, device="cpu")
    assert isinstance(built, LibreFaceJudge) and built.id == judge.id
    with pytest.raises(UsageError, match="folder"):
        build_judge("libreface", {})


def test_reachable_from_a_protocol(weights, judge):
    """A protocol naming `judge: {kind: libreface, config: {folder: ...}}` builds this judge; its weights' sha256
    enters the protocol hash."""
    from bench.core.protocol import protocol_hash
    from bench.scoring.protocols import current_hash, load_protocol, with_judge

    base = load_protocol("world-v1")
    proto = with_judge(base, "libreface", {"folder": str(weights[0])})
    assert proto.raw["judge"] == {"kind": "libreface", "config": {"folder": str(weights[0])}}
    built = build_judge(proto.judge.kind, proto.judge.config, train_if_missing=False)
    assert isinstance(built, LibreFaceJudge) and built.sha256 == judge.sha256
    assert current_hash(proto) == protocol_hash(proto, judge.sha256) != protocol_hash(proto, "0" * 64)
