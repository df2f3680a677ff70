"""Ctrl-C inside `augen import` at a chosen shard: the importer's `_shard` wrapped to raise KeyboardInterrupt on
its n-th call (the shards before it are written as usual)."""

from __future__ import annotations

from bench.generation import importer


def stop_importer_at(monkeypatch, n: int) -> list:
    """Patch `importer._shard` so that its n-th call raises KeyboardInterrupt; returns the list of jobs started."""
    real_shard, calls = importer._shard, []

    def stopping(job):
        calls.append(job[0])
        if len(calls) == n:
            raise KeyboardInterrupt
        return real_shard(job)

    monkeypatch.setattr(importer, "_shard", stopping)
    return calls
