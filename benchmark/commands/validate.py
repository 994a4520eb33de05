"""`aca-bench validate [PATH ...]`: registry entries checked against the schema and the contract.

Beyond the schema (`aca_bench.algorithms.registry.check_entry`), each entry's implementation is exercised the
way
the engine will use it. First one model takes two steps with its update checked against the rules of
`aca_bench.algorithms.update_contract` (what it returns, per parameter name, and no in-place change of
its inputs); then a 2-model stack of a tiny model on tiny in-memory data trains for one epoch
through `aca_bench.benchmark.engine.train_stack` and is evaluated. The parameters must stay finite, change,
and the second model must come out the same whether it trained in the stack or alone (an update that
leaks between models or mutates its inputs fails this). Every problem is one line naming file and field.
"""

import json
import math
from pathlib import Path
from typing import Any

import click
import torch
from torch import nn

from aca_bench.algorithms import registry
from aca_bench.algorithms.cards import active_source
from aca_bench.algorithms.update_contract import ContractBreach, checked, where
from aca_bench.benchmark.commands.options import registry_env_option
from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.params import resolve
from aca_bench.tasks.base import Task, TaskData

CPU = torch.device("cpu")
N_TRAIN, N_TEST, N_FEATURES, N_CLASSES = 256, 64, 8, 3


class ContractTask(Task):
    """A tiny in-memory task (not registered): 8 features, 3 classes, optionally 4 groups."""

    name = "contract-check"
    version = "1"
    params = {}
    n_classes = N_CLASSES
    default_hparams = {}

    def __init__(self, with_groups: bool) -> None:
        super().__init__()
        self.n_groups = 4 if with_groups else None

    @property
    def y_star(self) -> int:
        return 0

    def load(self) -> TaskData:
        g = torch.Generator().manual_seed(0)
        x = torch.randn(N_TRAIN + N_TEST, N_FEATURES, generator=g)
        y = torch.randint(0, N_CLASSES, (N_TRAIN + N_TEST,), generator=g)
        attr = torch.randint(0, 2, (N_TRAIN + N_TEST,), generator=g) if self.n_groups else None
        if attr is None:
            return TaskData(x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:])
        return TaskData(x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:], attr[:N_TRAIN], attr[N_TRAIN:])

    def strategy(self, x: torch.Tensor) -> torch.Tensor:
        out = x.clone()
        out[..., 0] = 4.0
        return out

    def strategy_description(self) -> dict[str, Any]:
        return {"name": "feature0"}

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        return x.float()

    def make_model(self) -> nn.Module:
        return nn.Sequential(nn.Linear(N_FEATURES, 16), nn.ReLU(), nn.Linear(16, N_CLASSES))

    def group_ids(self, y: torch.Tensor, attr: torch.Tensor) -> torch.Tensor:
        return (y % 2) * 2 + attr

    def group_names(self) -> list[str]:
        return ["g0", "g1", "g2", "g3"]


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:300]


