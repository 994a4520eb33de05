"""Canonical JSON of configurations: the torch-free basis of run ids and configuration ids.

Kept apart from `aca_bench.benchmark.plan` (which imports the registries and so torch) so that aggregation and
the leaderboard site can name configurations without loading any training code.
"""

import json
from collections.abc import Hashable, Iterable, Mapping
from typing import Any, TypeVar

K = TypeVar("K", bound=Hashable)


def canonical(obj: Any) -> str:
    """Canonical JSON: sorted keys, no whitespace; the basis of run ids."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def differing_keys(
    mappings: Iterable[tuple[K, Mapping[str, Any]]], absent_is_a_value: bool = False
) -> dict[K, set[str]]:
    """Per group, the names whose values differ between the group's mappings (compared as canonical
    JSON): the hyperparameters or task parameters that tell a group's configurations apart. With
    `absent_is_a_value` a name some mappings lack counts as the value None there."""
    items = list(mappings)
    seen: dict[K, dict[str, set[str]]] = {}
    for group, values in items:
        per = seen.setdefault(group, {})
        for name, value in values.items():
            per.setdefault(name, set()).add(canonical(value))
    if absent_is_a_value:
        for group, values in items:
            for name in seen[group].keys() - values.keys():
                seen[group][name].add(canonical(None))
    return {group: {k for k, vals in per.items() if len(vals) > 1} for group, per in seen.items()}
