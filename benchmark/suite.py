"""Suites: YAML files (built in under benchmark/suites/ or a path) describing experiments to sweep."""

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from aca_bench.algorithms import registry
from aca_bench.benchmark.adaptive import Search, check_search
from aca_bench.benchmark.critical import TARGET
from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.plan import AUTO, Experiment
from aca_bench.benchmark.sweep import ExecutorChoice
from aca_bench.benchmark.yaml_input import read_yaml
from aca_bench.tasks.registry import get_task

BUILTIN = Path(__file__).parent / "suites"
_EXPERIMENT_FIELDS = {f.name for f in fields(Experiment)}
_INPUT_ONLY_FIELDS = {"members"}  # alphas given as counts of examples; becomes `alphas`
_SEARCH_FIELDS = ("alpha_range", "rel_width", "max_rounds")  # with `alphas: auto` only
_EXECUTOR_FIELDS = {f.name for f in fields(ExecutorChoice)} - {"options"}  # options: Python callers only


@dataclass(frozen=True)
class Suite:
    """A named list of experiments with the success target used for alpha*."""

    name: str
    description: str
    target: float
    experiments: tuple[Experiment, ...]
    executor: dict | None = None  # optional {kind: local|ray, address: ..., gpus_per_stack: ...}


def builtin_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN.glob("*.yaml"))


def load_suite(name_or_path: str) -> Suite:
    """A built-in suite by name, or a suite YAML file by path."""
    path = Path(name_or_path)
    if not path.is_file():
        if name_or_path not in builtin_names():
            raise BenchError(
                f"unknown suite '{name_or_path}': not a file, and not a built-in suite "
                f"({', '.join(builtin_names())})"
            )
        path = BUILTIN / f"{name_or_path}.yaml"
    return parse_suite(read_yaml(path), str(path))


def with_algorithms(suite: Suite, names: list[str] | tuple[str, ...]) -> Suite:
    """The suite run by the named registry algorithms instead of its own.

    An algorithm the suite already configures keeps its own experiments. Any other runs once per task,
    on the task's first experiment (its alphas, seeds, task parameters): the entry's `grid` replaces
    the experiment's values of those hyperparameters, hyperparameters the algorithm does not declare
    are dropped, and tasks without groups are left out for an algorithm that needs them.
    """
    out = []
    for name in names:
        own = [e for e in suite.experiments if e.algorithm == name]
        if own:
            out += own
            continue
        entry = registry.get(name)
        first_per_task: dict[str, Experiment] = {}
        for e in suite.experiments:
            first_per_task.setdefault(e.task, e)
        for e in first_per_task.values():
            if entry.cls.needs_groups and get_task(e.task).n_groups is None:
                continue
            hparams = {k: v for k, v in e.hparams.items() if k in entry.cls.hparams}
            hparams.update(entry.card.get("grid") or {})
            out.append(replace(e, name=f"{e.task}/{name}", algorithm=name, hparams=hparams))
    if not out:
        raise BenchError(f"suite '{suite.name}' has no experiment on a task that {', '.join(names)} can run")
    return replace(suite, experiments=tuple(out))


def parse_suite(doc: Any, source: str) -> Suite:
    """Validate a parsed suite document; every problem names the file and field."""
    if not isinstance(doc, dict):
        raise BenchError(f"{source}: a suite must be a mapping with 'experiments'")
    _no_unknown(doc, {f.name for f in fields(Suite)} | {"budget"}, source)
    exps = doc.get("experiments")
    if not isinstance(exps, list) or not exps:
        raise BenchError(f"{source}: experiments: must be a non-empty list")
    target = doc.get("target", TARGET)
    if not isinstance(target, int | float) or not 0 < target <= 1:
        raise BenchError(f"{source}: target: must be a number in (0, 1], got {target!r}")
    budget = _mapping(doc.get("budget", {}), f"{source}: budget")
    parsed = tuple(_experiment(e, f"{source}: experiments[{i}]", budget) for i, e in enumerate(exps))
    names = [e.name for e in parsed]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise BenchError(f"{source}: experiments: name '{dup}' is used twice")
    executor = doc.get("executor")
    if executor is not None and (
        not isinstance(executor, dict) or executor.get("kind", "local") not in ("local", "ray")
    ):
        raise BenchError(f"{source}: executor: must be a mapping with kind local or ray")
    if executor is not None:
        _no_unknown(executor, _EXECUTOR_FIELDS, f"{source}: executor")
    return Suite(
        str(doc.get("name", Path(source).stem)),
        str(doc.get("description", "")),
        float(target),
        parsed,
        executor,
    )


