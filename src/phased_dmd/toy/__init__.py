"""Toy experiments with analytic (Gaussian-mixture) teachers: Fig. 2 and the 2-D distillation check."""
