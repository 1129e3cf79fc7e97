"""Report writers: each turns run results into reports/<name>.md, a JSON twin and PNGs."""
