"""Generation: the Generator interface, the controls and faults, the photograph importer.

  base      Generator protocol, registry lookups (get_generator checks options), SampleSetGenerator, write_generated
  controls  real, shuffled, collapsed, noise: the generators that bound every metric on the world
  options   --option KEY=VALUE parsing
  faults    the graded faults of the meta-evaluation
  photofaults  graded faults on a set of real face crops (the metric sanity check on real pixels)
  importer  `augen import`: photographs + claimed labels -> an aligned SampleSet

The runner (generate -> judge -> score) is bench.pipeline, above scoring: nothing here scores.
"""
