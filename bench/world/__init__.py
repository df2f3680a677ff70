"""The embedded FACS world: procedural faces whose AU, expression and demographic truth is exact.

params (identities, expressions -> AUs, nuisance; splits) -> geometry (where every part is, per AU)
-> render (vectorized pixels) ; prompts (AU vector -> text) ; make (SampleSets, contact sheets).
Imports only `bench.data`.
"""

from bench.world.params import FaceParams, WorldConfig, sample_params
from bench.world.render import render

__all__ = ["FaceParams", "WorldConfig", "sample_params", "render"]
