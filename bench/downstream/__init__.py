"""Downstream: recognizers trained on a set's claimed labels at several sizes and tested on real data.

  harness      LabelledImages, training, testing, seeds and intervals, the scaling fit, the downstream metric kinds
  kinds        those kinds and the training value in the metric registry: labels, titles, documentation
  recognizers  the networks trained (small CNN for the world, ResNet-18 for photographs), registered in RECOGNIZERS
  realdata     real-data protocols (`kind: real`): AffectNet / RAF-DB / BP4D / DISFA splits from a local root,
               readers in READERS
"""

from bench.downstream import kinds  # noqa: E402,F401  (registers the downstream metrics)
