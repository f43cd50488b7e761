"""Experiments that use a trained generator: `python -m legan.experiments.augment`."""
