"""Markdown tables rendered from committed records into the README and docs/, so no number is typed.

A document holds blocks like

    <!-- records: leaderboard/reference/quick columns=config,alpha_star,clean_accuracy_at_0,seeds -->
    ...generated table...
    <!-- /records -->

`render(text, root)` replaces each block's body with the alpha* table of that results store (the
columns named, in order; `where=COLUMN:TEXT` keeps rows whose column contains TEXT; `view=scaling` gives
the scaling tables of `aca_bench.benchmark.scaling.markdown` instead (`view=scaling-fits`: the fits
alone); `view=against:KEY by=PARAM` with
several comma-separated stores gives `against.markdown`, the stores side by side; `view=select
by=A,B over=C,D [shared=B] [algorithm=NAME] [task=NAME] [metric=NAME] [alpha=A]` the picks of a
selection suite, `select.markdown`; `view=results` what
`aca-bench results` prints, in a code block; `view=adaptive` with a fixed-grid store and an adaptive one,
`perf_adaptive.markdown`, and `view=adaptive-summary` its totals, `perf_adaptive.summary`;
`view=adaptive-floor` with one adaptive store, what it trained against the least its design could have,
`adaptive_floor.markdown`; `view=rounding`
with two stores of the same cells trained apart, `perf_adaptive.rounding`; `view=perf` the
runs of an `aca-bench perf --out` store, `aca_bench.benchmark.perf.report.markdown`) followed by one
provenance line: how many records, the command, the commit, the device and the date they came from.
`view=coverage` names comma-separated files `aca-bench coverage --json` wrote, not stores: it gives their
tables, `coverage.markdown`, each with the command that made it in place of a provenance line.
"""

import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from aca_bench.benchmark.aggregate import critical_table, runs_frame
from aca_bench.benchmark.commands import adaptive_floor, against, coverage, perf_adaptive, results, select
from aca_bench.benchmark.critical import TARGET
from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.markdown import markdown_table
from aca_bench.benchmark.perf import report
from aca_bench.benchmark.scaling import markdown, scaling_series, with_measured
from aca_bench.benchmark.selection import of_task
from aca_bench.benchmark.store import load_records

ADAPTIVE_VIEWS = {"adaptive": perf_adaptive.markdown, "adaptive-summary": perf_adaptive.summary}
BLOCK = re.compile(r"(<!-- records: (?P<spec>[^>]*?) -->\n)(?P<body>.*?)(<!-- /records -->)", re.DOTALL)


def _num(digits: int) -> Callable[[Any], str]:
    def fmt(v: Any) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "-"
        if isinstance(v, float) and math.isinf(v):
            return "inf"
        return f"{v:.{digits}g}" if isinstance(v, float) else str(v)

    return fmt


# column -> (header, formatter of the cell's value); a formatter may read the whole row
COLUMNS: dict[str, tuple[str, Callable[[Any], str]]] = {
    "task": ("task", str),
    "config": ("configuration", str),
    "alpha_star_text": ("alpha* [95%]", str),
    "success_at_0": ("S(0)", _num(3)),
    "clean_accuracy_at_0": ("clean acc (α=0)", _num(3)),
    "worst_group_accuracy_at_0": ("worst-group acc (α=0)", _num(3)),
    "epsilon": ("epsilon spent", _num(3)),
    "seeds": ("seeds", str),
    "runs": ("runs", str),
}


def table(crit: pd.DataFrame, columns: list[str]) -> str:
    """A Markdown table of `columns` of an alpha* table (`aggregate.critical_table`)."""
    unknown = [c for c in columns if c not in crit.columns]
    if unknown:
        raise BenchError(f"unknown column '{unknown[0]}' (known: {', '.join(crit.columns)})")
    heads = [COLUMNS.get(c, (c, _num(3)))[0] for c in columns]
    rows = ([COLUMNS.get(c, (c, _num(3)))[1](row[c]) for c in columns] for _, row in crit.iterrows())
    return markdown_table(heads, rows)


def provenance(records: list[dict]) -> str:
    """One line: record count, commands, commits, devices and the date range of `records`."""
    envs = [r.get("environment", {}) for r in records]
    commands = sorted({e.get("command") or "unrecorded" for e in envs})
    commits = sorted({(e.get("git_commit") or "unknown")[:12] for e in envs})
    devices = sorted({e.get("device_name") or e.get("device") or "unknown" for e in envs})
    dates = sorted(r.get("finished_at", "")[:10] for r in records)
    when = dates[0] if dates[0] == dates[-1] else f"{dates[0]} to {dates[-1]}"
    return (
        f"{len(records)} records; command: {'; '.join(f'`{c}`' for c in commands)}; "
        f"commit {', '.join(commits)}; {', '.join(devices)}; {when}."
    )


