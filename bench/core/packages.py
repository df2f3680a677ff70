"""The package map: every package of `bench`, its layer and what lives there, written once.

Imports go one way: a module imports from its own package and from packages on lower layers, never up or sideways
(world and metrics share a layer and do not import each other). `tests/test_layers.py` reads the layers from here,
`augen list packages` prints this table and docs/architecture.md shows it as a generated block
(`python -m bench.devtools.packagemap` rewrites it; a test fails when it is stale).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Package:
    name: str  # bench.<name>
    layer: int | None  # imports go to lower layers only; None: apart from the layers (devtools)
    purpose: str  # what lives there, one line


PACKAGES: tuple[Package, ...] = (
    Package("core", 0, "errors, atomic writes, paths, registries, typed protocols and the one hash, the results "
                       "schema, pinned archives, the rule for threads per worker process, this package map"),
    Package("data", 1, "AU vocabulary, the SampleSet format, conditions, dataset and label-file readers, "
                       "hostile-input helpers, video frames, the shipped test photographs and videos"),
    Package("world", 2, "the procedural FACS world: parameters, rendering, conditions, prompts"),
    Package("metrics", 2, "pure metric functions on arrays (realism, diversity, alignment, memorization, face "
                          "yield, statistics)"),
    Package("judges", 3, "networks that read images: the world judge; Inception, DINOv2, CLIP, FairFace; face-api "
                         "in torch and its parity report on the shipped photos; LibreFace; AU tool readings; the "
                         "blendshapes AU reader (MediaPipe); the feature cache"),
    Package("downstream", 4, "recognizers trained on a set's claimed labels: the training harness, its data and "
                             "pixels, the downstream metric kinds, world-v3's tasks, real-dataset splits"),
    Package("generation", 5, "the Generator interface and registry lookups, the controls, the graded faults, "
                             "--option parsing, the importer of photographs and videos"),
    Package("scoring", 6, "protocols loaded and checked, one module per metric family, score orchestration, "
                          "per-image readings, faces protocols"),
    Package("pipeline", 7, "the runner: protocol x generator -> sharded, resumable generation -> judge -> score "
                           "-> results"),
    Package("publish", 8, "submit, leaderboard, significance, task boards, report, paper tables, results as "
                          "pandas, throughput"),
    Package("studies", 9, "studies of the board, each run as `augen study NAME`: meta-evaluation, stability, "
                          "judge independence, ablation, copy rate, interval coverage (block and metric intervals), "
                          "the faces demo, metric sanity on real pixels, video frames, the AU reader's validity"),
    Package("cli", 10, "the `augen` command line, one module per group of commands"),
    Package("devtools", None, "developer tools apart from the layers (it may import anything, nothing imports "
                              "it): envcheck, browsercheck, benchreport, README and doc writers"),
)

#: What `reference/` (the reference generators) may import from bench; it reaches the rest through entry points.
REFERENCE_MAY_IMPORT = ("core", "data", "world")


def layers() -> dict[str, int]:
    """Package name -> layer, for the packages inside the layers."""
    return {p.name: p.layer for p in PACKAGES if p.layer is not None}


def table() -> str:
    """The map as a markdown table, top layer first (the apart packages last)."""
    rows = sorted(PACKAGES, key=lambda p: -1 if p.layer is None else p.layer, reverse=True)
    lines = ["| layer | package | what lives there |", "|---|---|---|"]
    lines += [f"| {'apart' if p.layer is None else p.layer} | `bench.{p.name}` | {p.purpose} |" for p in rows]
    lines.append(f"| - | `reference` | MAUGen, SynFER and their tiny configs: imports only "
                 f"{', '.join(f'`bench.{n}`' for n in REFERENCE_MAY_IMPORT)}; reached through entry points "
                 "(`augen.generators`, `augen.trainers`) |")
    return "\n".join(lines)
