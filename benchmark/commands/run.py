"""`aca-bench run SUITE`: run a built-in suite (quick, paper, ...) or a suite YAML file."""

from dataclasses import replace

import click

from aca_bench.benchmark.commands.options import (
    ExecutorFlags,
    apply_sets,
    device_option,
    executor_options,
    out_option,
    registry_env_option,
    set_option,
    stack_options,
)
from aca_bench.benchmark.commands.results import checked_store, report_sweep
from aca_bench.benchmark.environment import resolve_device
from aca_bench.benchmark.suite import load_suite, with_algorithms
from aca_bench.benchmark.sweep import run_sweep


@click.command()
@click.argument("suite")
@stack_options
@click.option(
    "--algorithm",
    "algorithms",
    multiple=True,
    metavar="NAME",
    help="Run every experiment with this registry algorithm (and its entry's grid) instead "
    "of the suite's own; repeatable.",
)
@set_option
@registry_env_option
@out_option
@device_option
@executor_options
def command(
    suite,
    force,
    max_stack,
    algorithms,
    sets,
    out,
    device,
    executor: ExecutorFlags,
) -> None:
    """Run SUITE (a built-in name or a YAML path) into --out, then print the alpha* table."""
    s = load_suite(suite)
    if algorithms:
        s = with_algorithms(s, algorithms)
    if sets:
        s = replace(s, experiments=apply_sets(s.experiments, sets))
    dev = resolve_device(device)
    click.echo(f"suite '{s.name}': {len(s.experiments)} experiment(s) on {dev.type}", err=True)
    store = checked_store(out)
    result = run_sweep(
        s.experiments,
        store,
        dev,
        force=force,
        max_stack=max_stack,
        desc=s.name,
        executor=executor.choice(s.executor),
        target=s.target,
    )
    report_sweep(result, store, s.target)
