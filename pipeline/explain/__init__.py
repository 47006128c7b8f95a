"""From a scorer to what a person reads: factor points, reasons, grades, and the scoring package
that carries features, scorer and cut points together."""
