"""LeadScore pipeline: data contracts, scorers, evaluation, tracking and batch scoring."""

__version__ = "0.1.0"
