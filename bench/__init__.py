"""AUGen-Bench harness: the embedded FACS world, data formats, judges, metrics, scoring and controls.

Subpackages and modules, and what they may import:
  bench.data        AU vocabulary, SampleSet format, real-dataset readers; imports nothing else of the project
  bench.world       the procedural FACS world; imports only bench.data
  bench.metrics     pure functions on arrays; imports nothing else of the project
  bench.judges      networks that read images (world judge, FID Inception, DINOv2/CLIP, FairFace, AU tools)
  bench.generators  the Generator interface and registry; bench.controls the four bounding controls
  bench.protocols, bench.score, bench.results   protocol files, `augen score`, the results schema
"""

__version__ = "0.1.0"
