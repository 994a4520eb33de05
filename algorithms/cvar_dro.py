"""CVaR-DRO (Levy et al., 2020), minibatch: descend on the mean of each batch's largest losses.

The conditional value at risk at level a of a batch's losses is the average of its worst a-fraction:
with the real examples' losses sorted from largest down, the first floor(a B) weigh 1 / (a B) each and
the next one the remainder, so the weights sum to 1 (B: the batch's real examples). That is the
best response of the CVaR uncertainty set at size a, which Levy et al.'s code computes the same way
(`geometry='cvar'`, no regularisation) and Ben-Dov et al. (2024) run. a = 1 is ERM; a small a trains
on the hardest examples, which at small alpha include the collective's relabelled members.
"""

import torch
from torch.func import grad

from aca_bench.algorithms.base import SGD_HPARAMS, Algorithm, FunctionalModel, Tensors, sgd_momentum
from aca_bench.benchmark.params import Param


def cvar_weights(losses: torch.Tensor, mask: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
    """Per example, its weight in the batch's CVaR at `level` (0 for empty slots; they sum to 1)."""
    order = torch.argsort(torch.where(mask > 0, losses, torch.full_like(losses, -torch.inf)), descending=True)
    cap = (level * mask.sum()).clamp_min(1e-12)  # a B: how many examples the average spans
    position = torch.arange(losses.shape[0], device=losses.device, dtype=losses.dtype)
    by_rank = (cap - position).clamp(0.0, 1.0) / cap
    return torch.zeros_like(losses).scatter(0, order, by_rank) * mask


class CVaRDRO(Algorithm):
    """SGD + momentum on each batch's CVaR; the level and the optimiser settings may differ per model."""

    name = "cvar_dro"
    hparams = {
        **SGD_HPARAMS,
        "cvar_level": Param(
            0.1,
            float,
            "the fraction a of each batch's largest losses averaged (1: ERM)",
            low=0,
            low_open=True,
            high=1,
        ),
    }
    per_model = ("lr", "momentum", "weight_decay", "cvar_level")

    def update(
        self,
        model: FunctionalModel,
        params: Tensors,
        state: Tensors,
        batch: Tensors,
        values: Tensors,
        step: int,
    ) -> tuple[Tensors, Tensors]:
        def objective(p: Tensors):
            losses = model.losses(p, batch["x"], batch["y"])
            weights = cvar_weights(losses.detach(), batch["mask"], values["cvar_level"])
            return (weights * losses).sum()

        return sgd_momentum(params, grad(objective)(params), state, values)
