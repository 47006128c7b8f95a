"""Batch scoring of any size: the local engine (bounded memory, atomic, resumable) and Spark."""
