"""Downstream: recognizers trained on a set's claimed labels at several sizes and tested on real data.

  harness      LabelledImages, training, testing, seeds and intervals, the scaling fit, the downstream metric kinds
  recognizers  the networks trained (small CNN for the world, ResNet-18 for photographs), registered in RECOGNIZERS
  realdata     real-data protocols (`kind: real`): AffectNet / BP4D splits from a local root, readers in READERS
"""
