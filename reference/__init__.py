"""Reference generators (MAUGen, SynFER) built from diffusers/transformers parts.

`reference.common` holds the parts both share (the world tokenizer, tiny component configs, the tiny
autoencoder and its trainer, resumable training loops); `reference.maugen` and `reference.synfer` hold one
pipeline each. May import `bench.data` (AU vocabulary, SampleSet) and `bench.world` (training data);
nothing here imports the scoring harness.
"""
