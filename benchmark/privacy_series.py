"""Privacy sweeps as series: alpha* against the privacy budget epsilon or the clipping threshold C, one
series per results store, with the clean accuracy and the fraction of clipped gradients at alpha 0.
Torch-free analysis; the site's privacy page (`leaderboard/privacy_plot.py`) draws and tabulates it.

Every number comes from `aca_bench.benchmark.aggregate.critical_table` run on one store's records: alpha*,
its interval, the degenerate rule and `clipped_fraction_at_0`. Nothing here recomputes alpha*.

A store sweeps, for one task and algorithm, the axis (`AXES`: target_epsilon, max_grad_norm) its
configurations set to the most distinct values (both on a tie; at least two). A series is (store, task,
algorithm, the configurations' other hyperparameters) with the axis and the hyperparameters tuned per
point (`TUNED`: lr, epochs) left out, holding two or more values of the axis. A store whose
configurations of one task and algorithm differ in the task's parameters (a sweep of n_train) is left
to the scaling page. Series that share everything but the store form one plot, so two protocols of the
same sweep (e.g. `dp_clip_shared` with one learning rate for every C, `dp_clip_tuned` with lr tuned
per C) stand side by side; a sweep of C at two budgets gives one plot per budget.
"""

import hashlib
import json
import math
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from aca_bench.benchmark.aggregate import config_hparams, critical_table, runs_frame
from aca_bench.benchmark.critical import CriticalMass
from aca_bench.benchmark.ids import canonical
from aca_bench.benchmark.values import finite, value_text

# The hyperparameters a privacy sweep varies, with the words the page uses for them.
AXES = {"target_epsilon": "privacy budget \u03b5 (target)", "max_grad_norm": "clipping threshold C"}
# Chosen per point of a sweep (a firm tunes them per budget): never part of a series' identity.
TUNED = ("lr", "epochs")


@dataclass(frozen=True)
class Point:
    """One configuration of a series: its axis value and what the aggregation says of it."""

    x: float
    lr: Any  # as set (None where the configuration has none)
    epochs: Any
    critical: CriticalMass
    clean_accuracy: float | None
    clipped_fraction: float | None

    @property
    def status(self) -> str:
        return self.critical.status

    @property
    def alpha_star(self) -> float | None:
        return self.critical.value

    @property
    def low(self) -> float | None:
        return self.critical.low if self.critical.has_interval else None

    @property
    def high(self) -> float | None:
        return self.critical.high if self.critical.has_interval else None

    @property
    def alpha_max(self) -> float:
        return float(self.critical.alpha_max or 0.0)


@dataclass(frozen=True)
class Series:
    store: str
    points: list[Point]


@dataclass(frozen=True)
class PrivacyPlot:
    """One plot: a task, an algorithm, an axis and the fixed hyperparameters; a series per store."""

    task: str
    algorithm: str
    axis: str
    fixed: tuple[tuple[str, str], ...]
    series: list[Series]

    @property
    def title(self) -> str:
        shown = ", ".join(f"{k} = {v}" for k, v in self.fixed if k in AXES)
        return f"\u03b1* against {AXES[self.axis]}: {self.algorithm} on {self.task}" + (
            f", {shown}" if shown else ""
        )

    @property
    def key(self) -> str:
        """A short hash of everything that identifies the plot: two plots that differ only in a
        hyperparameter outside AXES never share a file name."""
        return hashlib.sha256(
            canonical([self.task, self.algorithm, self.axis, self.fixed]).encode()
        ).hexdigest()[:8]


def _points(crit: pd.DataFrame) -> list[tuple[dict, Point]]:
    out = []
    for r in crit.itertuples():
        hp = config_hparams(r.config_id)
        out.append(
            (
                hp,
                Point(
                    x=math.nan,
                    lr=hp.get("lr"),
                    epochs=hp.get("epochs"),
                    critical=r.critical,
                    clean_accuracy=finite(r.clean_accuracy_at_0),
                    clipped_fraction=finite(r.clipped_fraction_at_0),
                ),
            )
        )
    return out


def swept_axes(hparams: list[dict]) -> list[str]:
    """The axes a store sweeps for one task and algorithm: of those with two or more values, the ones with
    the most values (a C sweep run at two budgets is a sweep of C, not five two-point sweeps of epsilon)."""
    counts = {a: len({finite(hp.get(a)) for hp in hparams} - {None}) for a in AXES}
    most = max(counts.values(), default=0)
    return [a for a, n in counts.items() if n == most and n >= 2]


def privacy_series(stores: dict[str, list[dict]], target: float) -> list[PrivacyPlot]:
    """The plots of the page, in a stable order: per (task, algorithm, axis, fixed hyperparameters), one
    series per store holding at least two values of the axis there."""
    found: dict[tuple, dict[str, list[Point]]] = {}
    for store, records in sorted(stores.items()):
        if not records:
            continue
        crit = critical_table(runs_frame(records), target)
        for (task, algo), mine in crit.groupby(["task", "algorithm"], sort=True):
            if len({canonical(json.loads(c)["task"]) for c in mine["config_id"]}) > 1:
                continue  # the store also varies the task (n_train): a scaling sweep, on the scaling page
            points = _points(mine)
            for axis in swept_axes([hp for hp, _ in points]):
                groups: dict[tuple, list[Point]] = {}
                for hp, p in points:
                    x = finite(hp.get(axis))
                    if x is None:
                        continue
                    fixed = tuple(
                        sorted((k, value_text(v)) for k, v in hp.items() if k != axis and k not in TUNED)
                    )
                    groups.setdefault(fixed, []).append(replace(p, x=x))
                for fixed, pts in groups.items():
                    if len({p.x for p in pts}) >= 2:
                        key = (task, algo, axis, fixed)
                        found.setdefault(key, {})[store] = sorted(pts, key=lambda p: p.x)
    return [
        PrivacyPlot(task, algo, axis, fixed, [Series(s, pts) for s, pts in sorted(by_store.items())])
        for (task, algo, axis, fixed), by_store in sorted(found.items(), key=lambda kv: canonical(kv[0]))
    ]
