"""The training engine: the distillation loop, checkpoints and resume, data parallelism, EMA, devices."""
