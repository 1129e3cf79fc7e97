"""Phased DMD: few-step distribution matching distillation via score matching within subintervals.

Reference reproduction of arXiv 2510.27684. The modules are named after what they compute:

- `schedule`: rectified-flow noise schedule, timestep shift, transitions between noise levels.
- `grids`: few-step timestep grids, phases and the routing of steps to phase experts.
- `critic`: fake-score (critic) targets and losses, full interval and within subintervals.
- `guidance`: classifier-free guidance forms.
- `dmd`: the distribution-matching generator loss.
- `rollout`: few-step generator rollouts and stochastic gradient truncation (SGTS).
- `mixture`: Gaussian mixtures with exact scores, the closed-form ground truth for tests and toys.
"""
