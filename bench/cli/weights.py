"""`augen weights fetch NAME`: the one command that downloads (pinned packages, checked hashes) into the cache."""

from __future__ import annotations

from pathlib import Path


def _fetch_faceapi() -> Path:
    from bench.judges.faceapi.fetch import fetch_faceapi

    return fetch_faceapi()


FETCHERS = {"face-api": _fetch_faceapi}  # name -> function that installs (or verifies) and returns the folder


def cmd_weights_fetch(args) -> int:
    folder = FETCHERS[args.name]()
    print(f"{args.name}: verified in {folder}")
    return 0


def add_commands(sub) -> None:
    weights = sub.add_parser("weights", help="fetch pinned real-data weights into the cache (the one download)")
    wsub = weights.add_subparsers(dest="weights_command", required=True)
    fetch = wsub.add_parser("fetch", help="fetch and verify weights: face-api (npm @vladmandic/face-api, needs npm)")
    fetch.add_argument("name", choices=sorted(FETCHERS))
    fetch.set_defaults(func=cmd_weights_fetch)
