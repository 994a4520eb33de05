"""`aca-bench perf-adaptive SUITE`: the suite's fixed alpha grid and adaptive placement side by side.

Both arms train in one run on this device at the same seeds and hyperparameters, each into its own
store under --out (fixed/, auto/), so neither reuses the other's cells. The two take turns: the fixed
grids one seed at a time, between the search's rounds, so a drift in the machine's speed weighs on
both arms alike rather than on whichever ran second. The adaptive arm searches the
fixed grid's own range (its smallest positive alpha to its largest) unless --alpha-range is given.
It prints `markdown`'s table: per configuration both arms' model-epochs, alpha* and the width of its
interval relative to alpha*; per arm its training time (`training_seconds`). `aca-bench docs render`
renders the same table from the two stores (`view=adaptive`), its totals alone (`summary`,
`view=adaptive-summary`), and what float rounding did to the cells two runs' stores share
(`rounding`, `view=rounding`).
"""

import math
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import click
import numpy as np
import torch

from aca_bench.benchmark.aggregate import config_id, critical_table, full_sizes, runs_frame
from aca_bench.benchmark.commands.options import (
    ExecutorFlags,
    apply_seeds,
    apply_sets,
    device_option,
    executor_options,
    parse_search,
    search_options,
    seeds_option,
    set_option,
)
from aca_bench.benchmark.critical import REACHED
from aca_bench.benchmark.environment import resolve_device
from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.markdown import markdown_table
from aca_bench.benchmark.plan import AUTO, Experiment
from aca_bench.benchmark.store import Store
from aca_bench.benchmark.suite import load_suite, with_alphas
from aca_bench.benchmark.sweep import ExecutorChoice, SweepResult, run_sweep


def model_epochs(record: dict) -> int:
    """The epochs one cell trained (1 for an algorithm without `epochs`)."""
    return int(record["algorithm"]["hparams"].get("epochs", 1))


def stacks(records: list[dict]) -> dict[tuple[str, float], list[dict]]:
    """The records by the stack that trained them: a stack's records share `finished_at` and
    `stack_wall_time_s`."""
    out: dict[tuple[str, float], list[dict]] = {}
    for r in records:
        out.setdefault((r["finished_at"], float(r["stack_wall_time_s"])), []).append(r)
    return out


def arm_rows(records: list[dict], target: float) -> dict[str, dict]:
    """config key -> {label, model_epochs, records, crit row} of one arm's records."""
    out: dict[str, dict] = {}
    sizes = full_sizes(records)
    for r in records:
        row = out.setdefault(config_id(r, sizes), {"model_epochs": 0, "records": []})
        row["model_epochs"] += model_epochs(r)
        row["records"].append(r)
    crit = critical_table(runs_frame(records), target)
    for c in crit.itertuples():
        out[c.config_id].update(label=f"{c.task} / {c.config}", crit=c)
    return out


def _missing(v) -> bool:
    """None or NaN (a frame turns a missing bound into NaN beside a column of numbers)."""
    return v is None or v != v


def _low(c) -> float:
    """The interval's lower bound; a missing one is 0: the crossing is not bounded away from alpha 0."""
    return 0.0 if _missing(c.alpha_star_low) else c.alpha_star_low


def _rel_width(c) -> float | None:
    """The interval's width relative to alpha*, or None where alpha* or the upper bound is missing."""
    if _missing(c.alpha_star_high) or _missing(c.alpha_star) or not c.alpha_star:
        return None
    return (c.alpha_star_high - _low(c)) / c.alpha_star


def _width(c) -> str:
    w = _rel_width(c)
    return "n/a" if w is None else f"{w:.2f}"


def _verdict(fixed, auto) -> tuple[bool, bool] | None:
    """(the adaptive alpha* lies inside the fixed grid's interval, the two intervals overlap); None where
    either arm has no interval or only a bound, `<=` or not reached."""
    if fixed.status != REACHED or auto.status != REACHED:
        return None
    if _missing(auto.alpha_star) or _missing(fixed.alpha_star_high) or _missing(auto.alpha_star_high):
        return None
    inside = _low(fixed) <= auto.alpha_star <= fixed.alpha_star_high
    overlap = _low(auto) <= fixed.alpha_star_high and _low(fixed) <= auto.alpha_star_high
    return inside, overlap


def _agreement(fixed, auto) -> str:
    v = _verdict(fixed, auto)
    return "n/a" if v is None else "; ".join("yes" if x else "no" for x in v)


