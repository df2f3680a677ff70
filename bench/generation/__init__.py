"""Generation: the Generator interface and what runs generators.

  base      Generator protocol, registry lookups (get_generator checks options), SampleSetGenerator, write_generated
  controls  real, shuffled, collapsed, noise: the generators that bound every metric on the world
  options   --option KEY=VALUE parsing
  runner    protocol x generator -> sharded, resumable generation -> judge -> score -> results.json
"""
