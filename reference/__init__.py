"""Reference generators (MAUGen, SynFER) built from diffusers/transformers parts.

`reference.common` holds the parts both share (the world tokenizer, tiny component configs, the tiny
autoencoder and its trainer, resumable training loops); `reference.maugen` and `reference.synfer` hold one
pipeline each. May import `bench.core` (errors, atomic writes, paths, registries), `bench.data` (AU vocabulary,
SampleSet, Conditions) and `bench.world` (training data) only (tests/test_layers.py); the harness reaches these
generators and trainers through the `augen.generators` and `augen.trainers` entry points.
"""
