"""LeadScore benchmark suite: ``python -m bench`` runs it and writes docs/benchmarks.md."""
