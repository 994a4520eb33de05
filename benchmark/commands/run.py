"""`aca-bench run SUITE`: run a built-in suite (quick, paper, ...) or a suite YAML file."""

import click

from benchmark.commands.results import print_summary
from benchmark.environment import resolve_device
from benchmark.options import device_option, out_option
from benchmark.store import Store
from benchmark.suite import load_suite
from benchmark.sweep import DEFAULT_MAX_STACK, run_sweep


@click.command()
@click.argument("suite")
@click.option("--force", is_flag=True, help="Rerun cells already in the store.")
@click.option("--max-stack", default=DEFAULT_MAX_STACK, show_default=True, type=click.IntRange(min=1),
              help="Most models trained together in one stack.")
@out_option
@device_option
def command(suite, force, max_stack, out, device) -> None:
    """Run SUITE (a built-in name or a YAML path) into --out, then print the alpha* table."""
    s = load_suite(suite)
    dev = resolve_device(device)
    click.echo(f"suite '{s.name}': {len(s.experiments)} experiment(s) on {dev.type}", err=True)
    store = Store(out)
    result = run_sweep(s.experiments, store, dev, force=force, max_stack=max_stack, desc=s.name)
    click.echo(f"{result.planned} cells: {result.skipped} already done, {result.written} trained; "
               f"results in {store.path}")
    print_summary(out, s.target)
