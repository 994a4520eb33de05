"""`aca-bench scaling`: alpha* and members* against the training-set size n, and the log-log fit."""

import json

import click

from aca_bench.benchmark.commands.options import out_option, target_option
from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.scaling import (
    N_BOOT,
    PUBLISHED_ALPHA,
    PUBLISHED_N,
    format_series,
    scaling_series,
    series_dict,
    with_measured,
)
from aca_bench.benchmark.store import load_records


@click.command()
@out_option
@target_option
@click.option(
    "--at-n",
    type=click.IntRange(min=1),
    default=PUBLISHED_N,
    show_default=True,
    help="Extrapolate the fit to this training-set size (default: full MNIST).",
)
@click.option(
    "--n-boot", type=click.IntRange(min=10), default=N_BOOT, show_default=True, help="Bootstrap resamples."
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def command(out, target, at_n, n_boot, fmt) -> None:
    """alpha* per n_train for every configuration run at several n (fixed epochs, fixed steps), the fit
    of log alpha* on log n (slope -1: a constant count of members) and its extrapolation to --at-n."""
    records, problems = load_records(out)
    for p in problems:
        click.echo(f"warning: {p}", err=True)
    if not records:
        raise BenchError(f"no intact run records in '{out}'")
    series = with_measured(scaling_series(records, target, at_n, n_boot), records, target, at_n)
    if fmt == "table":
        click.echo(format_series(series))
    else:
        published = {"n_train": PUBLISHED_N, "alpha": PUBLISHED_ALPHA}
        doc = {"target": target, "published": published, "series": [series_dict(s) for s in series]}
        click.echo(json.dumps(doc, indent=2))
