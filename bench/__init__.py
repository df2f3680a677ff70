"""AUGen-Bench: score generators of AU-labelled synthetic faces on realism, diversity, label alignment and
downstream training value, under versioned protocols.

Packages, top to bottom; a module imports only from its own layer's earlier packages or from layers below
(tests/test_layers.py fails on anything else, at module level or inside functions):

  cli          the `augen` command line
  publish      submit, leaderboard, report, paper tables
  generation   generators (interface, controls, runner)        (generation -> scoring -> downstream)
  scoring      protocols loaded and checked, one module per metric family, score orchestration
  downstream   recognizer training harness, real-data splits, recognizers
  judges       networks that read images (world judge; Inception, DINOv2, CLIP, FairFace; AU tool readings)
  world | metrics   the procedural FACS world | pure metric functions on arrays
  data         AU vocabulary, SampleSet format, conditions, dataset readers, hostile-input helpers
  core         errors, atomic writes, paths, registries, typed protocols and the one hash, the results schema

devtools sits apart (it may import anything; nothing imports it). docs/architecture.md walks one sample from
condition to leaderboard and says how to add a generator, a judge, a metric or a protocol.

`bench.results_frame(paths_or_folder)` and `bench.samples_frame(results_json)` (pandas, imported on first use)
read results as DataFrames (docs/results.md).
"""

__version__ = "0.1.0"

#: Imported on first use (`bench.results_frame(...)`), so `import bench` stays light (no pandas).
_LAZY = {"results_frame": "bench.publish.frame", "samples_frame": "bench.publish.frame"}
__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'bench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
