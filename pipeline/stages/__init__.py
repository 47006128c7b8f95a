"""The pipeline stages as pure orchestration of the core: prepare, train, tune, evaluate, cv, and
the files an evaluation writes."""