def _parse(spec: str) -> tuple[str, dict[str, str]]:
    parts = spec.split()
    if not parts:
        raise BenchError("a records block needs a results folder")
    opts = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
    return parts[0], opts


def render_block(spec: str, root: Path, target: float = TARGET) -> str:
    """The generated body of one block."""
    folders, opts = _parse(spec)
    if opts.get("view") == "coverage":  # what `aca-bench coverage --json` wrote, a table per file
        files = [root / f for f in folders.split(",")]
        return "\n\n".join(coverage.markdown(json.loads(f.read_text())) for f in files) + "\n"
    stores = {}
    kind = "perf" if opts.get("view") == "perf" else "run"
    for folder in folders.split(","):
        stores[folder], problems = load_records(str(root / folder), kind)
        if problems or not stores[folder]:
            raise BenchError(f"{folder}: {problems[0] if problems else 'no run records'}")
    records = [r for recs in stores.values() for r in recs]
    target = float(opts.get("target", target))
    if opts.get("view") == "results":  # what `aca-bench results` prints for the store
        if len(stores) != 1:
            raise BenchError("view=results takes one store")
        cur, crit = results.tables(records, target)
        text = (results.format_curves(cur) + "\n" + results.format_critical(crit)).strip("\n")
        flag = f" --target {target:g}" if "target" in opts else ""
        block = f"```\n$ aca-bench results --out {folders}{flag}\n{text}\n```"
        return f"{block}\n\n{provenance(records)}\n"
    if opts.get("view") in ADAPTIVE_VIEWS:  # aca-bench perf-adaptive's two stores, fixed grid and auto
        if len(stores) != 2:
            raise BenchError(
                f"view={opts['view']} takes two stores: the fixed grid's, then the adaptive one's"
            )
        fixed, auto = stores.values()
        return ADAPTIVE_VIEWS[opts["view"]](fixed, auto, target) + "\n\n" + provenance(records) + "\n"
    if opts.get("view") == "adaptive-floor":  # an adaptive store against the least its design could train
        if len(stores) != 1:
            raise BenchError("view=adaptive-floor takes one store: an adaptive search's, run in one process")
        return adaptive_floor.markdown(records, target) + "\n\n" + provenance(records) + "\n"
    if opts.get("view") == "rounding":  # the same cells in two stores, trained apart
        if len(stores) != 2:
            raise BenchError("view=rounding takes two stores holding the same cells")
        body = perf_adaptive.rounding(*stores.values(), target)
        return body + "\n\n" + provenance(records) + "\n"
    if opts.get("view") == "perf":  # aca-bench perf's throughput runs
        return report.markdown(records) + "\n\n" + provenance(records) + "\n"
    if opts.get("view") == "select":  # a selection suite's picks (aca_bench.benchmark.commands.select)
        by, over = (
            tuple(k for k in opts.get("by", "target_epsilon").split(",") if k),
            tuple(opts.get("over", "lr").split(",")),
        )
        picks = select.markdown(
            of_task(records, opts.get("task")),
            by,
            over,
            opts.get("shared"),
            opts.get("algorithm", "dpsgd"),
            opts.get("metric", "clean_accuracy"),
            float(opts.get("alpha", 0.0)),
        )
        return picks + "\n\n" + provenance(records) + "\n"
    if opts.get("view", "").startswith("against:"):  # alpha* against one hyperparameter, stores side by side
        key = opts["view"].partition(":")[2]
        named = {}  # the stores' columns are named by their folders' last part
        for folder, recs in stores.items():
            if Path(folder).name in named:
                raise BenchError(f"{folder}: a second store named '{Path(folder).name}' in one records block")
            named[Path(folder).name] = recs
        body = against.markdown(named, key, opts.get("by", "target_epsilon"), target)
        return body + "\n\n" + provenance(records) + "\n"
    if opts.get("view") in ("scaling", "scaling-fits"):  # alpha* against n_train, the log-log fit
        series = with_measured(scaling_series(records, target), records, target)
        body = markdown(series, fits_only=opts["view"] == "scaling-fits")
        return body + "\n\n" + provenance(records) + "\n"
    crit = critical_table(runs_frame(records), target)
    if "where" in opts:
        col, _, text = opts["where"].partition(":")
        crit = crit[crit[col].astype(str).str.contains(text, regex=False)]
    columns = opts.get("columns", "config,alpha_star_text,success_at_0,clean_accuracy_at_0,seeds").split(",")
    return table(crit, columns) + "\n\n" + provenance(records) + "\n"


def render(text: str, root: Path) -> str:
    """`text` with every records block regenerated from the stores under `root`."""
    return BLOCK.sub(lambda m: m.group(1) + render_block(m.group("spec"), root) + m.group(4), text)


def documents(root: Path) -> list[Path]:
    """The files that may hold records blocks: README.md and docs/*.md."""
    return [p for p in [root / "README.md", *sorted((root / "docs").glob("*.md"))] if p.is_file()]
