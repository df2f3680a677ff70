"""AUGen-Bench: score generators of AU-labelled synthetic faces on realism, diversity, label alignment and
downstream training value, under versioned protocols.

One package per responsibility, in layers; imports go one way, down. The package map (each package, its layer
and what lives there) is written once, in bench.core.packages.PACKAGES: `augen list packages` prints it,
tests/test_layers.py checks every import against it, and docs/architecture.md shows it, then walks one sample from
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
