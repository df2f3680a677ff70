"""Pixel files (bench.downstream.pixels): what is read equals what was written, views and joins, the cache, a
failed decode leaves nothing, a trained recognizer is the same from a file as from memory, and a real split decodes
again when an image changes."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.downstream import data as DD
from bench.downstream import harness as DS
from bench.downstream.pixels import PixelConcat, PixelFile, concat, head, store
from tests.test_downstream import FAST_D, WORLD, ds


def _pixels(n: int, size: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 256, (n, 3, size, size), dtype=np.uint8))


def _stored(x: torch.Tensor, where: Path, key: str = "k", chunk: int = 7) -> PixelFile:
    f, _ = store(key, len(x), x.shape[-1], lambda start: iter(x[start:].split(chunk)), where)
    return f


def test_a_pixel_file_reads_what_was_written(tmp_path):
    x = _pixels(50)
    f, sha = store("k", 50, 8, lambda start: iter(x[start:].split(7)), tmp_path)
    import hashlib

    assert sha == hashlib.sha256(x.numpy().tobytes()).hexdigest()  # the bytes in row order
    idx = torch.tensor([49, 3, 3, 0, 17])
    assert torch.equal(f[idx], x[idx]) and torch.equal(f[10:20], x[10:20]) and torch.equal(f[:], x)
    h = f.head(20)
    assert len(h) == 20 and torch.equal(h[torch.tensor([19, 0])], x[torch.tensor([19, 0])])
    with pytest.raises(IndexError):
        h[torch.tensor([20])]
    g = pickle.loads(pickle.dumps(h))  # what a spawned training process receives: the path, not the pixels
    assert len(pickle.dumps(h)) < 500 and torch.equal(g[:], x[:20])


def test_concat_and_head_are_views_in_row_order(tmp_path):
    a, b = _pixels(30, seed=1), _pixels(25, seed=2)
    fa, fb = _stored(a, tmp_path, "a"), _stored(b, tmp_path, "b")
    both, want = concat(fa, head(fb, 20)), torch.cat([a, b[:20]])
    assert isinstance(both, PixelConcat) and len(both) == 50
    idx = torch.tensor([0, 29, 30, 49, 5, 31])
    assert torch.equal(both[idx], want[idx]) and torch.equal(both[:], want)
    assert torch.equal(both.head(35)[:], want[:35])
    assert torch.equal(concat(a, b), torch.cat([a, b]))  # two tensors: an ordinary cat
    assert torch.equal(concat(both, b[:5])[:], torch.cat([want, b[:5]]))  # a file join plus memory
    with pytest.raises(IndexError):
        both[torch.tensor([50])]


def test_the_cache_is_reused_and_a_failed_decode_leaves_nothing(tmp_path):
    x = _pixels(20)
    _stored(x, tmp_path)
    calls = []
    f, _ = store("k", 20, 8, lambda start: calls.append(1) or iter([]), tmp_path)  # cached: not decoded again
    assert not calls and torch.equal(f[:], x)

    def broken(start):
        yield x[:5]
        raise ValueError("image 6 is corrupt")

    with pytest.raises(ValueError, match="corrupt"):
        store("other", 20, 8, broken, tmp_path)
    assert not [p.name for p in tmp_path.iterdir() if ".partial" in p.name]  # a bad input: nothing half-written
    assert len(list(tmp_path.glob("*.u8"))) == 1
    with pytest.raises(ValueError, match="12 rows decoded"):
        store("short", 20, 8, lambda start: iter([x[:12]]), tmp_path)
    os.truncate(f.path, 100)  # a damaged cache file is not trusted: decoded again
    assert torch.equal(_stored(x, tmp_path)[:], x)


def test_a_killed_decode_resumes_where_it_stopped_with_the_same_file(tmp_path):
    x = _pixels(40)
    clean, sha = store("clean", 40, 8, lambda start: iter(x[start:].split(6)), tmp_path / "a")
    starts = []

    def killed(start):
        starts.append(start)
        yield from x[start:start + 12].split(6)  # two chunks on disk, then the process dies
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store("k", 40, 8, killed, tmp_path / "b")
    part = next((tmp_path / "b").glob("*.partial"))
    with open(part, "ab") as f:  # half a row written after the last record: cut off on resume
        f.write(b"x" * 100)

    def rest(start):
        starts.append(start)
        return iter(x[start:].split(6))

    f, sha2 = store("k", 40, 8, rest, tmp_path / "b")
    assert starts == [0, 12] and sha2 == sha and torch.equal(f[:], x)
    assert not list((tmp_path / "b").glob("*.partial*"))


def test_training_from_a_pixel_file_equals_training_from_memory(tmp_path):
    s = ds({**FAST_D, "steps": 30})
    mem = DD.from_world(WORLD, "train", 150, 32)
    mem.x = mem.x.contiguous()  # resizing leaves channels-last strides (other conv kernels); files read NCHW rows
    disk = DD.LabelledImages(_stored(mem.x, tmp_path, chunk=64), mem.aus, mem.expression, mem.key)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the harness trains
    try:
        a, b = DS.train(mem, s, seed=0), DS.train(disk, s, seed=0)
    finally:
        torch.set_num_threads(threads)
    for (k, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), k
    test = DD.from_world(WORLD, "test", 64, 32)
    test.x = test.x.contiguous()
    assert DS.predict(a, test.x)["expression"].tolist() == DS.predict(b, _stored(test.x, tmp_path, "t"))[
        "expression"].tolist()


def test_a_real_split_is_decoded_once_and_again_when_an_image_changes(tmp_path, monkeypatch):
    from PIL import Image

    from bench.downstream import realdata
    from bench.scoring.protocols import load_protocol
    from tests.helpers.realdata import affectnet_folder, tiny_real_protocol

    monkeypatch.setenv("AUGEN_CACHE", str(tmp_path / "cache"))
    root = affectnet_folder(tmp_path / "affectnet", n_train=40, per_class=2)
    p = load_protocol(tiny_real_protocol(tmp_path, "affectnet-v1", test={"per_class": 2}))
    first = realdata.load_split(p.data, p.downstream, root, "test")
    assert isinstance(first.x, PixelFile) and len(first) == 16
    with monkeypatch.context() as m:  # cached: no image is opened again
        m.setattr(realdata, "load_dataset_image", lambda *a: pytest.fail("decoded again"), raising=False)
        import bench.data.datasets as datasets

        m.setattr(datasets, "load_dataset_image", lambda *a: pytest.fail("decoded again"))
        again = realdata.load_split(p.data, p.downstream, root, "test")
    assert again.key == first.key and torch.equal(again.x[:], first.x[:])
    rel = realdata.split_rows(p.data, p.downstream, root, "test")[0][0].file
    Image.new("RGB", (84, 76), (10, 200, 30)).save(root / "Manually_Annotated_Images" / rel, quality=95)
    changed = realdata.load_split(p.data, p.downstream, root, "test")
    assert changed.key != first.key and not torch.equal(changed.x[:1], first.x[:1])
    assert torch.equal(changed.x[1:], first.x[1:])


def test_two_decodes_of_the_same_split_take_turns(tmp_path):
    import threading
    import time

    x = _pixels(30)
    calls, got = [], []

    def slow(start):
        calls.append(start)
        for c in x[start:].split(10):
            time.sleep(0.05)
            yield c

    def one():
        got.append(store("k", 30, 8, slow, tmp_path))

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [0] and got[0][1] == got[1][1]  # one decoded, the other read the finished file
    assert torch.equal(got[1][0][:], x)
