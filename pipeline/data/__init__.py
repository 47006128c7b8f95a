"""Inputs: typed config, input contracts, file I/O and artifact paths, the training set (as_of,
labels, splits), and the user-facing errors every layer raises."""