def markdown(fixed_records: list[dict], auto_records: list[dict], target: float) -> str:
    """The two arms side by side per configuration (model-epochs, alpha* [95%], interval width relative to
    alpha*), the saving, whether the adaptive alpha* is inside the fixed interval; then both arms' totals
    with their training time (`training_seconds`)."""
    fixed, auto, shared = _arms(fixed_records, auto_records, target)
    rows = []
    for key in shared:
        f, a = fixed[key], auto[key]
        fc, ac = f["crit"], a["crit"]
        rows.append(
            [
                f["label"],
                f"{f['model_epochs']}, {fc.alpha_star_text}, {_width(fc)}",
                f"{a['model_epochs']}, {ac.alpha_star_text}, {_width(ac)}",
                f"{f['model_epochs'] / max(a['model_epochs'], 1):.2f}x",
                _agreement(fc, ac),
            ]
        )
    (f_epochs, f_s), (a_epochs, a_s) = _totals(fixed, shared), _totals(auto, shared)
    rows.append(
        [
            "**all configurations in both**",
            f"{f_epochs} model-epochs, {f_s:.0f} s training",
            f"{a_epochs} model-epochs, {a_s:.0f} s training",
            f"{f_epochs / max(a_epochs, 1):.2f}x",
            "",
        ]
    )
    heads = [
        "configuration",
        "fixed grid: model-epochs, alpha* [95%], width",
        "auto: model-epochs, alpha* [95%], width",
        "model-epochs saved",
        "auto alpha* inside fixed interval; intervals overlap",
    ]
    return markdown_table(heads, rows)


def summary(fixed_records: list[dict], auto_records: list[dict], target: float) -> str:
    """`markdown`'s totals in a few rows: model-epochs and training time per arm with the saving, the
    median interval width over the configurations where both arms have one, and in how many
    configurations the adaptive alpha* lies inside the fixed interval and the intervals overlap."""
    fixed, auto, shared = _arms(fixed_records, auto_records, target)
    (f_epochs, f_s), (a_epochs, a_s) = _totals(fixed, shared), _totals(auto, shared)
    verdicts = [v for k in shared if (v := _verdict(fixed[k]["crit"], auto[k]["crit"])) is not None]
    inside, overlap = (sum(v[i] for v in verdicts) for i in (0, 1))
    widths = [
        (f, a)
        for k in shared
        if (f := _rel_width(fixed[k]["crit"])) is not None and (a := _rel_width(auto[k]["crit"])) is not None
    ]
    rows = [
        ["model-epochs", f"{f_epochs}", f"{a_epochs}", f"{f_epochs / max(a_epochs, 1):.2f}x"],
        ["training time", f"{f_s:.0f} s", f"{a_s:.0f} s", f"{f_s / max(a_s, 1e-9):.2f}x"],
        [
            f"median interval width / alpha* ({len(widths)} with both)",
            *(f"{np.median([w[i] for w in widths]):.2f}" if widths else "n/a" for i in (0, 1)),
            "",
        ],
        [
            "auto alpha* inside the fixed interval; intervals overlap",
            "",
            f"{inside} of {len(verdicts)}; {overlap} of {len(verdicts)}",
            "",
        ],
    ]
    heads = [f"{len(shared)} configurations", "fixed grids", "alphas: auto", "saved"]
    return markdown_table(heads, rows)


def rounding(first: list[dict], second: list[dict], target: float) -> str:
    """The cells two stores both hold, trained apart (another thread count or stacking, so their float
    sums ran in another order): per configuration how many there are, how many have bitwise-equal
    metrics, the absolute difference of their success (median, 90th percentile, largest), and alpha*
    [95%] from each store's copy of those cells."""
    a, b = ({r["run_id"]: r for r in records} for records in (first, second))
    common = [k for k in a if k in b]
    if not common:
        raise BenchError("view=rounding: the two stores share no cells (no run id in both)")
    rows_a, rows_b = (arm_rows([store[k] for k in common], target) for store in (a, b))
    rows = []
    for key, row in rows_a.items():
        pairs = [(r, b[r["run_id"]]) for r in row["records"]]
        diffs = np.array([abs(x["metrics"]["success"] - y["metrics"]["success"]) for x, y in pairs])
        rows.append(
            [
                row["label"],
                f"{len(pairs)}",
                f"{sum(x['metrics'] == y['metrics'] for x, y in pairs)}",
                ", ".join(f"{v:.3f}" for v in (np.median(diffs), np.quantile(diffs, 0.9), diffs.max())),
                row["crit"].alpha_star_text,
                rows_b[key]["crit"].alpha_star_text,
            ]
        )
    heads = [
        "configuration",
        "cells in both",
        "bitwise equal",
        "abs. difference in S: median, 90th percentile, largest",
        "alpha* [95%], first store",
        "alpha* [95%], second store",
    ]
    return markdown_table(heads, rows)


