"""`aca-bench results`: S(alpha) per configuration and alpha* per configuration from a store."""

import json

import click

from aca_bench.benchmark.aggregate import critical_table, curves, plain, runs_frame
from aca_bench.benchmark.commands.options import out_option, target_option
from aca_bench.benchmark.critical import INTERVAL_NAME, MIN_SEEDS_FOR_INTERVAL
from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.store import Store, load_records
from aca_bench.benchmark.sweep import SearchReport, SweepResult


def _tables(out: str, target: float):
    records, problems = load_records(out)
    for p in problems:
        click.echo(f"warning: {p}", err=True)
    if not records:
        raise BenchError(f"no intact run records in '{out}'")
    return tables(records, target)


def tables(records: list[dict], target: float):
    """(S(alpha) per cell, alpha* per configuration) of `records`: the frames `format_*` print."""
    runs = runs_frame(records)
    return curves(runs), critical_table(runs, target)


def format_curves(cur) -> str:
    lines = []
    for (task, config), df in cur.groupby(["task", "config"], sort=True):
        lines.append(f"\n{task} / {config}")
        lines.append(
            f"  {'alpha':>8} {'members':>8} {'S mean':>7} {'S std':>6} {'S net':>6} "
            f"{'clean acc':>9} {'seeds':>5}"
        )
        for r in df.itertuples():
            net = "n/a" if r.success_net != r.success_net else f"{r.success_net:.3f}"
            lines.append(
                f"  {r.alpha:>8.4g} {r.n_collective:>8d} {r.success_mean:>7.3f} "
                f"{r.success_std:>6.3f} {net:>6} {r.clean_accuracy:>9.3f} {r.seeds:>5d}"
            )
    return "\n".join(lines)


def members_text(r) -> str:
    """`; members* 75 [60, 90] of 4000`: alpha* as a count of training examples, where it is known."""
    cm, n = getattr(r, "critical", None), getattr(r, "n_train", None)
    if cm is None or cm.value is None or n is None or n != n:
        return ""
    body = cm.text(int(n), ".0f") if cm.has_interval else cm.point(int(n), ".0f")
    return f"; members* {body} of {int(n)}"


def format_critical(crit) -> str:
    lines = [
        f"\nalpha* at S >= {crit['target'].iloc[0]:g} ({INTERVAL_NAME}; none below "
        f"{MIN_SEEDS_FOR_INTERVAL} seeds; measured coverage: docs/coverage.md)"
    ]
    for r in crit.itertuples():
        s0 = "n/a" if r.success_at_0 is None else f"{r.success_at_0:.3f}"
        acc = "n/a" if r.clean_accuracy_at_0 is None else f"{r.clean_accuracy_at_0:.3f}"
        worst = r.worst_group_accuracy_at_0
        wg = "" if worst is None or worst != worst else f"; worst-group acc {worst:.3f}"
        lines.append(
            f"  {r.task} / {r.config}: alpha* {r.alpha_star_text}{members_text(r)}; S(0) {s0}; "
            f"clean acc {acc}{wg}; {r.seeds} seeds"
        )
    return "\n".join(lines)


def checked_store(out: str) -> Store:
    """The store a sweep writes to, checked before anything trains (created, writable, lock free), with
    a line for each damaged record it moved aside."""
    store = Store(out)
    for line in store.check():
        click.echo(f"warning: {line}", err=True)
    return store


def report_sweep(result: SweepResult, store: Store, target: float) -> None:
    """What a finished sweep prints: cells trained and skipped, then S(alpha) and the alpha* table."""
    click.echo(
        f"{result.planned} cells: {result.skipped} already done, {result.written} trained "
        f"in {result.seconds:.1f} s; results in {store.path}"
    )
    cur, crit = _tables(str(store.root), target)
    click.echo(format_curves(cur))
    click.echo(format_critical(crit))
    if result.searches:
        click.echo(format_searches(result.searches))


def format_searches(searches: list[SearchReport]) -> str:
    """Per adaptive configuration: rounds, cells and model-epochs spent beside alpha* and its interval
    (over the alphas every seed ran), and why the search stopped."""
    lines = ["\nadaptive alpha search (alphas: auto)"]
    for r in searches:
        est = r.state.estimate
        spent = f"{r.rounds} rounds, {r.cells} cells" + (
            "" if r.model_epochs is None else f", {r.model_epochs} model-epochs"
        )
        where = "running" if not r.state.done else r.state.reason
        lines.append(f"  {r.config}: alpha* {est.text() if est else 'n/a'}; {spent}; {where}")
    return "\n".join(lines)


@click.command()
@out_option
@click.option(
    "--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True
)
@target_option
def command(out, fmt, target) -> None:
    """Print S(alpha) per cell and alpha* per (task, algorithm config) from the store in --out."""
    cur, crit = _tables(out, target)
    if fmt == "table":
        click.echo(format_curves(cur))
        click.echo(format_critical(crit))
    elif fmt == "csv":
        click.echo("# S(alpha)\n" + cur.drop(columns="config_id").to_csv(index=False))
        click.echo("# alpha*\n" + plain(crit).drop(columns="config_id").to_csv(index=False))
    else:
        flat = plain(crit).drop(columns="config_id")
        click.echo(
            json.dumps(
                {
                    "curves": json.loads(cur.drop(columns="config_id").to_json(orient="records")),
                    "critical_mass": json.loads(flat.to_json(orient="records")),
                },
                indent=2,
            )
        )
