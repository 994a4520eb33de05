"""`aca-bench perf`'s measurements as records, and the table docs/ renders from them.

One `perf --out DIR` run appends one record per printed row (a path of one algorithm), all sharing
the run's settings, environment and finish time, so a committed store keeps each number with its
command, commit and machine. `markdown` gives one table line per run: model-epochs per minute of
each path and the ratios `perf` prints.
"""

import hashlib
import json
from datetime import UTC, datetime

import torch

from aca_bench.benchmark.environment import environment
from aca_bench.benchmark.markdown import markdown_table
from aca_bench.benchmark.perf.throughput import CEILING, PerfRow

ALGORITHMS = ("erm", "dpsgd")
HEADS = (
    "batch, precision, engine stepping, turns",
    "ERM naive loop",
    "ERM engine",
    "ratio",
    f"{CEILING} / naive",
    "DP-SGD naive (Opacus)",
    "DP-SGD engine",
    "ratio",
)


def records(rows: list[PerfRow], settings: dict, device: torch.device) -> list[dict]:
    """One record per row of one perf run: the row, the run's `settings`, where and when it ran."""
    env = environment(device)
    finished = datetime.now(UTC).isoformat(timespec="seconds")
    run = hashlib.sha256(json.dumps([settings, env, finished], sort_keys=True).encode()).hexdigest()[:16]
    return [
        {
            "run_id": f"{run}-{row.algorithm}-{row.path}",
            "perf_run": run,
            "algorithm": row.algorithm,
            "path": row.path,
            "models": row.models,
            "epochs": row.epochs,
            "n_train": row.n_train,
            "seconds": row.seconds,
            "model_epochs_per_min": row.model_epochs_per_min,
            "settings": settings,
            "environment": env,
            "finished_at": finished,
        }
        for row in rows
    ]


def _kind(path: str) -> str:
    """naive, engine or the ceiling, from a row's path name."""
    return "naive" if path.startswith("naive") else "engine" if path.startswith("engine") else path


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _ratio(top: float | None, bottom: float | None) -> str:
    return "-" if top is None or bottom is None else f"{top / bottom:.2f}x"


def markdown(recs: list[dict]) -> str:
    """Per perf run (in order of finishing): its settings, each algorithm's naive loop and engine in
    model-epochs per minute, engine / naive, and for ERM the conv-kernels-only ceiling / naive."""
    runs: dict[str, list[dict]] = {}
    for r in sorted(recs, key=lambda r: r["finished_at"]):
        runs.setdefault(r["perf_run"], []).append(r)
    lines = []
    for rows in runs.values():
        rate = {(r["algorithm"], _kind(r["path"])): r["model_epochs_per_min"] for r in rows}
        s = rows[0]["settings"]
        stepping = next(r["path"] for r in rows if r["path"].startswith("engine"))
        cells = [
            f"{s['batch_size']}, {s['precision']}, {stepping.removeprefix('engine (')[:-1]}, {s['repeats']}"
        ]
        for name in ALGORITHMS:
            naive, engine = rate.get((name, "naive")), rate.get((name, "engine"))
            cells += [_rate(naive), _rate(engine), _ratio(engine, naive)]
            if name == "erm":
                cells.append(_ratio(rate.get((name, CEILING)), naive))
        lines.append(cells)
    return markdown_table(HEADS, lines)
