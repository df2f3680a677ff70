"""Benchmarks run by `tox -e bench`: each records images processed and the baseline it is compared with."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
