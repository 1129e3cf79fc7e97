"""Job entry points: one module per kind of job the workflow runs (python -m phased_dmd.jobs.<name>), with the
settings each reads, and params.yaml's schema."""
