"""``python -m pipeline``: the ``leadscore`` command line."""

from pipeline.cli import main

main()
