"""Hyperparameter selection as a firm does it: from a selection suite's records (alpha 0, scored on the
validation split), per budget the grid point with the best mean clean accuracy over seeds.

    aca-bench select --out DIR [--by target_epsilon,max_grad_norm] [--over lr,epochs]
                     [--shared-across max_grad_norm]

prints one line per budget (the values of `--by`) with the chosen values of `--over`, the mean
validation clean accuracy, the seeds behind it and the runner-up. Only grid points with at least
MIN_SEEDS seeds and alpha 0 on the validation split count; ERM records (if any) are printed as the
reference.
"""

import math
from collections import defaultdict

import click

from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.markdown import markdown_table
from aca_bench.benchmark.store import load_records

MIN_SEEDS = 2


def _value(v: object) -> object:
    return "inf" if isinstance(v, float) and math.isinf(v) else v


def choose(
    records: list[dict], by: tuple[str, ...], over: tuple[str, ...], algorithm: str = "dpsgd"
) -> list[dict]:
    """Per value of the `by` hyperparameters: the `over` values with the best mean clean accuracy over
    seeds (ties: the first in sorted order), with the accuracy, the seeds and the runner-up."""
    acc = choose_all(records, by, over, algorithm)
    if not acc:
        raise BenchError(f"no {algorithm} records at alpha 0 on the validation split (eval_split: val)")
    picks = []
    for budget in sorted(acc, key=_order):
        scored = sorted((-mean, point, n) for point, (mean, n) in sorted(acc[budget].items()))
        if not scored:
            continue
        best, *rest = scored
        picks.append(
            {
                **dict(zip(by, budget, strict=True)),
                **dict(zip(over, best[1], strict=True)),
                "val_clean_accuracy": -best[0],
                "seeds": best[2],
                "grid_points": len(scored),
                "runner_up": dict(zip(over, rest[0][1], strict=True)) | {"val_clean_accuracy": -rest[0][0]}
                if rest
                else None,
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
    records: list[dict], by: tuple[str, ...], over: tuple[str, ...], algorithm: str = "dpsgd"
) -> dict[tuple, dict[tuple, tuple[float, int]]]:
    """(mean validation clean accuracy at alpha 0, seeds) of every grid point with at least MIN_SEEDS
    seeds, per value of `by`."""
    acc: dict[tuple, dict[tuple, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    for r in records:
        if r["algorithm"]["name"] != algorithm or float(r["alpha"]) != 0.0:
            continue
        if r["task"].get("params", {}).get("eval_split") != "val":
            continue
        hp = r["algorithm"]["hparams"]
        acc[tuple(hp[k] for k in by)][tuple(hp[k] for k in over)][r["seed"]] = r["metrics"]["clean_accuracy"]
    return {
        budget: {pt: (sum(s.values()) / len(s), len(s)) for pt, s in points.items() if len(s) >= MIN_SEEDS}
        for budget, points in acc.items()
    }


def _order(budget: tuple) -> tuple:
    return tuple(-x if isinstance(x, float) else 0 for x in budget)


def reference(records: list[dict], algorithm: str = "erm") -> float | None:
    """Mean validation clean accuracy at alpha 0 of `algorithm`'s records (the ERM bar)."""
    accs = [
        r["metrics"]["clean_accuracy"]
        for r in records
        if r["algorithm"]["name"] == algorithm
        and float(r["alpha"]) == 0.0
        and r["task"].get("params", {}).get("eval_split") == "val"
    ]
    return sum(accs) / len(accs) if accs else None


def markdown(
    records: list[dict], by: tuple[str, ...], over: tuple[str, ...], shared: str | None = None
) -> str:
    """The picks as a Markdown table: per budget the chosen `over` values and their validation clean
    accuracy (with the runner-up), or with `shared` the one setting for every value of that key and
    its worst accuracy; ERM's accuracy on the same split, if present, in a last line."""
    if shared:
        by = tuple(k for k in by if k != shared)
        heads = [*by, *over, f"worst val clean acc over {shared}"]
        rows = [
            [*(_value(p[k]) for k in (*by, *over)), f"{p['worst_val_clean_accuracy']:.3f}"]
            for p in choose_shared(records, by, shared, over)
        ]
    else:
        heads = [*by, *over, "val clean acc", "seeds", "runner-up"]
        rows = [
            [
                *(_value(p[k]) for k in (*by, *over)),
                f"{p['val_clean_accuracy']:.3f}",
                p["seeds"],
                "-" if p["runner_up"] is None else f"{p['runner_up']['val_clean_accuracy']:.3f}",
            ]
            for p in choose(records, by, over)
        ]
    lines = [markdown_table(heads, rows)]
    erm = reference(records)
    if erm is not None:
        lines += ["", f"ERM at its task defaults on the same split: val clean accuracy {erm:.3f}."]
    return "\n".join(lines)


@click.command()
@click.option("--out", required=True, type=click.Path(file_okay=False), help="The selection suite's store.")
@click.option("--by", default="target_epsilon,max_grad_norm", show_default=True, help="The budget's keys.")
@click.option("--over", default="lr,epochs", show_default=True, help="The keys chosen per budget.")
@click.option(
    "--shared-across",
    metavar="KEY",
    default=None,
    help="The published protocol: one setting of --over for every value of KEY (e.g. max_grad_norm), "
    "the one whose worst KEY value trains best; KEY is then left out of --by.",
)
def command(out: str, by: str, over: str, shared_across: str | None) -> None:
    """Pick hyperparameters per budget from a selection suite's records (alpha 0, validation split)."""
    records, _ = load_records(out)
    by_keys, over_keys = tuple(by.split(",")), tuple(over.split(","))
    erm = reference(records)
    if erm is not None:
        click.echo(f"erm (task defaults): val clean accuracy {erm:.4f}")
    if shared_across:
        by_keys = tuple(k for k in by_keys if k != shared_across)
        for p in choose_shared(records, by_keys, shared_across, over_keys):
            head = ", ".join(f"{k}={_value(p[k])}" for k in by_keys)
            pick = ", ".join(f"{k}={p[k]}" for k in over_keys)
            click.echo(
                f"{head}: {pick} for every {shared_across}  worst val clean accuracy "
                f"{p['worst_val_clean_accuracy']:.4f}"
            )
        return
    for p in choose(records, by_keys, over_keys):
        head = ", ".join(f"{k}={_value(p[k])}" for k in by_keys)
        pick = ", ".join(f"{k}={p[k]}" for k in over_keys)
        ru = p["runner_up"]
        second = "" if ru is None else f"; runner-up {ru['val_clean_accuracy']:.4f}"
        click.echo(
            f"{head}: {pick}  val clean accuracy {p['val_clean_accuracy']:.4f} "
            f"({p['seeds']} seeds, {p['grid_points']} grid points{second})"
        )
