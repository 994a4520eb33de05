"""`aca-bench list tasks|algorithms|suites`."""

import click

from algorithms import registry
from benchmark.suite import builtin_names, load_suite
from tasks.registry import all_tasks


@click.command("list")
@click.argument("what", type=click.Choice(["tasks", "algorithms", "suites"]))
def command(what: str) -> None:
    """List registered tasks, algorithms or built-in suites with their parameters."""
    if what == "tasks":
        for name, cls in all_tasks().items():
            click.echo(f"{name} (v{cls.version}): {(cls.__doc__ or '').strip()}")
            for p, spec in cls.params.items():
                click.echo(f"    {p} = {spec.default!r}  {spec.help}")
    elif what == "algorithms":
        for name, entry in registry.load().items():
            click.echo(f"{name}: {entry.card['description']}")
            for p, spec in entry.cls.hparams.items():
                per = " (per model)" if p in entry.cls.per_model else ""
                click.echo(f"    {p} = {spec.default!r}  {spec.help}{per}")
    else:
        for name in builtin_names():
            click.echo(f"{name}: {' '.join(load_suite(name).description.split())}")
