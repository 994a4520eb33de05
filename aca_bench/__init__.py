"""aca-bench: a benchmark of learning algorithms against algorithmic collective action.

Installed, the project is one namespace: `aca_bench.benchmark` (suites, planning, the engine, the store,
aggregation, the CLI), `aca_bench.tasks`, `aca_bench.algorithms` and `aca_bench.leaderboard`. In the
repository these are the top-level folders benchmark/, tasks/, algorithms/ and leaderboard/, mapped
into this package by the build (`package-dir` in pyproject.toml). Plugin authors import from
`aca_bench.api`.
"""

from pathlib import Path

__version__ = "0.1.0"

# Run from a source checkout on PYTHONPATH (no install, or an install of another checkout), the
# subpackages are this checkout's folders beside this one, so `aca_bench.benchmark` is its benchmark/.
_CHECKOUT = Path(__file__).resolve().parent.parent
if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "benchmark" / "__init__.py").is_file():
    __path__.append(str(_CHECKOUT))
