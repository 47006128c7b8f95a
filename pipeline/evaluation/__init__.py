"""Judging scores: metrics with intervals, the leakage audit, drift, plots, and the HTML report."""
