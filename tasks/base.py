"""The task contract: data as device tensors, the strategy g, the target label y*, a model factory."""

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from aca_bench.benchmark.params import Param, resolve
from aca_bench.tasks import splits


@dataclass
class TaskData:
    """Train and test tensors of a task. `attr_*` carries the group attribute where the task has groups."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    attr_train: torch.Tensor | None = None
    attr_test: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> "TaskData":
        """A copy with every tensor on `device`."""
        moved = {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in vars(self).items()}
        return TaskData(**moved)


@dataclass(frozen=True)
class Download:
    """Data a task can fetch where the internet is reachable (`aca-bench data fetch NAME`).

    `fetch(folder)` downloads into `folder` (`default_dir` unless --dir says otherwise) and returns where
    the data is; with `default_dir` None it takes no folder (the data goes to a fixed cache). `done` is
    the line printed after, with `{path}` the returned path."""

    name: str
    description: str
    fetch: Callable[..., Path]
    done: str
    default_dir: str | None = None


class Task(ABC):
    """A benchmark task. Subclasses declare `name`, `version`, `params` and implement the hooks below.

    `x` tensors are in the task's raw representation (e.g. uint8 pixels); `strategy` acts on raw
    batches of any leading shape and `preprocess` turns raw batches into model inputs. Every task also
    takes the parameters of `aca_bench.tasks.splits` (`eval_split`, `n_train`, `subset_seed`): `load` reads
    the
    task's own splits and `data` is what its cells train and are scored on.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    params: ClassVar[dict[str, Param]]
    n_classes: ClassVar[int]
    n_groups: ClassVar[int | None] = None
    # The training budget every algorithm on this task takes where it declares the hyperparameter
    # ({"lr": 0.02, "epochs": 10, ...}), unless it keeps its own (`Algorithm.own_budget`); and the
    # hyperparameters the task sets for one algorithm by name, over the budget. See
    # `aca_bench.benchmark.budget`.
    budget: ClassVar[dict[str, Any]] = {}
    default_hparams: ClassVar[dict[str, dict[str, Any]]] = {}
    # Full-size data the task can use, fetched with `aca-bench data fetch NAME`.
    downloads: ClassVar[tuple[Download, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "params" in cls.__dict__:
            cls.params = {**cls.params, **splits.SPLIT_PARAMS}

    def __init__(self, **params: Any) -> None:
        self.p = resolve(self.params, params, owner=f"task '{self.name}'")

    @property
    def y_star(self) -> int:
        """The collective's target label."""
        return int(self.p["y_star"])

    @abstractmethod
    def load(self) -> TaskData:
        """Read the task's data (CPU tensors); raises BenchError when a data directory is missing."""

    def data(self) -> TaskData:
        """The examples cells train and are scored on: `load()` with the validation split and the
        n_train subsample of this task's parameters applied."""
        return splits.carve(self.load(), self.p)

    @abstractmethod
    def strategy(self, x: torch.Tensor) -> torch.Tensor:
        """g: the collective's signal planted in a raw batch (any leading dims); returns a new tensor."""

    @abstractmethod
    def strategy_description(self) -> dict[str, Any]:
        """What g does, as a small JSON-able dict recorded with every run."""

    @abstractmethod
    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """Raw batch -> float model input."""

    @abstractmethod
    def make_model(self) -> nn.Module:
        """A freshly initialised model (no BatchNorm: the engine stacks models functionally)."""

    def group_ids(self, y: torch.Tensor, attr: torch.Tensor) -> torch.Tensor:
        """Group id of each example from its (possibly relabelled) label and its attribute."""
        raise NotImplementedError(f"task '{self.name}' has no groups")

    def group_names(self) -> list[str]:
        """Readable name of each group id."""
        return []