def contract_problems(entry: registry.Entry) -> list[str]:
    """Problems found by training a 2-model stack of a tiny model with the entry's algorithm."""
    from aca_bench.benchmark.engine import evaluate, init_params, train_stack

    def bad(msg: str) -> list[str]:
        return [f"{entry.source}: implementation: {msg}"]

    cls = entry.cls
    if "epochs" not in cls.hparams:
        return bad("hparams must declare 'epochs' (the engine's training budget)")
    try:
        hp = resolve(cls.hparams, {"epochs": 1}, owner=f"algorithm '{entry.name}'")
    except BenchError as exc:
        return bad(f"default hyperparameters do not resolve: {exc.message}")
    task = ContractTask(cls.needs_groups)
    data = task.data()
    breach = _breach(entry, task, data, hp)
    if breach:
        return bad(breach)
    try:
        algo = entry.create()
        both = train_stack(task, data, algo, [hp, hp], [0.0, 0.25], [0, 1], CPU)
        alone = train_stack(task, data, entry.create(), [hp], [0.25], [1], CPU)
        metrics = evaluate(task, data, both)
    except Exception as exc:  # whatever the implementation raises is its problem, in one line
        return bad(f"one epoch on a 2-model stack of a tiny model failed: {_one_line(exc)}")
    _, start = init_params(task, [0, 1], CPU)
    problems: list[str] = []
    if set(both.params) != set(start) or any(both.params[k].shape != v.shape for k, v in start.items()):
        problems += bad("update changed the names or shapes of the parameters")
        return problems
    if not all(bool(torch.isfinite(v).all()) for v in both.params.values()):
        problems += bad("update produced non-finite parameters (NaN or inf) with the default hyperparameters")
    elif all(torch.equal(both.params[k], start[k]) for k in start):
        problems += bad("update left the parameters unchanged after one epoch")
    elif not all(torch.allclose(both.params[k][1], alone.params[k][0], rtol=1e-4, atol=1e-5) for k in start):
        problems += bad(
            "a model trained in a stack differs from the same model trained alone "
            "(does update mutate its inputs or mix models?)"
        )
    try:
        json.dumps(both.extras, allow_nan=False)
    except (TypeError, ValueError) as exc:
        problems += bad(f"prepare() records values that are not JSON numbers/strings: {_one_line(exc)}")
    if any(not math.isfinite(m["success"]) for m in metrics):
        problems += bad("evaluation gave a non-finite success")
    return problems


def _breach(entry: registry.Entry, task: Task, data: TaskData, hp: dict[str, Any]) -> str | None:
    """The first rule of the update contract (`aca_bench.algorithms.update_contract`) one model breaks in
    two steps through the engine, one model at a time, with a pointer to the update; None when it keeps
    them (or trains with its own trainer, or fails otherwise: the stack run reports that)."""
    from aca_bench.benchmark.engine import train_stack

    algo = entry.create()
    if algo.trainer(hp) is not None:
        return None
    try:
        train_stack(task, data, checked(algo), [hp], [0.25], [1], CPU, max_steps=2, vectorize=False)
    except ContractBreach as exc:
        return f"{exc} ({where(entry.cls)})"
    except Exception:  # noqa: BLE001 - reported by the 2-model stack run, in its words
        return None
    return None


def _extra_files(given: list[Path]) -> list[Path]:
    """Entry files of `given` that the active registry source does not already read."""
    known = {f.resolve() for f in active_source().files()}
    files = []
    for p in given:
        for f in sorted(p.glob("*.yaml")) if p.is_dir() else [p]:
            if f.resolve() not in known and f.resolve() not in files:
                files.append(f.resolve())
    return files


def _under(source: str, paths: list[Path]) -> bool:
    src = Path(source).resolve()
    return any(src == p or p in src.parents for p in paths)


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--schema-only", is_flag=True, help="Check the schema and imports only; do not train.")
@registry_env_option
@click.pass_context
def command(ctx: click.Context, paths: tuple[str, ...], schema_only: bool) -> None:
    """Check registry entries (folders or YAML files in PATHS, beside the installed ones).

    Every entry is checked against the schema, names are checked for duplicates, and the entries
    in PATHS (all entries when no PATHS) are trained for one epoch as a 2-model stack of a tiny model.
    Each problem is printed as one line 'FILE: FIELD: message'; the exit status is 1 when any is found.
    """
    given = [Path(p).resolve() for p in paths]
    problems = [
        f"{p}: (top): no *.yaml registry entries in this folder"
        for p in given
        if p.is_dir() and not any(p.glob("*.yaml"))
    ]
    entries, schema_problems = registry.validate(_extra_files(given))
    problems += schema_problems
    checked = [e for e in entries.values() if not given or _under(e.source, given)]
    for entry in checked:
        found = [] if schema_only else contract_problems(entry)
        problems += found
        if not found:
            click.echo(f"ok: {entry.name} ({entry.source})")
    for p in problems:
        click.echo(p)
    if problems:
        click.echo(f"{len(problems)} problem(s) found", err=True)
        ctx.exit(1)
