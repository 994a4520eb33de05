"""`aca-bench list tasks|algorithms|suites`; `list algorithms --task NAME` shows the defaults on a task."""

import click

from aca_bench.algorithms import registry
from aca_bench.benchmark.budget import task_budget
from aca_bench.benchmark.commands.options import registry_env_option
from aca_bench.benchmark.suite import builtin_names, load_suite
from aca_bench.tasks.registry import all_tasks, get_task


@click.command("list")
@click.argument("what", type=click.Choice(["tasks", "algorithms", "suites"]))
@click.option(
    "--task",
    default=None,
    metavar="NAME",
    help="With `algorithms`: the hyperparameters each algorithm trains with on this task "
    "(its own defaults, or the task's budget where the algorithm takes it).",
)
@registry_env_option
def command(what: str, task: str | None) -> None:
    """List registered tasks, algorithms or built-in suites with their parameters."""
    if task is not None and what != "algorithms":
        raise click.UsageError("--task goes with `list algorithms`")
    if what == "tasks":
        for name, cls in all_tasks().items():
            click.echo(f"{name} (v{cls.version}): {(cls.__doc__ or '').strip()}")
            for p, spec in cls.params.items():
                click.echo(f"    {p} = {spec.default!r}  {spec.help}{_range(spec)}")
    elif what == "algorithms":
        task_cls = get_task(task) if task is not None else None
        for name, entry in registry.load().items():
            budget = task_budget(task_cls, name) if task_cls is not None else {}
            where = f" (defaults on {task}: {'the task budget' if budget else 'its own'})" if task else ""
            if task_cls is not None and entry.cls.needs_groups and task_cls.n_groups is None:
                where = f" (cannot run on {task}: needs group labels)"
            click.echo(f"{name}: {entry.card['description'].strip()}{where}")
            for p, spec in entry.cls.hparams.items():
                per = " (per model)" if p in entry.cls.per_model else ""
                value = spec.coerce(p, budget[p]) if p in budget else spec.default
                source = f"  [task {task}]" if p in budget else ""
                click.echo(f"    {p} = {value!r}  {spec.help}{_range(spec)}{per}{source}")
    else:
        for name in builtin_names():
            click.echo(f"{name}: {' '.join(load_suite(name).description.split())}")


def _range(spec) -> str:
    return "" if spec.low is None and spec.high is None else f" ({spec.range_text()})"
