"""Options shared by the sweeping commands, and parsing of --set key=value overrides."""

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click

from aca_bench.algorithms import registry
from aca_bench.algorithms.cards import active_source, use
from aca_bench.benchmark.adaptive import (
    DEFAULT_MAX_ROUNDS,
    DEFAULT_RANGE,
    DEFAULT_REL_WIDTH,
    Search,
    check_search,
)
from aca_bench.benchmark.collective import check_alpha
from aca_bench.benchmark.critical import TARGET
from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.plan import AUTO, Experiment
from aca_bench.benchmark.suite import seeds_of
from aca_bench.benchmark.sweep import DEFAULT_MAX_STACK, ExecutorChoice
from aca_bench.benchmark.yaml_input import MalformedYaml, load_yaml
from aca_bench.tasks.registry import get_task


def device_option(f):
    return click.option(
        "--device",
        default="auto",
        show_default=True,
        help="auto, cpu or cuda (auto picks cuda when available).",
    )(f)


def set_option(f):
    return click.option(
        "--set",
        "sets",
        multiple=True,
        metavar="KEY=VALUE",
        help="Task parameter or hyperparameter (in a suite: of every experiment that declares it); "
        "a YAML list sweeps a grid (lr=[0.01,0.1]).",
    )(f)


def out_option(f):
    return click.option(
        "--out",
        "out",
        default="results",
        show_default=True,
        type=click.Path(file_okay=False),
        help="Results folder (the store).",
    )(f)


class FiniteFloatRange(click.FloatRange):
    """click.FloatRange that also refuses NaN (which compares false with both bounds, so passes them)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        out = super().convert(value, param, ctx)
        if not math.isfinite(out):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return out


def target_option(f):
    """--target: the success level alpha* is read at."""

    return click.option(
        "--target",
        default=TARGET,
        show_default=True,
        type=FiniteFloatRange(0, 1, min_open=True),
        help="Success target S for alpha*.",
    )(f)


REGISTRY_HELP = "Extra registry entry folder or YAML file (repeatable)."


def registry_option(f):
    """--registry: extra registry entry folders or YAML files, passed to the command as `registry_paths`."""
    return click.option(
        "--registry",
        "registry_paths",
        multiple=True,
        type=click.Path(exists=True),
        help=REGISTRY_HELP,
    )(f)


def _extend_registry(ctx: click.Context, _param: click.Parameter, paths: tuple[str, ...]) -> None:
    """Read the registry with `paths` added for this command (every registry read sees them)."""
    if paths:
        source = active_source().with_paths(Path(p).resolve() for p in paths)
        ctx.with_resource(use(source))


def registry_env_option(f):
    """--registry for commands that read the registry through `aca_bench.algorithms.registry` (sweep, run,
    list, perf, validate): the entries join the registry for the whole command."""
    return click.option(
        "--registry",
        multiple=True,
        type=click.Path(exists=True),
        expose_value=False,
        is_eager=True,
        callback=_extend_registry,
        help=REGISTRY_HELP,
    )(f)


def parse_list(text: str, option: str, convert: Callable[[str], Any] = str, what: str = "values") -> tuple:
    """A comma-separated option value as a tuple: items stripped of spaces, each `convert`ed; an empty
    item (`0.1,,0.2`, a trailing comma) or an empty list is a one-line BenchError."""
    items = [item.strip() for item in str(text).split(",")]
    if not any(items):
        raise BenchError(f"{option} expects comma-separated {what}, got {text!r}")
    for position, item in enumerate(items, start=1):
        if not item:
            raise BenchError(
                f"{option}: item {position} of {text!r} is empty; expected comma-separated {what}"
            )
    out = []
    for item in items:
        try:
            out.append(convert(item))
        except (TypeError, ValueError, OverflowError):
            raise BenchError(f"{option} expects comma-separated {what}, got {item!r} in {text!r}") from None
    return tuple(out)


def parse_alphas(text: str) -> tuple[float, ...] | str:
    """--alphas: comma-separated collective fractions, each in [0, 1], or `auto` (placed adaptively)."""
    if str(text).strip() == AUTO:
        return AUTO
    return tuple(check_alpha(a) for a in parse_list(text, "--alphas", float, "numbers"))


def stack_options(f):
    """--force and --max-stack, shared by the sweeping commands."""

    f = click.option(
        "--max-stack",
        default=None,
        type=click.IntRange(min=1),
        help="Most models trained together in one stack  [default: "
        + ", ".join(f"{n} on {d}" for d, n in DEFAULT_MAX_STACK.items())
        + "; on cuda, larger groups as wide as free memory allows].",
    )(f)
    return click.option("--force", is_flag=True, help="Rerun cells already in the store.")(f)


@dataclass(frozen=True)
class ExecutorFlags:
    """--executor, --ray-address, --ray-gpus-per-stack and --workers as given (None where not given)."""

    kind: str | None = None
    address: str | None = None
    gpus_per_stack: float | None = None
    workers: int | None = None

    def choice(self, suite_default: dict | None = None) -> ExecutorChoice:
        """The executor these flags name, falling back to a suite's `executor` block, then to local."""
        base = suite_default or {}
        return ExecutorChoice(
            self.kind or base.get("kind", "local"),
            self.address or base.get("address"),
            self.gpus_per_stack if self.gpus_per_stack is not None else base.get("gpus_per_stack"),
            workers=self.workers or 1,
        )


