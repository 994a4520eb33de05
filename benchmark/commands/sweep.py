"""`aca-bench sweep`: one task x one algorithm over an alpha grid, seeds and --set overrides."""

import click

from aca_bench.benchmark.adaptive import DEFAULT_RANGE
from aca_bench.benchmark.commands.options import (
    ExecutorFlags,
    device_option,
    executor_options,
    out_option,
    parse_alphas,
    parse_search,
    parse_sets,
    registry_env_option,
    search_options,
    set_option,
    stack_options,
    target_option,
)
from aca_bench.benchmark.commands.results import checked_store, report_sweep
from aca_bench.benchmark.environment import resolve_device
from aca_bench.benchmark.plan import AUTO, Experiment
from aca_bench.benchmark.sweep import run_sweep


@click.command()
@click.option("--task", required=True, help="Task name (see `aca-bench list tasks`).")
@click.option("--algorithm", required=True, help="Algorithm name (see `aca-bench list algorithms`).")
@click.option(
    "--alphas",
    default="0,0.001,0.002,0.005,0.01,0.02,0.05",
    show_default=True,
    help="Comma-separated collective fractions in [0, 1] (0 is always added), or 'auto': placed round "
    "by round until alpha* is known to --rel-width.",
)
@search_options(",".join(f"{a:g}" for a in DEFAULT_RANGE))
@click.option("--seeds", default=3, show_default=True, type=click.IntRange(min=1), help="Seeds 0..N-1.")
@set_option
@registry_env_option
@target_option
@stack_options
@out_option
@device_option
@executor_options
def command(
    task,
    algorithm,
    alphas,
    alpha_range,
    rel_width,
    max_rounds,
    seeds,
    sets,
    target,
    force,
    max_stack,
    out,
    device,
    executor: ExecutorFlags,
) -> None:
    """Sweep alpha x seeds for one task and algorithm, then print S(alpha) and alpha*."""
    task_params, hparams = parse_sets(sets, task, algorithm)
    grid = parse_alphas(alphas)
    search = {}
    if grid == AUTO:
        _, s = parse_search(alpha_range, rel_width, max_rounds)
        search = {"alpha_range": s.alpha_range, "rel_width": s.rel_width, "max_rounds": s.max_rounds}
    exp = Experiment(
        f"{task}-{algorithm}", task, algorithm, grid, tuple(range(seeds)), task_params, hparams, **search
    )
    store = checked_store(out)
    result = run_sweep(
        [exp],
        store,
        resolve_device(device),
        force=force,
        max_stack=max_stack,
        executor=executor.choice(),
        target=target,
    )
    report_sweep(result, store, target)
