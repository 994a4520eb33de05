"""Suite experiments -> cells (task x algorithm config x alpha x seed) -> stackable groups."""

import hashlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from aca_bench.algorithms import registry
from aca_bench.benchmark import adaptive
from aca_bench.benchmark.budget import applicable, task_budget
from aca_bench.benchmark.collective import check_alpha
from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.ids import canonical
from aca_bench.benchmark.params import resolve
from aca_bench.tasks.registry import get_task

AUTO = "auto"  # `alphas: auto`: placed by the adaptive search


@dataclass(frozen=True)
class Cell:
    """One training run: everything that determines its result, and the algorithm's registry entry
    (resolved once, where the cell is made; left out of equality, and resolved from the active registry
    when not given)."""

    experiment: str
    task: str
    task_version: str
    task_params: dict[str, Any]
    algorithm: str
    hparams: dict[str, Any]
    alpha: float
    seed: int
    task_paths: dict[str, Any] = field(default_factory=dict)  # data locations: not identity
    entry: registry.Entry = field(default=None, compare=False, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.entry is None:
            object.__setattr__(self, "entry", registry.get(self.algorithm))

    def make_task(self):
        """The cell's task instance."""
        return get_task(self.task)(**self.task_params, **self.task_paths)

    def config(self) -> dict[str, Any]:
        return {
            "task": {"name": self.task, "version": self.task_version, "params": self.task_params},
            "algorithm": {"name": self.algorithm, "hparams": self.hparams},
            "alpha": self.alpha,
            "seed": self.seed,
        }

    @property
    def run_id(self) -> str:
        return hashlib.sha256(canonical(self.config()).encode()).hexdigest()[:16]

    def group_key(self, per_model: tuple[str, ...]) -> str:
        """Cells with equal keys can train in one stack (hparams in `per_model` may differ)."""
        shared = {k: v for k, v in self.hparams.items() if k not in per_model}
        return canonical([self.task, self.task_version, self.task_params, self.algorithm, shared])


@dataclass(frozen=True)
class Experiment:
    """One block of a suite: a task, an algorithm, a hyperparameter grid, alphas and seeds.

    `alphas` is a grid, or AUTO: then each configuration's alphas are placed round by round
    (`aca_bench.benchmark.adaptive`) within `alpha_range` until alpha* is known to `rel_width`, or for at most
    `max_rounds` rounds."""

    name: str
    task: str
    algorithm: str
    alphas: tuple[float, ...] | str
    seeds: tuple[int, ...]
    task_params: dict[str, Any]
    hparams: dict[str, Any]  # a list value is a grid axis
    alpha_range: tuple[float, float] = adaptive.DEFAULT_RANGE
    rel_width: float = adaptive.DEFAULT_REL_WIDTH
    max_rounds: int = adaptive.DEFAULT_MAX_ROUNDS
    # the suite's training budget (`aca_bench.benchmark.budget`)
    budget: dict[str, Any] = field(default_factory=dict)

    @property
    def search(self) -> adaptive.Search | None:
        """How the alphas are searched, or None for a fixed grid."""
        if self.alphas != AUTO:
            return None
        return adaptive.Search(self.alpha_range, self.rel_width, self.max_rounds)


def configurations(exp: Experiment) -> list[Cell]:
    """One cell per hyperparameter combination of the experiment, at alpha 0 and its first seed: the
    template its cells at other alphas and seeds are made from (`dataclasses.replace`)."""
    task_cls = get_task(exp.task)
    task = task_cls(**exp.task_params)
    entry = registry.get(exp.algorithm)
    axes = {k: (v if isinstance(v, list) else [v]) for k, v in exp.hparams.items()}
    known = entry.cls.hparams
    spec = task_cls.params
    identity = {k: v for k, v in task.p.items() if spec[k].in_identity(v)}
    paths = {k: v for k, v in task.p.items() if not spec[k].identity}
    if entry.cls.needs_groups and task_cls.n_groups is None:
        raise BenchError(f"algorithm '{exp.algorithm}' needs group labels; task '{exp.task}' has none")
    out = []
    for combo in itertools.product(*axes.values()):
        given = task_budget(task_cls, exp.algorithm) | applicable(exp.budget, entry.cls)
        given.update(dict(zip(axes, combo, strict=True)))
        hp = resolve(known, given, owner=f"algorithm '{exp.algorithm}'")
        out.append(
            Cell(
                exp.name,
                exp.task,
                task_cls.version,
                identity,
                exp.algorithm,
                hp,
                0.0,
                exp.seeds[0],
                paths,
                entry,
            )
        )
    return out


def expand(exp: Experiment) -> list[Cell]:
    """All cells of a fixed-grid experiment; alpha 0 is always included."""
    if exp.search is not None:
        raise BenchError(
            f"experiment '{exp.name}': alphas: auto has no fixed cells (see aca_bench.benchmark.adaptive)"
        )
    alphas = sorted({0.0, *(check_alpha(a) for a in exp.alphas)})
    return [
        replace(t, alpha=alpha, seed=seed)
        for t in configurations(exp)
        for alpha, seed in itertools.product(alphas, exp.seeds)
    ]


def group_cells(cells: list[Cell], max_stack: int | Callable[[list[Cell]], int]) -> list[list[Cell]]:
    """Cells split into stacks: same group key, at most `max_stack` each (1 if not stackable);
    `max_stack` may be a function of the group's cells (`aca_bench.benchmark.sizing.fitted_width`)."""
    groups: dict[str, list[Cell]] = {}
    for c in cells:
        groups.setdefault(c.group_key(c.entry.cls.per_model), []).append(c)
    out = []
    for members in groups.values():
        if not members[0].entry.cls.stackable:
            size = 1
        else:
            size = max_stack(members) if callable(max_stack) else max_stack
        out += [members[i : i + size] for i in range(0, len(members), max(1, size))]
    return out
