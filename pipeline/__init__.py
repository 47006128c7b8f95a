"""LeadScore pipeline: data contracts, scorers, evaluation, tracking and batch scoring."""

__version__ = "0.1.0"

# The Python API, imported on first use so that `import pipeline` (every CLI start) stays cheap.
_API = {
    "LeadScoreClassifier": "pipeline.stages.estimator",
    "read_feature_table": "pipeline.stages.estimator",
    "load_package": "pipeline.explain.package",
    "score_dataframe": "pipeline.batch.spark_api",
}
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    """``from pipeline import LeadScoreClassifier`` (and the rest of :data:`_API`), lazily."""
    if name not in _API:
        raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_API[name]), name)
