"""Judges: networks that read images (feature extractors, AU detectors, demographic and expression
classifiers). World judges are trained by our own code; real-data judges load local weights only."""