def _arms(
    fixed_records: list[dict], auto_records: list[dict], target: float
) -> tuple[dict[str, dict], dict[str, dict], list[str]]:
    """Both arms' `arm_rows`, and the configurations both ran (one in one arm only is left out)."""
    fixed, auto = arm_rows(fixed_records, target), arm_rows(auto_records, target)
    return fixed, auto, [key for key in fixed if key in auto]


def _totals(rows: dict[str, dict], keys: list[str]) -> tuple[int, float]:
    return sum(rows[k]["model_epochs"] for k in keys), training_seconds(
        [r for k in keys for r in rows[k]["records"]]
    )


def training_seconds(records: list[dict]) -> float:
    """Seconds in which a stack that trained some of `records` was running: the union of the stacks'
    intervals (`finished_at` less `stack_wall_time_s`, to `finished_at`). In one process that is the
    sum of its stacks' times; stacks that ran side by side (`--workers`) count once, and a pause before
    a resumed run not at all."""
    ends = {(datetime.fromisoformat(finished).timestamp(), wall) for finished, wall in stacks(records)}
    spans = sorted((end - wall, end) for end, wall in ends)
    total, reached = 0.0, -math.inf
    for start, end in spans:
        if end > reached:
            total += end - max(start, reached)
            reached = end
    return total


def by_seed(experiments: list[Experiment]) -> list[list[Experiment]]:
    """The experiments cut into one list per seed (each experiment at that seed alone), in seed order:
    together the same cells."""
    seeds = sorted({seed for e in experiments for seed in e.seeds})
    return [[replace(e, seeds=(seed,)) for e in experiments if seed in e.seeds] for seed in seeds]


class _SeedBySeed:
    """The fixed arm, trained one seed's cells per call of `next`: called between the adaptive arm's
    rounds, so both arms train through the same stretch of a machine whose speed drifts."""

    def __init__(
        self,
        parts: list[list[Experiment]],
        store: Store,
        device: torch.device,
        executor: ExecutorChoice,
        name: str,
    ) -> None:
        self.parts, self.store, self.device, self.executor, self.name = parts, store, device, executor, name
        self.results: list[SweepResult] = []

    def next(self) -> bool:
        """Train the next seed's cells; False once every seed has been trained."""
        if not self.parts:
            return False
        part = self.parts.pop(0)
        desc = f"{self.name} fixed seed {part[0].seeds[0]}"
        self.results.append(run_sweep(part, self.store, self.device, desc=desc, executor=self.executor))
        return True


@click.command("perf-adaptive")
@click.argument("suite")
@click.option("--experiment", "only", multiple=True, metavar="NAME", help="Only these experiments.")
@seeds_option
@search_options(None)
@set_option
@click.option("--out", default="perf-adaptive", show_default=True, type=click.Path(file_okay=False))
@device_option
@executor_options
def command(
    suite, only, seeds, alpha_range, rel_width, max_rounds, sets, out, device, executor: ExecutorFlags
) -> None:
    """Train SUITE's fixed grids and `alphas: auto` at the same seeds; print model-epochs, training wall
    time, both alpha* and their interval widths (relative to alpha*)."""
    s = load_suite(suite)
    exps = [e for e in s.experiments if not only or e.name in only]
    if not exps:
        raise BenchError(f"suite '{s.name}' has no experiment named {', '.join(only)}")
    if sets:
        exps = list(apply_sets(tuple(exps), sets))
    exps = list(apply_seeds(tuple(exps), seeds))
    if any(e.search is not None for e in exps):
        raise BenchError("perf-adaptive compares a fixed grid with auto: give a suite with fixed alphas")
    lo_hi, search = parse_search(alpha_range, rel_width, max_rounds)
    auto = with_alphas(exps, AUTO, lo_hi, search)
    dev = resolve_device(device)
    stores = {arm: Store(Path(out) / arm) for arm in ("fixed", "auto")}
    fixed_arm = _SeedBySeed(by_seed(exps), stores["fixed"], dev, executor.choice(s.executor), s.name)
    fixed_arm.next()
    result = run_sweep(
        auto,
        stores["auto"],
        dev,
        desc=f"{s.name} auto",
        executor=executor.choice(s.executor),
        target=s.target,
        after_pass=fixed_arm.next,
    )
    while fixed_arm.next():
        pass
    for arm, results in (("fixed", fixed_arm.results), ("auto", [result])):
        written, seconds, skipped = (
            sum(getattr(r, k) for r in results) for k in ("written", "seconds", "skipped")
        )
        click.echo(
            f"{arm}: {written} cells trained in {seconds:.1f} s ({skipped} already in {stores[arm].root})",
            err=True,
        )
    records = {arm: store.read()[0] for arm, store in stores.items()}
    click.echo(f"suite {s.name} on {dev.type}; target S >= {s.target:g}; seeds {exps[0].seeds}")
    click.echo(markdown(records["fixed"], records["auto"], s.target))
