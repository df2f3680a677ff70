"""Reference-generator reports: the VAE ceiling against known values, and the tables."""

from __future__ import annotations

import json
from types import SimpleNamespace

import torch

from bench.publish.refreport import ABLATION_COLUMNS, main, results_table, vae_ceiling


class IdentityVAE:
    """encode/decode that return their input: reconstructions are the originals."""

    def encode(self, x):
        return SimpleNamespace(latent_dist=SimpleNamespace(mean=x))

    def decode(self, z):
        return SimpleNamespace(sample=z)


class GreyVAE(IdentityVAE):
    def decode(self, z):
        return SimpleNamespace(sample=torch.zeros_like(z))


def test_vae_ceiling_known_values():
    same = vae_ceiling(IdentityVAE(), n=128)
    assert same["psnr_db"] == 100.0 and same["au_f1_reconstructed"] == same["au_f1_original"] > 0.8
    grey = vae_ceiling(GreyVAE(), n=128)
    assert grey["psnr_db"] < 15 and grey["au_f1_reconstructed"] < 0.5 * grey["au_f1_original"]


def _res(v):
    return {"metrics": {"fd_world": {"value": v}, "au_f1": {"value": float("nan"), "per_au": {"AU01": 0.5}},
                        "au_f1_condition": {"value": 0.25, "per_au": {"AU01": 0.25, "AU02": None}}}}


def test_tables_and_report(tmp_path):
    t = results_table({"a": _res(1.0), "b": _res(2.5)})
    assert "| a | 1.000 |" in t and "| b | 2.500 |" in t and "n/a" in t
    for k in ("a", "b"):
        (tmp_path / f"{k}.json").write_text(json.dumps(_res(1.0)))
    assert main([str(tmp_path / "r.md"), f"a={tmp_path / 'a.json'}", f"b={tmp_path / 'b.json'}", "--title", "T"]) == 0
    text = (tmp_path / "r.md").read_text()
    assert text.startswith("# T") and "| AU01 | 0.250 | 0.250 |" in text and "| AU02 | n/a | n/a |" in text


def test_ablation_table_shows_intervals_and_relabelled_share():
    a = {"generator": {"stats": {"n": 200, "relabelled": 30}},
         "metrics": {"expression_accuracy_condition": {"value": 0.5, "ci95": [0.4, 0.6]},
                     "fd_world": {"value": 10.0, "ci95": [None, None]}}}
    b = {"generator": {}, "metrics": {"expression_accuracy_condition": {"value": 0.25, "ci95": None}}}
    t = results_table({"a": a, "b": b}, ABLATION_COLUMNS, ci=True)
    assert t.splitlines()[0].endswith("| relabelled |")
    assert "| a | 0.500 [0.400, 0.600] | n/a | n/a | n/a | 10.000 | n/a | 15.0% |" in t
    assert "| b | 0.250 | n/a | n/a | n/a | n/a | n/a | n/a |" in t
    assert "relabelled" not in results_table({"b": b}, ABLATION_COLUMNS, ci=True)