def executor_options(f):
    """--executor, --ray-address, --ray-gpus-per-stack, --workers, passed to the command as one
    `executor` (`ExecutorFlags`)."""

    @functools.wraps(f)
    def command(*args, executor, ray_address, ray_gpus_per_stack, workers, **kwargs):
        flags = ExecutorFlags(executor, ray_address, ray_gpus_per_stack, workers)
        return f(*args, executor=flags, **kwargs)

    command = click.option(
        "--workers",
        type=click.IntRange(min=1),
        default=None,
        help="On a CPU: train stacks in this many processes, this process's torch threads divided "
        "among them (whether that is faster depends on the machine; records then carry one-thread "
        "rounding: docs/performance.md).  [default: 1]",
    )(command)

    command = click.option(
        "--ray-gpus-per-stack",
        type=FiniteFloatRange(0, 1),
        default=None,
        help="GPU fraction per stack on Ray (several stacks share a GPU); default 1 on CUDA.",
    )(command)
    command = click.option(
        "--ray-address",
        default=None,
        metavar="auto|HOST:PORT",
        help="Ray cluster to join (default: start a local Ray for the run).",
    )(command)
    return click.option(
        "--executor",
        type=click.Choice(["local", "ray"]),
        default=None,
        help="Run stacks in this process or as Ray tasks.  [default: local]",
    )(command)


