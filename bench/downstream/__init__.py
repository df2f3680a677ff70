"""Downstream: recognizers trained on a set's claimed labels at several sizes and tested on real data.

  spec         what a protocol's downstream and data sections name and produce (harness version, metric names,
               task kinds) and their checks: no torch, so loading a protocol never imports the harness
  harness      LabelledImages, training, testing, seeds and intervals, the scaling fit, the downstream metric kinds
  kinds        those kinds and the training value in the metric registry: labels, titles, documentation
  tasks        world-v3's verdicts per task: task values per replicate block, real-image equivalents, paired tests
  recognizers  the networks trained (small CNN for the world, ResNet-18 for photographs)
  realdata     real-data protocols (`kind: real`): AffectNet / RAF-DB / BP4D / DISFA splits from a local root

The recognizers and the dataset readers a protocol can name are registered here, as "module:attr" (loaded only when
used, as the judges are in bench.judges), so the protocol loader checks their names without importing torch.
"""

from bench.core.registry import READERS, RECOGNIZERS

RECOGNIZERS.add("small-cnn", "bench.downstream.recognizers:SmallCNN")
RECOGNIZERS.add("resnet18", "bench.downstream.recognizers:ResNet18")
RECOGNIZERS.add("resnet50", "bench.downstream.recognizers:ResNet50")
RECOGNIZERS.add("ir50", "bench.downstream.recognizers:IR50")

READERS.add("affectnet", "bench.downstream.realdata:affectnet_rows")
READERS.add("rafdb", "bench.downstream.realdata:rafdb_rows")
READERS.add("bp4d", "bench.downstream.realdata:bp4d_rows")
READERS.add("disfa", "bench.downstream.realdata:disfa_rows")

from bench.downstream import kinds  # noqa: E402,F401  (registers the downstream metrics)
