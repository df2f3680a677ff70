"""AUGen-Bench harness: the embedded FACS world, data formats, judges, metrics, runner and leaderboard.

Subpackages and what they may import:
  bench.data     AU vocabulary, SampleSet format, real-dataset readers; imports nothing else of the project
  bench.world    the procedural FACS world; imports only bench.data
"""

__version__ = "0.1.0"
