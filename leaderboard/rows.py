"""Rows of the results tables: alpha* as what is known about it, the rank, settings and provenance.

Ranking (rank 1 = smallest alpha*, the configuration a collective steers most easily) uses only what
is known about each alpha* (`CriticalMass.known`): its interval where one is shown, else a point, an
upper bound ("<= a": somewhere in (0, a]) or a lower bound ("not reached (> alpha_max)"). A row's rank
is one plus the number of rows whose alpha* is certainly smaller (their interval ends below where this
one begins), so rows whose intervals overlap or touch share a rank. Degenerate rows (and rows without a
complete seed) are never ranked: they come after all others, with their reason.
"""

import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from aca_bench.benchmark.aggregate import config_hparams
from aca_bench.benchmark.critical import AT_MOST, DEGENERATE, NOT_REACHED
from aca_bench.benchmark.ids import canonical, differing_keys
from aca_bench.benchmark.values import value_text
from aca_bench.leaderboard.text import DASH, num, slug, sort_value

# The project's repository: commits recorded by runs link to it.
REPOSITORY = "https://github.com/aca-bench/aca-bench"
RANKED = ("reached", "at_most", "not_reached")
ORDER_NOTE = "least resistant first: rank 1 has the smallest \u03b1*"


@dataclass
class Commit:
    sha: str
    url: str | None


@dataclass
class Row:
    """One configuration of one task as the tables show it (strings ready to print)."""

    task: str
    task_slug: str
    config: str
    algorithm: str
    algorithm_slug: str
    status: str
    alpha_star: str
    interval: str
    note: str
    non_monotone: bool
    s0: str
    s0_sort: str
    clean: str
    clean_sort: str
    worst: str
    worst_sort: str
    epsilon: str
    epsilon_sort: str
    seeds: int
    runs: int
    hparams: dict
    settings_shown: list[tuple[str, str]] = field(default_factory=list)
    settings_rest: list[tuple[str, str]] = field(default_factory=list)
    date: str = DASH
    device: str = DASH
    commits: list[Commit] = field(default_factory=list)
    rank: str = DASH
    rank_sort: str = ""
    rank_note: str = ""
    alpha_sort: str = ""  # the row's place in rank order: sorting one task's table by alpha*
    alpha_value_sort: str = ""  # alpha* itself (a bound as its bound): sorting rows of several tasks
    n_train: str = DASH
    n_train_sort: str = ""
    known: tuple[float, bool, float] | None = None  # (low, low is open, high) of alpha*


def _get(r: Any, name: str) -> Any:
    """A column of a critical-table row, None when the column is absent or the value is NaN."""
    v = getattr(r, name, None)
    return None if isinstance(v, float) and math.isnan(v) else v


def _alpha(r: Any) -> tuple[str, str, str, tuple[float, bool, float] | None]:
    """(shown alpha*, interval, note, what is known of it) of a critical-table row, all read from its
    `CriticalMass`, the value every renderer formats."""
    cm = r.critical
    if cm is None:
        return str(r.status), "", str(r.alpha_star_text), None
    note = ""
    if cm.status == AT_MOST:
        note = "the curve crossed the target between \u03b1 = 0 and the smallest positive \u03b1 run"
    elif cm.status == NOT_REACHED:
        top = cm.alpha_max
        note = f"S stayed below the target up to the largest \u03b1 run for this configuration ({top:g})"
    elif cm.status == DEGENERATE:
        note = cm.text()
    return cm.point(), cm.interval(), note, cm.known()


def _value_sort(cm: Any) -> str:
    """alpha* as a number to sort by: its point, `<= a` as a, `not reached (> a)` after every number."""
    if cm is None or not cm.ranked:
        return ""
    return "Infinity" if cm.status == NOT_REACHED else sort_value(cm.value)


def _commits(text: Any) -> list[Commit]:
    out = []
    for sha in str(text or "").split(", "):
        if sha:
            out.append(
                Commit(sha, f"{REPOSITORY}/commit/{sha}" if re.fullmatch(r"[0-9a-f]{7,40}", sha) else None)
            )
    return out


