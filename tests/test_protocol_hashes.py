"""Every filed protocol keeps its hash: descriptions are prose outside the hash (docs/architecture.md, "A protocol"),
and the protocols filed before that carry their old text verbatim as `hashed_description`. Loading a protocol checks
names without importing the downstream harness."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bench.core.protocol import protocol_hash
from bench.scoring.protocols import current_hash, known_protocols, load_protocol

ROOT = Path(__file__).resolve().parent.parent

#: protocol_hash(load_protocol(id)) with nothing added (no judge weights, no label files): the settings part of
#: every shipped protocol's hash, as computed before descriptions left the hash (commit 898de8a)
SETTINGS_HASHES = {
    "affectnet-v1": "2ffff732e68a462897e05c00c43f7543b6c5d59d267751ef576067d8cf6bd8eb",
    "affectnet-v2": "e8423b7594f760ed7ea1a859db38751eb8782e9104877138041e5a11c2dd14c3",
    "bp4d-v1": "ac346802168062d61c03d3c4c760b086d2b87bacf3920d963acc4e49027a234e",
    "disfa-v1": "939050177892629bc3cb4001fc8023a87e9bb27cf013da8a80cf651663b415ec",
    # faces-demo and faces-v1 changed settings on purpose (AU readings on photographs: the blendshapes au_reader, its
    # AU subset, au_gate, au_kappa_gate and au_auc listed); no results were filed under either, so nothing goes stale
    "faces-demo": "0b80d9b81632a145707b79e07e9d3dfe01d2a8bc5fa247c17c9cbeeb4195b4e3",
    "faces-v1": "67e9133dd9ae525c964b01d235258abd13d2f2c65b2828f2b7b1a9e5e674751d",
    "rafdb-v1": "97e07492cc4aecd99d70b7119b05fbf91b1259f5d504f523d0dd95fb5498413c",
    "world-v1": "b4cc831bd182655e0d22f68ec114fd8930ebe46843377e7c6929d75bae2d8ca7",
    "world-v2": "a860d2be1caffc6e6c95bfc3e069db6a7c3c5b1674669314fd3d19b0152d222d",
    "world-v3": "7c7670ecfbcff767e9fe0d8a15a09ff9e5dd55662fbcf768948e9aefc34a57d5",
}
#: the hashes results are filed under (with the world judge's weights): world-v1 ef157b584d44, world-v2 fb5d779a5032,
#: world-v3 706e9b895232, their stability re-runs; read from the filed files below, not copied here


@pytest.mark.parametrize("pid", sorted(SETTINGS_HASHES))
def test_the_settings_hash_of_every_shipped_protocol_is_pinned(pid):
    assert protocol_hash(load_protocol(pid)) == SETTINGS_HASHES[pid]


def test_every_protocol_with_a_hashed_description_is_pinned():
    frozen = {p for p in known_protocols() if load_protocol(p).hashed_description is not None}
    assert frozen <= set(SETTINGS_HASHES) <= set(known_protocols())


def test_a_description_is_prose_outside_the_hash():
    proto = load_protocol("world-v3")
    reworded = dataclasses.replace(proto, raw={**proto.raw, "description": "other words"})
    assert protocol_hash(reworded) == protocol_hash(proto)
    refrozen = dataclasses.replace(proto, raw={**proto.raw, "hashed_description": "other words"})
    assert protocol_hash(refrozen) != protocol_hash(proto)
    new = {k: v for k, v in proto.raw.items() if k != "hashed_description"}  # a protocol filed after the change
    assert protocol_hash(dataclasses.replace(proto, raw=new)) == protocol_hash(
        dataclasses.replace(proto, raw={**new, "description": "other words"}))


def filed(folder: Path) -> set[str]:
    return {json.loads(p.read_text())["protocol"]["hash"] for p in folder.glob("*.json")}


@pytest.mark.parametrize("pid", ["world-v1", "world-v2", "world-v3"])
def test_the_filed_boards_keep_their_hash(pid):
    assert filed(ROOT / "leaderboards" / "results" / pid) == {current_hash(load_protocol(pid))}


@pytest.mark.parametrize("pid", ["world-v2", "world-v3"])
@pytest.mark.parametrize("axis", ["conditions", "seed"])
def test_the_filed_stability_reruns_keep_their_hash(tmp_path, pid, axis):
    from bench.studies.stability import axis_protocol

    path = tmp_path / f"{pid}-{axis}.yaml"
    path.write_text(yaml.safe_dump(axis_protocol(load_protocol(pid), axis), sort_keys=False))
    assert filed(ROOT / "reports" / "results" / pid / "stability" / axis) == {current_hash(load_protocol(path))}


def test_loading_a_protocol_imports_no_harness():
    """Importing the loader imports no torch; loading every protocol imports none of the downstream modules that
    train (a world protocol's judge class is loaded for the readings it gives, and with it torch)."""
    heavy = ["bench.downstream.harness", "bench.downstream.tasks", "bench.downstream.realdata",
             "bench.downstream.recognizers"]
    code = ("import sys\nfrom bench.scoring.protocols import known_protocols, load_protocol\n"
            "print('torch' in sys.modules)\n"
            "for p in known_protocols():\n    load_protocol(p)\n"
            f"print([m for m in {heavy!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["False", "[]"], out.stdout
