"""Hyperparameter selection as a firm does it: from a selection suite's records (alpha 0, scored on the
validation split), per budget the grid point with the best mean clean accuracy (or --metric) over seeds.

    aca-bench select --out DIR [--by target_epsilon,max_grad_norm] [--over lr,epochs]
                     [--shared-across max_grad_norm] [--algorithm NAME] [--task NAME] [--alpha A]
                     [--metric NAME]

prints one line per budget (the values of `--by`) with the chosen values of `--over`, the mean
validation clean accuracy, the seeds behind it and the runner-up. Only grid points with at least
`selection.MIN_SEEDS` seeds and alpha 0 on the validation split count; ERM records (if any) are printed
as the reference. The choice is `aca_bench.benchmark.selection`'s; this module prints it.
"""

import math

import click

from aca_bench.benchmark.markdown import markdown_table
from aca_bench.benchmark.selection import choose, choose_shared, of_task, reference
from aca_bench.benchmark.store import load_records

SHORT = {"clean_accuracy": "clean acc", "worst_group_accuracy": "worst-group acc"}  # table headings


def _value(v: object) -> object:
    return "inf" if isinstance(v, float) and math.isinf(v) else v


def markdown(
    records: list[dict],
    by: tuple[str, ...],
    over: tuple[str, ...],
    shared: str | None = None,
    algorithm: str = "dpsgd",
    metric: str = "clean_accuracy",
    alpha: float = 0.0,
) -> str:
    """The picks as a Markdown table: per budget the chosen `over` values and their validation `metric`
    (with the runner-up), or with `shared` the one setting for every value of that key and its worst
    accuracy; ERM's on the same split, if present, in a last line."""
    words = SHORT.get(metric, metric)
    if shared:
        by = tuple(k for k in by if k != shared)
        heads = [*by, *over, f"worst val clean acc over {shared}"]
        rows = [
            [*(_value(p[k]) for k in (*by, *over)), f"{p['worst_val_clean_accuracy']:.3f}"]
            for p in choose_shared(records, by, shared, over, algorithm)
        ]
    else:
        key = f"val_{metric}"
        heads = [*by, *over, f"val {words}", "seeds", "runner-up"]
        rows = [
            [
                *(_value(p[k]) for k in (*by, *over)),
                f"{p[key]:.3f}",
                p["seeds"],
                "-" if p["runner_up"] is None else f"{p['runner_up'][key]:.3f}",
            ]
            for p in choose(records, by, over, algorithm, metric, alpha)
        ]
    lines = [markdown_table(heads, rows)]
    erm = reference(records, metric=metric, alpha=alpha) if algorithm != "erm" else None
    if erm is not None:
        lines += ["", f"ERM at the task's budget on the same split: val {words} {erm:.3f}."]
    return "\n".join(lines)


@click.command()
@click.option("--out", required=True, type=click.Path(file_okay=False), help="The selection suite's store.")
@click.option("--by", default="target_epsilon,max_grad_norm", show_default=True, help="The budget's keys.")
@click.option("--over", default="lr,epochs", show_default=True, help="The keys chosen per budget.")
@click.option(
    "--algorithm",
    default="dpsgd",
    show_default=True,
    help="Whose configurations are chosen among (erm: its epochs at the task's budget, e.g.).",
)
@click.option("--task", default=None, metavar="NAME", help="Only this task's records (default: all).")
@click.option(
    "--alpha",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="The records at this alpha (0: no collective; above 0 with val_collective: one in the split too).",
)
@click.option(
    "--metric",
    type=click.Choice(("clean_accuracy", "worst_group_accuracy")),
    default="clean_accuracy",
    show_default=True,
    help="What the pick maximises on the validation split (worst_group_accuracy: fairness methods, as "
    "JTT and Group DRO select).",
)
@click.option(
    "--shared-across",
    metavar="KEY",
    default=None,
    help="The published protocol: one setting of --over for every value of KEY (e.g. max_grad_norm), "
    "the one whose worst KEY value trains best; KEY is then left out of --by.",
)
def command(
    out: str,
    by: str,
    over: str,
    algorithm: str,
    task: str | None,
    alpha: float,
    metric: str,
    shared_across: str | None,
) -> None:
    """Pick hyperparameters per budget from a selection suite's records (alpha 0, validation split)."""
    records = of_task(load_records(out)[0], task)
    by_keys = tuple(k for k in by.split(",") if k)
    over_keys = tuple(over.split(","))
    erm = reference(records, metric=metric, alpha=alpha) if algorithm != "erm" else None  # others' bar
    if erm is not None:
        click.echo(f"erm (task budget): val {metric.replace('_', ' ')} {erm:.4f}")
    if shared_across:
        by_keys = tuple(k for k in by_keys if k != shared_across)
        for p in choose_shared(records, by_keys, shared_across, over_keys, algorithm):
            head = ", ".join(f"{k}={_value(p[k])}" for k in by_keys)
            pick = ", ".join(f"{k}={p[k]}" for k in over_keys)
            click.echo(
                f"{head}: {pick} for every {shared_across}  worst val clean accuracy "
                f"{p['worst_val_clean_accuracy']:.4f}"
            )
        return
    key, words = f"val_{metric}", metric.replace("_", " ")
    for p in choose(records, by_keys, over_keys, algorithm, metric, alpha):
        head = ", ".join(f"{k}={_value(p[k])}" for k in by_keys) or algorithm
        pick = ", ".join(f"{k}={p[k]}" for k in over_keys)
        ru = p["runner_up"]
        second = "" if ru is None else f"; runner-up {ru[key]:.4f}"
        click.echo(
            f"{head}: {pick}  val {words} {p[key]:.4f} "
            f"({p['seeds']} seeds, {p['grid_points']} grid points{second})"
        )