def common_settings(crit: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per algorithm, the value of each hyperparameter that most of its configurations in the store use
    (keys where two values tie have none): the baseline a row's visible settings are compared with."""
    counts: dict[str, dict[str, Counter]] = {}
    for cid, algo in zip(crit["config_id"], crit["algorithm"], strict=True):
        for k, v in config_hparams(cid).items():
            counts.setdefault(algo, {}).setdefault(k, Counter())[canonical(v)] += 1
    out: dict[str, dict[str, Any]] = {}
    for algo, per in counts.items():
        for k, c in sorted(per.items()):
            top = c.most_common(2)
            if len(top) == 1 or top[0][1] > top[1][1]:
                out.setdefault(algo, {})[k] = json.loads(top[0][0])
    return out


def make_rows(crit: pd.DataFrame, common: dict[str, dict[str, Any]]) -> list[Row]:
    """The rows of one results table, ranked (see the module docstring) and in rank order."""
    rows = []
    labelled = differing_keys(  # per algorithm, the hyperparameters that differ between its configurations
        (algo, config_hparams(cid)) for cid, algo in zip(crit["config_id"], crit["algorithm"], strict=True)
    )
    for r in crit.itertuples():
        shown, interval, note, known = _alpha(r)
        hp = config_hparams(r.config_id)
        base = common.get(r.algorithm, {})
        differs = {k for k, v in hp.items() if k in base and canonical(base[k]) != canonical(v)}
        differs -= labelled.get(r.algorithm, set())  # already in the row's label
        finished = _get(r, "finished_at")
        rows.append(
            Row(
                task=r.task,
                task_slug=slug(r.task),
                config=r.config,
                algorithm=r.algorithm,
                algorithm_slug=slug(r.algorithm),
                status=r.status,
                alpha_star=shown,
                interval=interval,
                note=note,
                non_monotone=bool(_get(r, "non_monotone")),
                s0=num(r.success_at_0, ".3f"),
                s0_sort=sort_value(r.success_at_0),
                clean=num(r.clean_accuracy_at_0, ".3f"),
                clean_sort=sort_value(r.clean_accuracy_at_0),
                worst=num(r.worst_group_accuracy_at_0, ".3f"),
                worst_sort=sort_value(r.worst_group_accuracy_at_0),
                epsilon=num(r.epsilon, ".3g"),
                epsilon_sort=sort_value(r.epsilon),
                seeds=int(r.seeds),
                runs=int(r.runs),
                hparams=hp,
                settings_shown=[(k, value_text(hp[k])) for k in sorted(differs)],
                settings_rest=[(k, value_text(hp[k])) for k in sorted(set(hp) - differs)],
                date=str(finished)[:10] if finished else DASH,
                device=str(_get(r, "device") or DASH),
                commits=_commits(_get(r, "git_commit")),
                known=known,
                alpha_value_sort=_value_sort(r.critical),
                n_train=num(_get(r, "n_train"), ".0f"),
                n_train_sort=sort_value(_get(r, "n_train")),
            )
        )
    return rank(rows)


def _below(a: tuple[float, bool, float], b: tuple[float, bool, float]) -> bool:
    """alpha* of range `a` is certainly smaller than alpha* of range `b`."""
    a_high, (b_low, b_open) = a[2], b[:2]
    return a_high < b_low or (a_high == b_low and b_open)


def rank(rows: list[Row]) -> list[Row]:
    """Set rank, rank_sort, rank_note and alpha_sort; return the rows in rank order, unranked last."""
    ranked = [r for r in rows if r.known is not None]
    for r in ranked:
        r.rank_sort = str(1 + sum(_below(o.known, r.known) for o in ranked if o is not r))
    ordered = sorted(ranked, key=lambda r: (int(r.rank_sort), r.known[2], r.known[0], r.config))
    for r in ranked:
        tied = sum(o.rank_sort == r.rank_sort for o in ranked) - 1
        r.rank = r.rank_sort + ("=" if tied else "")
        r.rank_note = (
            f"shares rank {r.rank_sort} with {tied} other row(s): the data cannot order them" if tied else ""
        )
    rest = sorted((r for r in rows if r.known is None), key=lambda r: r.config)
    for i, r in enumerate(ordered):
        r.alpha_sort = str(i)
    return ordered + rest
