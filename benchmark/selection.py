"""Hyperparameter selection as a firm does it: from a selection suite's records (alpha 0, or with a
collective the alpha given, scored on the validation split), per budget the grid point with the best
mean clean accuracy (or another metric, such as the worst-group accuracy fairness methods are selected
by) over seeds (`choose`), or the published protocol's one setting for every value of a key
(`choose_shared`). Torch-free; the `aca-bench select` command and the docs render what it picks.
"""

from collections import defaultdict

from aca_bench.benchmark.errors import BenchError

MIN_SEEDS = 2  # a grid point counts from this many seeds


def choose(
    records: list[dict],
    by: tuple[str, ...],
    over: tuple[str, ...],
    algorithm: str = "dpsgd",
    metric: str = "clean_accuracy",
    alpha: float = 0.0,
) -> list[dict]:
    """Per value of the `by` hyperparameters: the `over` values with the best mean `metric` over seeds
    (ties: the better mean clean accuracy, then the first in sorted order), with it (as `val_<metric>`),
    the seeds and the runner-up."""
    acc = choose_all(records, by, over, algorithm, metric, alpha)
    clean = choose_all(records, by, over, algorithm, "clean_accuracy", alpha)
    key = f"val_{metric}"
    if not acc:
        raise BenchError(
            f"no {algorithm} records at alpha {alpha:g} on the validation split (eval_split: val)"
        )
    picks = []
    for budget in sorted(acc, key=_order):
        scored = sorted(
            (-mean, -clean[budget][point][0], point, n) for point, (mean, n) in sorted(acc[budget].items())
        )
        if not scored:
            continue
        best, *rest = scored
        picks.append(
            {
                **dict(zip(by, budget, strict=True)),
                **dict(zip(over, best[2], strict=True)),
                key: -best[0],
                "seeds": best[3],
                "grid_points": len(scored),
                "runner_up": dict(zip(over, rest[0][2], strict=True)) | {key: -rest[0][0]} if rest else None,
            }
        )
    return picks


def choose_shared(
    records: list[dict], by: tuple[str, ...], across: str, over: tuple[str, ...], algorithm: str = "dpsgd"
) -> list[dict]:
    """The published protocol: per value of `by`, ONE setting of `over` for every value of `across`
    (e.g. one learning rate for every C), the one whose worst `across` value trains best (max-min of
    the mean validation clean accuracy); only settings scored at every `across` value count."""
    per = choose_all(records, by + (across,), over, algorithm)
    grouped: dict[tuple, dict[tuple, list[float]]] = defaultdict(lambda: defaultdict(list))
    n_across: dict[tuple, set] = defaultdict(set)
    for key, points in per.items():
        budget = key[:-1]
        n_across[budget].add(key[-1])
        for point, (mean, _) in points.items():
            grouped[budget][point].append(mean)
    picks = []
    for budget in sorted(grouped, key=_order):
        complete = {pt: min(a) for pt, a in grouped[budget].items() if len(a) == len(n_across[budget])}
        if complete:
            point = max(sorted(complete), key=lambda pt: complete[pt])
            picks.append(
                {
                    **dict(zip(by, budget, strict=True)),
                    **dict(zip(over, point, strict=True)),
                    "worst_val_clean_accuracy": complete[point],
                }
            )
    return picks


def choose_all(
    records: list[dict],
    by: tuple[str, ...],
    over: tuple[str, ...],
    algorithm: str = "dpsgd",
    metric: str = "clean_accuracy",
    alpha: float = 0.0,
) -> dict[tuple, dict[tuple, tuple[float, int]]]:
    """(mean validation `metric` at `alpha` (0: no collective), seeds) of every grid point with at least
    MIN_SEEDS seeds, per value of `by`."""
    acc: dict[tuple, dict[tuple, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    for r in records:
        if r["algorithm"]["name"] != algorithm or float(r["alpha"]) != alpha:
            continue
        if r["task"].get("params", {}).get("eval_split") != "val":
            continue
        hp = r["algorithm"]["hparams"]
        if metric not in r["metrics"]:
            raise BenchError(f"{algorithm} records at alpha {alpha:g} have no metric '{metric}'")
        acc[tuple(hp[k] for k in by)][tuple(hp[k] for k in over)][r["seed"]] = r["metrics"][metric]
    return {
        budget: {pt: (sum(s.values()) / len(s), len(s)) for pt, s in points.items() if len(s) >= MIN_SEEDS}
        for budget, points in acc.items()
    }


def of_task(records: list[dict], task: str | None) -> list[dict]:
    """The records of `task` (all of them for None): a selection suite may score several tasks."""
    return records if task is None else [r for r in records if r["task"]["name"] == task]


def _order(budget: tuple) -> tuple:
    return tuple(-x if isinstance(x, float) else 0 for x in budget)


def reference(
    records: list[dict], algorithm: str = "erm", metric: str = "clean_accuracy", alpha: float = 0.0
) -> float | None:
    """Mean validation `metric` at `alpha` of `algorithm`'s records (the ERM bar)."""
    accs = [
        r["metrics"][metric]
        for r in records
        if r["algorithm"]["name"] == algorithm
        and float(r["alpha"]) == alpha
        and r["task"].get("params", {}).get("eval_split") == "val"
    ]
    return sum(accs) / len(accs) if accs else None
