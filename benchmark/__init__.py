"""aca-bench engine: suites, planning, stacked training, metrics, results store and CLI."""

__version__ = "0.1.0"
