"""JTT, Just Train Twice (Liu et al., 2021): train ERM briefly, then train again with the first model's
mistakes upweighted.

Stage `identify` trains ERM for `id_epochs` epochs. Its error set is every training example that model
misclassifies, as the model saw it (a collective's member counts with its planted signal and label y*).
Stage `train` starts again from the same initial parameters and trains `epochs` epochs on the weighted
loss: each example in the error set weighs `upweight` (lambda), every other example 1, and a batch's
loss is its weighted mean sum_i w_i l_i / sum_i w_i. Liu et al. upsample the error set lambda times
instead; the weighted mean has the same expected objective without lengthening the epoch, so both
stages here take the task's training budget per epoch. Group labels are not used in training: a task's
groups only enter through selection on a validation split (worst-group accuracy), as in the paper.
"""

from typing import Any

import torch
from torch.func import grad

from aca_bench.algorithms.base import (
    SGD_HPARAMS,
    Algorithm,
    FunctionalModel,
    Setting,
    Stage,
    Tensors,
    sgd_momentum,
)
from aca_bench.benchmark.params import Param

IDENTIFY = "identify"


def example_weights(error: torch.Tensor, upweight: torch.Tensor) -> torch.Tensor:
    """JTT's weight of each example: `upweight` where `error` is 1, 1 where it is 0."""
    return 1.0 + (upweight - 1.0) * error


def weighted_mean(losses: torch.Tensor, weights: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """sum_i w_i l_i / sum_i w_i over the batch's real examples (0 when it has none)."""
    w = weights * mask
    return (w * losses).sum() / w.sum().clamp_min(1e-12)


class JTT(Algorithm):
    """Two stages of SGD + momentum; the upweighting factor and the optimiser may differ per model."""

    name = "jtt"
    hparams = {
        **SGD_HPARAMS,
        "id_epochs": Param(1, int, "epochs of the identification model (stage 1, plain ERM)", low=1),
        "upweight": Param(
            20.0, float, "weight lambda of each example the identification model got wrong", low=1
        ),
    }
    per_model = ("lr", "momentum", "weight_decay", "upweight")

    def stages(self, hp: dict[str, Any]) -> tuple[Stage, ...]:
        return (Stage(IDENTIFY, int(hp["id_epochs"])), Stage("train", int(hp["epochs"])))

    def init_state(self, params: Tensors, setting: Setting) -> Tensors:
        state = super().init_state(params, setting)
        state["error"] = next(iter(params.values())).new_zeros(setting.n_train)  # empty in stage 1
        return state

    def end_stage(self, stage: str, outputs: Tensors, state: Tensors, values: Tensors) -> Tensors:
        return {"error": 1.0 - outputs["correct"]}

    def report(self, state: Tensors) -> dict[str, float]:
        """The share of training examples in the error set."""
        return {"error_set_fraction": float(state["error"].mean())}

    def update(
        self,
        model: FunctionalModel,
        params: Tensors,
        state: Tensors,
        batch: Tensors,
        values: Tensors,
        step: int,
    ) -> tuple[Tensors, Tensors]:
        weights = example_weights(state["error"][batch["index"]], values["upweight"])

        def objective(p: Tensors):
            return weighted_mean(model.losses(p, batch["x"], batch["y"]), weights, batch["mask"])

        return sgd_momentum(params, grad(objective)(params), state, values)
