"""Scoring: a SampleSet x a protocol -> the results JSON (bench.core.results).

  protocols     load_protocol (file -> typed Protocol, every name checked against the registries), current_hash
  context       ScoreInputs (judge readings, claimed and requested labels) and Value, what metric functions see
  realism, diversity, alignment, control, memorization
                one module per metric family; each metric declared once with `register_metric`
  downstream    the downstream family of a world protocol (recognizers trained on the set; bench.downstream)
  score         score_sampleset: validate -> judge (cached) -> every listed metric -> results
"""
