"""Reference generators (MAUGen, SynFER) built from diffusers/transformers parts.

May import `bench.data` (AU vocabulary, SampleSet) and nothing else of `bench`. Filled by later issues.
"""
