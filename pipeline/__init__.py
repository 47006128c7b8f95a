"""LeadScore pipeline: data contracts, scorers, evaluation, tracking and batch scoring."""

__version__ = "0.1.0"


def __getattr__(name: str):
    # Lazy: `import pipeline` (and the CLI's start-up) stays free of Spark and pandas.
    if name == "score_dataframe":
        from pipeline.batch.spark_api import score_dataframe

        return score_dataframe
    raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
