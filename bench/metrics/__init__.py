"""Metrics as pure functions on arrays (features, labels, group codes): realism, alignment, diversity,
memorization, and bootstrap confidence intervals. Imports nothing from the rest of `bench`."""
