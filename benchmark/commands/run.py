"""`aca-bench run SUITE`: run a built-in suite (quick, paper, ...) or a suite YAML file."""

from dataclasses import replace

import click

from aca_bench.benchmark.budget import budget_mismatches
from aca_bench.benchmark.commands.options import (
    ExecutorFlags,
    apply_seeds,
    apply_sets,
    device_option,
    executor_options,
    out_option,
    parse_alphas,
    parse_search,
    registry_env_option,
    search_options,
    seeds_option,
    set_option,
    stack_options,
)
from aca_bench.benchmark.commands.results import checked_store, report_sweep
from aca_bench.benchmark.environment import resolve_device
from aca_bench.benchmark.plan import configurations
from aca_bench.benchmark.suite import load_suite, with_algorithms, with_alphas
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
@seeds_option
@click.option(
    "--alphas",
    default=None,
    help="Every experiment's alphas: comma-separated fractions in [0, 1], or 'auto': placed round by "
    "round (over each experiment's grid unless --alpha-range) until alpha* is known to --rel-width.",
)
@search_options(None)
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
    seeds,
    alphas,
    alpha_range,
    rel_width,
    max_rounds,
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
    s = replace(s, experiments=apply_seeds(s.experiments, seeds))
    if alphas is not None:
        lo_hi, search = parse_search(alpha_range, rel_width, max_rounds)
        s = replace(s, experiments=with_alphas(s.experiments, parse_alphas(alphas), lo_hi, search))
    dev = resolve_device(device)
    click.echo(f"suite '{s.name}': {len(s.experiments)} experiment(s) on {dev.type}", err=True)
    for line in budget_mismatches([t for e in s.experiments for t in configurations(e)]):
        click.echo(f"warning: {line}", err=True)
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
