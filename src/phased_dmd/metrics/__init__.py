"""Metrics: the embedded feature network and the measures built on it."""
