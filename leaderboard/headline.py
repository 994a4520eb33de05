"""The headline leaderboard: per task, the configurations at the standard setting, ranked on their own.

A configuration is a headline one when it trains on the task's full training set (no `n_train`
subsample, after `aggregate.identity` merged a subsample of the full size into the full set) and matches
an experiment of the `standard` suite for its task and algorithm: every hyperparameter and task
parameter the experiment sets has that value (2 and 2.0 alike; the suite names the data source, so full
MNIST, another n, is an exploration of the embedded task's headline). An algorithm the standard suite
does not run on the task (an outside entry run with `run standard --algorithm NAME`, or any algorithm on
a task the suite leaves out) takes every configuration on the full training set, and so does an
algorithm none of whose configurations on the task matches its standard experiment (a store that never
ran the standard setting still has a headline). Everything else (sweeps of n, epochs, epsilon, C) is an
exploration: listed on the task page with the columns that vary, and on the scaling and privacy pages.
"""

import json
from typing import Any

from aca_bench.benchmark.values import finite
from aca_bench.leaderboard.sources import SuiteGrid

STANDARD_SUITE = "standard"

Pairs = tuple[tuple[str, Any], ...]
Setting = tuple[str, Pairs, Pairs]  # (algorithm, the hyperparameters and task parameters it sets)


def standard_settings(grids: dict[str, list[SuiteGrid]]) -> dict[str, list[Setting]]:
    """Per task, the (algorithm, hyperparameters) of each experiment of the standard suite."""
    out: dict[str, list[Setting]] = {}
    for algorithm, experiments in sorted(grids.items()):
        for g in experiments:
            if g.suite == STANDARD_SUITE:
                out.setdefault(g.task, []).append((algorithm, g.hparams, g.task_params))
    return out


def is_headline(config_id: str, settings: dict[str, list[Setting]]) -> bool:
    """Whether the configuration `config_id` (canonical JSON of its task and algorithm) is at its
    task's standard setting (see the module docstring)."""
    config = json.loads(config_id)
    task, algorithm = config["task"], config["algorithm"]
    if task.get("params", {}).get("n_train") is not None:
        return False
    mine = [(hp, tp) for name, hp, tp in settings.get(task["name"], []) if name == algorithm["name"]]
    have, params = algorithm["hparams"], task.get("params", {})
    return not mine or any(
        all(_same(have.get(k), v) for k, v in hp) and all(_same(params.get(k), v) for k, v in tp)
        for hp, tp in mine
    )


def headline(config_ids: list[str], settings: dict[str, list[Setting]]) -> set[str]:
    """The configurations of `config_ids` the headline ranks: per task and algorithm those at the
    standard setting (`is_headline`), or, where none is, those on the full training set."""
    groups: dict[tuple[str, str], list[str]] = {}
    for cid in config_ids:
        c = json.loads(cid)
        groups.setdefault((c["task"]["name"], c["algorithm"]["name"]), []).append(cid)
    out: set[str] = set()
    for ids in groups.values():
        standard = {c for c in ids if is_headline(c, settings)}
        out |= standard or {c for c in ids if json.loads(c)["task"].get("params", {}).get("n_train") is None}
    return out


def _same(a: Any, b: Any) -> bool:
    """Equal as settings: numbers by value (inf included), anything else as written."""
    x, y = finite(a), finite(b)
    return x == y if x is not None and y is not None else a == b
