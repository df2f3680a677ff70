"""Scoring: a SampleSet x a protocol -> the results JSON (bench.core.results).

  protocols     load_protocol (file -> typed Protocol, every name checked against the registries), current_hash
  context       ScoreInputs (judge readings, claimed and requested labels) and Value, what metric functions see
  realism, diversity, alignment, control, memorization
                one module per metric family; each metric declared once with `register_metric`
  downstream    the downstream family of a world protocol (recognizers trained on the set; bench.downstream)
  stages        ScoreOptions, the stage timer, the recipe base, the metric-family loop, AU-tool resolution
  record        the one results builder (generator, sampleset records; protocol hash from typed hash parts)
  score         score(): one entry for every protocol kind; WorldScore, the world recipe
  faces         FacesScore, the photograph recipe (reference set, ceilings, headline from a real protocol)
  realdata      RealScore, the real-data recipe (recognizers on a local dataset)
  samples       the per-sample table of the readings the metrics read
"""
