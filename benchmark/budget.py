"""Training budgets: the learning rate, momentum, batch size and epochs a cell trains with where its
experiment does not say, and the warning when the algorithms a run compares on one task train at
different ones.

Where a hyperparameter comes from, lowest first: the algorithm's own default; the task's `budget`;
the task's `default_hparams[algorithm]`; the suite's `budget:` (an experiment's own `budget:` over
it); the experiment's `hparams`. A `budget` applies to every algorithm that declares the
hyperparameter, except one that sets `own_budget` (DP-SGD: its learning rate, batch size and epochs
are tuned with its privacy accounting). So an outside algorithm trains at the task's budget like the
built-in ones do, and a comparison is between objectives, not between budgets.
"""

from typing import Any

from aca_bench.algorithms import registry
from aca_bench.algorithms.base import Algorithm
from aca_bench.benchmark.errors import BenchError

BUDGET_KEYS = ("lr", "momentum", "weight_decay", "batch_size", "epochs")


def applicable(budget: dict[str, Any], cls: type[Algorithm]) -> dict[str, Any]:
    """The part of a task's or suite's `budget` an algorithm takes: what it declares, unless it keeps
    its own budget."""
    if cls.own_budget:
        return {}
    return {k: v for k, v in budget.items() if k in cls.hparams}


def task_budget(task_cls: type, algorithm: str) -> dict[str, Any]:
    """The hyperparameters a task sets for `algorithm`: its `budget` where it applies, then
    `default_hparams[algorithm]` where the task names the algorithm."""
    named = task_cls.default_hparams
    bad = next((k for k, v in named.items() if not isinstance(v, dict)), None)
    if bad is not None:
        raise BenchError(
            f"task '{task_cls.name}': default_hparams must map algorithm names to hyperparameters, "
            f"got {bad}: {named[bad]!r}"
        )
    return applicable(task_cls.budget, registry.get(algorithm).cls) | dict(named.get(algorithm, {}))


def budget_mismatches(cells: list) -> list[str]:
    """One line per task on which the cells' algorithms (those that take a budget) train at different
    budgets; `cells` are `plan.Cell`s, e.g. each experiment's configurations."""
    per_task: dict[str, dict[str, set[tuple]]] = {}
    for c in cells:
        if c.entry.cls.own_budget:
            continue
        spent = tuple((k, c.hparams[k]) for k in BUDGET_KEYS if k in c.hparams)
        per_task.setdefault(c.task, {}).setdefault(c.algorithm, set()).add(spent)
    lines = []
    for task, algos in sorted(per_task.items()):
        if len({frozenset(v) for v in algos.values()}) > 1:
            said = "; ".join(f"{a} {_said(v)}" for a, v in sorted(algos.items()))
            lines.append(
                f"task '{task}': the algorithms compared train at different budgets ({said}); give them "
                "one: the task's budget, the suite's `budget:` or --set"
            )
    return lines


def _said(budgets: set[tuple]) -> str:
    return " | ".join(", ".join(f"{k} {v:g}" for k, v in b) for b in sorted(budgets))
