"""The edges to MLflow: tracking runs, the registry with its promotion gate, pyfunc serving."""