def _experiment(e: Any, where: str, budget: dict[str, Any]) -> Experiment:
    if not isinstance(e, dict):
        raise BenchError(f"{where}: must be a mapping")
    _no_unknown(e, _EXPERIMENT_FIELDS | _INPUT_ONLY_FIELDS, where)
    for fld in ("task", "algorithm"):
        if fld not in e:
            raise BenchError(f"{where}: {fld}: required field is missing")
    task_params = _mapping(e.get("task_params", {}), f"{where}: task_params")
    if "members" in e and "alphas" in e:
        raise BenchError(f"{where}: members: give alphas or members, not both")
    if "members" in e:
        e = {**e, "alphas": members_to_alphas(e["members"], task_params, where)}
    elif "alphas" not in e:
        raise BenchError(f"{where}: alphas: required field is missing (or give members)")
    alphas, search = _alphas(e, where)
    return Experiment(
        name=str(e.get("name", f"{e['task']}-{e['algorithm']}")),
        task=str(e["task"]),
        algorithm=str(e["algorithm"]),
        alphas=alphas,
        seeds=seeds_of(e.get("seeds", 3), where),
        task_params=task_params,
        hparams=_mapping(e.get("hparams", {}), f"{where}: hparams"),
        budget=budget | _mapping(e.get("budget", {}), f"{where}: budget"),
        **search,
    )


def members_to_alphas(members: Any, task_params: dict, where: str) -> list[float]:
    """Collective sizes in examples -> alphas m / n_train (the experiment's `task_params.n_train`).

    alpha * n_train rounds back to exactly m members (`aca_bench.benchmark.collective.collective_size`).
    """
    n = task_params.get("n_train")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise BenchError(f"{where}: members: needs task_params.n_train (a positive int) to turn into alphas")
    if (
        not isinstance(members, list)
        or not members
        or not all(isinstance(m, int) and not isinstance(m, bool) and 0 <= m <= n for m in members)
    ):
        raise BenchError(f"{where}: members: must be a list of ints in [0, n_train = {n}], got {members!r}")
    return [m / n for m in members]


def _no_unknown(doc: dict, known: set[str], where: str) -> None:
    """BenchError naming the first field of `doc` that is not in `known`."""
    unknown = sorted(map(str, set(doc) - known))
    if unknown:
        raise BenchError(f"{where}: {unknown[0]}: unknown field (known: {', '.join(sorted(known))})")


def _alphas(e: dict, where: str) -> tuple[tuple[float, ...] | str, dict]:
    """`alphas` (a list of numbers, or `auto`) and, with `auto`, the search settings given."""
    alphas = e["alphas"]
    given = [f for f in _SEARCH_FIELDS if f in e]
    if alphas == AUTO:
        s = Search()
        values = {f: e.get(f, getattr(s, f)) for f in _SEARCH_FIELDS}
        search = check_search(values["alpha_range"], values["rel_width"], values["max_rounds"], f"{where}: ")
        return AUTO, {f: getattr(search, f) for f in _SEARCH_FIELDS}
    if not isinstance(alphas, list) or not all(isinstance(a, int | float) for a in alphas):
        raise BenchError(f"{where}: alphas: must be a list of numbers or 'auto'")
    if given:
        raise BenchError(f"{where}: {given[0]}: only with alphas: auto")
    return tuple(float(a) for a in alphas), {}


def seeds_of(value: Any, where: str) -> tuple[int, ...]:
    """An int n means seeds 0..n-1; a list gives the seeds themselves."""
    if isinstance(value, bool):
        raise BenchError(f"{where}: seeds: must be a positive int or a list of ints")
    if isinstance(value, int) and value > 0:
        return tuple(range(value))
    if (
        isinstance(value, list)
        and value
        and all(isinstance(s, int) and not isinstance(s, bool) for s in value)
    ):
        return tuple(value)
    raise BenchError(f"{where}: seeds: must be a positive int or a list of ints, got {value!r}")


def _mapping(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise BenchError(f"{where}: must be a mapping")
    bad = [k for k in value if not isinstance(k, str)]
    if bad:
        raise BenchError(f"{where}: {bad[0]!r}: a parameter name must be text")
    return dict(value)


def with_alphas(
    experiments: tuple[Experiment, ...] | list[Experiment],
    alphas: tuple[float, ...] | str,
    alpha_range: tuple[float, float] | None = None,
    search: Search | None = None,
) -> tuple[Experiment, ...]:
    """The experiments with their alphas replaced: by a grid, or by AUTO, each then searching
    `alpha_range` or, without one, its own grid's range (smallest positive alpha to largest), with
    `search`'s rel_width and max_rounds. An experiment already `auto` keeps its own search unless
    `alpha_range` is given."""
    out = []
    for e in experiments:
        if alphas != AUTO:
            out.append(replace(e, alphas=tuple(alphas)))
            continue
        if e.search is not None and alpha_range is None:
            out.append(e)
            continue
        s = search or Search()
        if alpha_range is not None:
            lo_hi = alpha_range
        else:
            grid = [a for a in e.alphas if a > 0]
            if len(grid) < 2:
                raise BenchError(
                    f"experiment '{e.name}': --alphas auto needs two positive alphas in its grid"
                )
            lo_hi = (min(grid), max(grid))
        checked = check_search(list(lo_hi), s.rel_width, s.max_rounds, where="--")
        out.append(
            replace(
                e,
                alphas=AUTO,
                alpha_range=checked.alpha_range,
                rel_width=checked.rel_width,
                max_rounds=checked.max_rounds,
            )
        )
    return tuple(out)
