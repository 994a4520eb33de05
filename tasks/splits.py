"""Which examples a task's cells train and are scored on: a validation split carved from the training
data (for choosing hyperparameters without touching the test set) and a stratified `n_train` subsample.

Both are declared once here and added to every task's parameters (`aca_bench.tasks.base.Task`). Both are
seeded
and deterministic, stratified by label (and by the group attribute where the task has one), and stay out
of a run's identity while at their defaults, so run ids of cells that use neither are unchanged.
"""

from typing import TYPE_CHECKING

import torch

from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.params import Param

if TYPE_CHECKING:
    from aca_bench.tasks.base import TaskData

VAL_SEED = 0  # the validation carve is the same for every cell, whatever its subset_seed

SPLIT_PARAMS = {
    "eval_split": Param(
        "test",
        str,
        "what cells are scored on: test, or val (a stratified fifth of the training data, "
        "which is then left out of training; for choosing hyperparameters)",
        choices=("test", "val"),
        in_id_at_default=False,
    ),
    "n_train": Param(
        None,
        int,
        "train on a stratified subsample of this many training examples (default: all)",
        nullable=True,
        low=1,
        in_id_at_default=False,
    ),
    "subset_seed": Param(0, int, "seed of the n_train subsample", in_id_at_default=False),
    "val_collective": Param(
        False,
        bool,
        "with eval_split val: the collective also holds the fraction alpha of the validation split (its "
        "members there carry the signal and y*, and clean and group accuracies count them), as when "
        "the platform carves its validation data from what the collective contributes to",
        in_id_at_default=False,
    ),
}
VAL_FRACTION = 0.2


def strata(y: torch.Tensor, attr: torch.Tensor | None) -> torch.Tensor:
    """Stratum id of each example: its label, crossed with its attribute where there is one."""
    y = y.long()
    if attr is None:
        return y
    return y * (int(attr.max()) + 1) + attr.long()


def stratified_pick(stratum: torch.Tensor, k: int, seed: int) -> torch.Tensor:
    """Indices (sorted) of k examples drawn without replacement, each stratum in proportion to its size
    (within one example). Ranks each example in a seeded shuffle of its stratum and keeps the k smallest
    (rank + 0.5) / stratum size."""
    n = stratum.shape[0]
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n, generator=gen)
    s = stratum[perm]
    order = torch.argsort(s, stable=True)
    sizes = torch.bincount(s)
    starts = torch.cumsum(sizes, 0) - sizes
    rank = torch.empty(n, dtype=torch.long)
    rank[order] = torch.arange(n) - starts[s[order]]
    key = (rank.double() + 0.5) / sizes[s].double()
    keep = torch.argsort(key, stable=True)[:k]
    return torch.sort(perm[keep]).values


def carve(data: "TaskData", p: dict) -> "TaskData":
    """`data` (a TaskData) with the validation split and the n_train subsample of `p` applied."""
    if p["val_collective"] and p["eval_split"] != "val":
        raise BenchError(
            "parameter 'val_collective' needs eval_split val: the test set never holds the collective"
        )
    if p["eval_split"] == "val":
        n = data.x_train.shape[0]
        val = stratified_pick(strata(data.y_train, data.attr_train), round(VAL_FRACTION * n), VAL_SEED)
        rest = torch.ones(n, dtype=torch.bool)
        rest[val] = False
        data = type(data)(
            data.x_train[rest],
            data.y_train[rest],
            data.x_train[val],
            data.y_train[val],
            None if data.attr_train is None else data.attr_train[rest],
            None if data.attr_train is None else data.attr_train[val],
        )
    k = p["n_train"]
    if k is not None:
        available = data.x_train.shape[0]
        if not 1 <= k <= available:
            raise BenchError(f"parameter 'n_train' must be in [1, {available}] here, got {k}")
        keep = stratified_pick(strata(data.y_train, data.attr_train), k, p["subset_seed"])
        data = type(data)(
            data.x_train[keep],
            data.y_train[keep],
            data.x_test,
            data.y_test,
            None if data.attr_train is None else data.attr_train[keep],
            data.attr_test,
        )
    return data
