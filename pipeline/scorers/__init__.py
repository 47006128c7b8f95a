"""Scorers on one contract (additive raw value -> calibrated probability -> 0-100 score) and the
kinds table every other layer iterates instead of naming a scorer."""
