"""The paper's maths: schedule, step grids and phases, the critic objectives, the DMD update, rollouts, guidance."""
