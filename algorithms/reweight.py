"""Importance weighting by inverse group frequency: fairness by group weighting, without Group DRO's
adversarial weights.

Every training example of group g weighs w_g = n / (G * n_g), where n_g is the size of group g in the
training set the model sees (after the collective's relabelling), n the training set size and G the
number of non-empty groups. Each step descends on the weighted batch mean (1/B) sum_i w_{g_i} l_i, an
unbiased estimate of (1/G) sum_g (mean loss of group g): every group counts the same, however small.
"""

import torch
from torch.func import grad

from aca_bench.algorithms.base import (
    SGD_HPARAMS,
    Algorithm,
    FunctionalModel,
    Tensors,
    masked_mean,
    sgd_momentum,
)


def group_weights(group_count: torch.Tensor) -> torch.Tensor:
    """w_g = n / (G * n_g) for the non-empty groups (G of them), 0 for empty ones."""
    nonempty = group_count > 0
    g = nonempty.sum().clamp_min(1)
    w = group_count.sum() / (g * group_count.clamp_min(1.0))
    return torch.where(nonempty, w, torch.zeros_like(w))


class Reweight(Algorithm):
    """SGD + momentum on the inverse-group-frequency weighted loss; stackable like ERM."""

    name = "reweight"
    hparams = dict(SGD_HPARAMS)
    per_model = ("lr", "momentum", "weight_decay")
    needs_groups = True

    def update(
        self,
        model: FunctionalModel,
        params: Tensors,
        state: Tensors,
        batch: Tensors,
        values: Tensors,
        step: int,
    ) -> tuple[Tensors, Tensors]:
        w = group_weights(values["group_count"])[batch["group"]]

        def objective(p: Tensors):
            return masked_mean(w * model.losses(p, batch["x"], batch["y"]), batch["mask"])

        return sgd_momentum(params, grad(objective)(params), state, values)