def parse_sets(pairs: tuple[str, ...], task: str, algorithm: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """--set key=value pairs split into (task params, algorithm hparams); a list value is a grid."""
    task_params: dict[str, Any] = {}
    hparams: dict[str, Any] = {}
    for pair in pairs:
        key, name, value = _split(pair)
        where = _route(key, name, task, algorithm)
        if where is None:
            raise BenchError(
                f"unknown --set key '{key}' for task '{task}' and algorithm '{algorithm}' "
                f"(task: {', '.join(get_task(task).params)}; "
                f"algorithm: {', '.join(registry.get(algorithm).cls.hparams)})"
            )
        (task_params if where == "task" else hparams)[name] = value
    return task_params, hparams


def apply_sets(experiments: tuple[Experiment, ...], pairs: tuple[str, ...]) -> tuple[Experiment, ...]:
    """A suite's experiments with each --set key=value applied wherever the task or algorithm declares
    the key (e.g. engine=opacus reaches the DP-SGD experiments only); a key nothing declares is an error."""
    out = list(experiments)
    for pair in pairs:
        key, name, value = _split(pair)
        hit = False
        for i, e in enumerate(out):
            where = _route(key, name, e.task, e.algorithm)
            if where == "task":
                out[i] = replace(e, task_params={**e.task_params, name: value})
            elif where == "algorithm":
                out[i] = replace(e, hparams={**e.hparams, name: value})
            hit = hit or where is not None
        if not hit:
            raise BenchError(f"--set {key}: no experiment's task or algorithm declares '{name}'")
    return tuple(out)


def _split(pair: str) -> tuple[str, str, Any]:
    """'key=value' -> (key, name without its task./algorithm. prefix, YAML-parsed value)."""
    key, sep, raw = pair.partition("=")
    if not sep or not key:
        raise BenchError(f"--set expects key=value, got {pair!r}")
    try:
        value = load_yaml(raw, f"--set {key}") if raw else ""
    except MalformedYaml:
        value = raw  # not YAML: the text as written
    scope, _, name = key.rpartition(".")
    if scope not in ("", "task", "algorithm"):
        raise BenchError(f"--set {key}: prefix must be 'task.' or 'algorithm.'")
    return key, name, value


def _route(key: str, name: str, task: str, algorithm: str) -> str | None:
    """'task' or 'algorithm', whichever declares `name` (a prefix in `key` decides), or None."""
    scope = key.rpartition(".")[0]
    in_task = name in get_task(task).params and scope != "algorithm"
    in_algo = name in registry.get(algorithm).cls.hparams and scope != "task"
    if in_task and in_algo:
        raise BenchError(
            f"--set {key}: both the task and the algorithm declare it; write task.{name} or algorithm.{name}"
        )
    return "task" if in_task else "algorithm" if in_algo else None


def seeds_option(f):
    """--seeds: every experiment's seeds, a count or a YAML list (`[5, 6, 7]`)."""
    return click.option(
        "--seeds", default=None, help="Seeds for every experiment: a count n (0..n-1) or a YAML list."
    )(f)


def apply_seeds(experiments: tuple[Experiment, ...], seeds: str | None) -> tuple[Experiment, ...]:
    """`experiments` at the seeds --seeds gives (unchanged without it), or a one-line BenchError."""
    if seeds is None:
        return experiments
    chosen = seeds_of(load_yaml(seeds, "--seeds"), "--seeds")
    return tuple(replace(e, seeds=chosen) for e in experiments)


def search_options(range_default: str | None):
    """--alpha-range, --rel-width and --max-rounds: how `--alphas auto` searches. A `range_default` of
    None leaves each experiment its own grid's range."""

    def wrap(f):
        f = click.option(
            "--max-rounds",
            default=DEFAULT_MAX_ROUNDS,
            show_default=True,
            type=int,
            help="With --alphas auto: at most this many rounds.",
        )(f)
        f = click.option(
            "--rel-width",
            default=DEFAULT_REL_WIDTH,
            show_default=True,
            type=float,
            help="With --alphas auto: close brackets to this width over their centre (0.4: alphas at most "
            "1.49x apart) and stop when alpha*'s interval is the bracket.",
        )(f)
        return click.option(
            "--alpha-range",
            default=range_default,
            show_default=range_default is not None,
            metavar="LO,HI",
            help="With --alphas auto: the alphas searched"
            + ("." if range_default else " [default: each experiment's grid, smallest positive to largest]."),
        )(f)

    return wrap


def parse_search(alpha_range: str | None, rel_width: float, max_rounds: int) -> tuple[tuple | None, Search]:
    """(--alpha-range as numbers or None, the Search of --rel-width and --max-rounds), each checked."""
    lo_hi = None if alpha_range is None else parse_list(alpha_range, "--alpha-range", float, "numbers LO,HI")
    search = check_search(list(lo_hi or DEFAULT_RANGE), rel_width, max_rounds, where="--")
    return (None if lo_hi is None else search.alpha_range), search
