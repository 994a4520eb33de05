"""The algorithm contract: declared hyperparameters and a per-model update the engine vectorizes.

An algorithm writes `update` for ONE model: parameters and state are dicts of tensors, the batch is a
dict of tensors with a leading batch dimension (`BATCH_KEYS`). The engine runs it over a stack of models
with `torch.func.vmap`, so `update` must be pure tensor code: no Python branching on tensor values, no
in-place updates of its inputs, randomness only from `aca_bench.benchmark.rng` with the batch's `key`.

Training may run in stages (`stages`; one by default): each starts from the models' initial parameters
with a fresh state from `init_state`, and `end_stage` passes what a finished stage's models got right
and wrong on their training examples into the next stage's state (JTT's error set).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from aca_bench.benchmark.params import Param

if TYPE_CHECKING:
    from aca_bench.benchmark.engine import Stack
    from aca_bench.tasks.base import Task, TaskData

Tensors = dict[str, torch.Tensor]

# What a batch holds, per example unless said: `x` (model inputs), `y` (labels, y* for the collective's
# members), `mask` (1.0 for a real example, 0.0 for an empty slot of a padded Poisson batch), `index`
# (the example's position in the training set, 0..n_train-1: the key of per-example state), `group`
# (group ids, on tasks with groups), `key` (one per model, not per example: the seed of `rng`). Which
# examples are the collective's is never in a batch.
BATCH_KEYS = ("x", "y", "mask", "index", "group", "key")


@dataclass(frozen=True)
class Setting:
    """What `init_state` is told: the training set's size, the task's number of groups (None without
    groups), the stack's hyperparameters (those in `per_model` may differ between its models: read
    them in `update` from `values`) and the stage about to train."""

    n_train: int
    n_groups: int | None
    hp: dict[str, Any]
    stage: str


@dataclass(frozen=True)
class Stage:
    """One stage of training: a name and its epochs over the training set."""

    name: str
    epochs: int


class Trainer(Protocol):
    """Trains one model per (hparams, alpha, seed) of a stack of cells and returns them as a `Stack`, so
    evaluation is the same whichever trainer ran: the engine's `train_stack`, or the trainer an algorithm
    returns from `Algorithm.trainer` (DP-SGD's Opacus reference, `train_opacus`). `on_epoch` is called
    with the fraction of an epoch done since its last call."""

    def __call__(
        self,
        task: "Task",
        data: "TaskData",
        algo: "Algorithm",
        hps: list[dict[str, Any]],
        alphas: list[float],
        seeds: list[int],
        device: torch.device,
        on_epoch: Callable[[float], None] | None = None,
    ) -> "Stack": ...


@dataclass(frozen=True)
class NaiveLoop:
    """The loop a researcher would write for an algorithm, one model at a time, that `aca-bench perf`
    times the engine against: `run(task, data, hp, models, device)` trains `models` models and returns
    the seconds their training took (one-off set-up, such as a noise calibration, left out); `path`
    names its row."""

    path: str
    run: Callable[["Task", "TaskData", dict[str, Any], int, torch.device], float]


@dataclass(frozen=True)
class Sampling:
    """How the engine draws batches: `shuffle` (epochs of disjoint batches), `poisson` (rate q) or
    `balanced` (with replacement, every group equally likely; needs a task with groups).

    For `poisson` the engine returns `batch_size` slots per step (the cap) with a 0/1 `mask`.
    """

    kind: str
    batch_size: int
    steps_per_epoch: int
    rate: float = 0.0


@dataclass
class Prepared:
    """Per-model numbers an update needs (stacked into [K] tensors) and extras to record."""

    values: dict[str, float]
    record: dict[str, Any] = field(default_factory=dict)


PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}


class FunctionalModel:
    """A module used functionally: the engine passes one model's parameters explicitly.

    With `precision` bf16 the forward pass (and so its backward) runs under autocast: convolutions and
    matrix products in bfloat16, parameters, losses and updates in float32. Logits come back float32.
    """

    def __init__(self, module: nn.Module, precision: str = "fp32") -> None:
        self.module = module
        self.autocast_dtype = PRECISIONS[precision]

    def logits(self, params: Tensors, x: torch.Tensor) -> torch.Tensor:
        if self.autocast_dtype is None:
            return functional_call(self.module, params, (x,))
        with torch.autocast(x.device.type, dtype=self.autocast_dtype):
            return functional_call(self.module, params, (x,)).float()

    def losses(self, params: Tensors, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-example cross-entropy."""
        return F.cross_entropy(self.logits(params, x), y, reduction="none")


class Algorithm:
    """Base class. Subclasses set the class variables and implement `update`."""

    name: ClassVar[str]
    hparams: ClassVar[dict[str, Param]]
    # Hyperparameters that may differ between models of one stack (numbers read from `Prepared`).
    per_model: ClassVar[tuple[str, ...]] = ()
    needs_groups: ClassVar[bool] = False
    stackable: ClassVar[bool] = True
    # The step is one plain backward pass of the model (no per-example gradients), so the time of the
    # model's convolution kernels alone (`aca_bench.benchmark.perf.ceiling`) bounds an in-turn engine.
    plain_backward: ClassVar[bool] = False
    # The algorithm keeps its own training budget: a task's or suite's `budget` does not apply to it
    # (DP-SGD, whose learning rate and epochs are tuned with its privacy accounting).
    own_budget: ClassVar[bool] = False

    def sampling(self, hp: dict[str, Any], n_train: int) -> Sampling:
        """Batches as plain minibatch SGD draws them; override for other samplers."""
        b = min(int(hp["batch_size"]), n_train)
        return Sampling("shuffle", b, n_train // b)

    def prepare(self, hp: dict[str, Any], n_train: int, n_groups: int | None) -> Prepared:
        """Per-model numbers for `update` (default: the `per_model` hyperparameters as floats)."""
        return Prepared({k: float(hp[k]) for k in self.per_model})

    def trainer(self, hp: dict[str, Any]) -> Trainer | None:
        """A `Trainer` to use instead of the stacked engine for cells with hparams `hp`, or None (default).
        Use it for paths that cannot be stacked, e.g. a reference implementation that trains one model at
        a time."""
        return None

    def naive_loop(self) -> NaiveLoop | None:
        """The per-model loop `aca-bench perf` times the engine against; None (default): perf does not
        time this algorithm."""
        return None

    def stages(self, hp: dict[str, Any]) -> tuple[Stage, ...]:
        """The stages training runs in, in order (default: one, `train`, of `epochs` epochs)."""
        return (Stage("train", int(hp["epochs"])),)

    def init_state(self, params: Tensors, setting: Setting) -> Tensors:
        """Optimiser and algorithm state of one model at the start of a stage: by default a momentum
        buffer `buf.<name>` per parameter, which `sgd_momentum` reads and writes. Per-example state is
        a tensor of `setting.n_train` entries indexed by `batch["index"]`."""
        return {f"buf.{k}": torch.zeros_like(v) for k, v in params.items()}

    def end_stage(self, stage: str, outputs: Tensors, state: Tensors, values: Tensors) -> Tensors:
        """After every stage but the last, per model: entries to add to the next stage's state.
        `outputs` holds the finished model's `loss` and `correct` (1.0 where it predicted the label) on
        every training example as this model saw it, in training-set order (`batch["index"]`); `state`
        is the stage's final state. Default: nothing carries over."""
        return {}

    def report(self, state: Tensors) -> dict[str, float]:
        """Numbers for one model's record from its final state (e.g. how often DP-SGD clipped); none by
        default."""
        return {}

    def update(
        self,
        model: FunctionalModel,
        params: Tensors,
        state: Tensors,
        batch: Tensors,
        values: Tensors,
        step: int,
    ) -> tuple[Tensors, Tensors]:
        """One training step of one model; returns new (params, state)."""
        raise NotImplementedError


def sgd_momentum(params: Tensors, grads: Tensors, state: Tensors, values: Tensors) -> tuple[Tensors, Tensors]:
    """torch.optim.SGD's update (momentum, weight decay, no dampening), functionally for one model."""
    new_params, new_state = {}, dict(state)
    for k, p in params.items():
        d = grads[k] + values["weight_decay"] * p
        buf = values["momentum"] * state[f"buf.{k}"] + d
        new_state[f"buf.{k}"] = buf
        new_params[k] = p - values["lr"] * buf
    return new_params, new_state


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of `x` over entries where `mask` is 1 (0 when the mask is empty)."""
    return (x * mask).sum() / mask.sum().clamp_min(1.0)


SGD_HPARAMS: dict[str, Param] = {
    "lr": Param(0.05, float, "learning rate", low=0, low_open=True),
    "momentum": Param(0.9, float, "SGD momentum", low=0, high=1, high_open=True),
    "weight_decay": Param(0.0, float, "L2 weight decay", low=0),
    "batch_size": Param(64, int, "batch size", low=1, high="n_train"),
    "epochs": Param(5, int, "passes over the training set", low=1),
    "precision": Param(
        "fp32", str, "fp32, or bf16 autocast for the model's forward and backward", choices=tuple(PRECISIONS)
    ),
}
