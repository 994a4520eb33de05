"""Canonical JSON of configurations: the torch-free basis of run ids and configuration ids.

Kept apart from `aca_bench.benchmark.plan` (which imports the registries and so torch) so that aggregation and
the leaderboard site can name configurations without loading any training code.
"""

import json
from typing import Any


def canonical(obj: Any) -> str:
    """Canonical JSON: sorted keys, no whitespace; the basis of run ids."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))
