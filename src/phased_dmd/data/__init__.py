"""Embedded-scale data that ships offline: Fashion-MNIST from Debian's `dataset-fashion-mnist`."""
