"""Group DRO (Sagawa et al., 2020), online: exponentiated-gradient group weights q, loss sum_g q_g l_g.

Each step computes the mean loss l_g of every group g present in the batch, updates
q_g <- q_g * exp(eta_q * (l_g + C / sqrt(n_g))) for the present groups and renormalises them so they keep
their total mass, then descends on sum_g q_g l_g with the updated q (held constant in the gradient).
A group absent from the batch has no loss estimate and keeps its q exactly. q is per-model state,
so a stack of models (alphas, seeds, eta_q) trains at once. n_g are the training group sizes each
model sees (after the collective's relabelling); `balanced` draws group-balanced batches.

`reference: true` behaves as Sagawa et al.'s `LossComputer` (group_DRO repository, loss.py, is_robust
without btl): an absent group enters the step with loss 0 (plus its adjustment), q is renormalised
over all groups, so an absent group's weight shrinks whenever the others have positive loss, and the
loss value is sum_g q_g (l_g + C / sqrt(n_g)) when C > 0 (the same gradient: the adjustment is a
constant). With every group in the batch the two modes give the same q and gradient.
"""

import torch
from torch.func import grad

from aca_bench.algorithms.base import (
    SGD_HPARAMS,
    Algorithm,
    FunctionalModel,
    Sampling,
    Setting,
    Tensors,
    sgd_momentum,
)
from aca_bench.benchmark.params import Param


def next_q(
    q: torch.Tensor, group_loss: torch.Tensor, present: torch.Tensor, eta: torch.Tensor
) -> torch.Tensor:
    """One exponentiated-gradient step on the present groups; absent groups keep their weight."""
    mass = torch.where(present, q, torch.zeros_like(q)).sum()
    # Subtracting the largest present loss keeps exp() in range; it cancels in the renormalisation.
    shift = torch.where(present, group_loss, torch.full_like(group_loss, -torch.inf)).amax()
    w = torch.where(present, q * torch.exp(eta * (group_loss - shift)), torch.zeros_like(q))
    return torch.where(present, w / w.sum().clamp_min(1e-30) * mass, q)


def next_q_reference(q: torch.Tensor, adjusted_loss: torch.Tensor, eta: torch.Tensor) -> torch.Tensor:
    """The reference's step: q_g * exp(eta * adjusted_loss_g), renormalised over all groups (an absent
    group's adjusted loss is its adjustment alone)."""
    w = q * torch.exp(eta * (adjusted_loss - adjusted_loss.amax()))  # the shift cancels in the ratio
    return w / w.sum()


def robust_loss(
    q: torch.Tensor,
    group_loss: torch.Tensor,
    present: torch.Tensor,
    adjust: torch.Tensor,
    eta: torch.Tensor,
    reference: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss value, new q) of one step from the batch's per-group mean losses (0 for absent groups).

    q is updated from the detached losses plus `adjust` (C / sqrt(n_g)); the loss is sum_g q_new_g l_g,
    or where `reference` is nonzero the reference's step and its value sum_g q_new_g (l_g + adjust_g).
    A tensor switch (not a Python branch), so one stack may hold models of both modes.
    """
    adjusted = group_loss.detach() + adjust
    ref = reference > 0
    new_q = torch.where(ref, next_q_reference(q, adjusted, eta), next_q(q, adjusted, present, eta))
    return (new_q * (group_loss + torch.where(ref, adjust, torch.zeros_like(adjust)))).sum(), new_q


class GroupDRO(Algorithm):
    """Online Group DRO with SGD + momentum; eta_q, C and the optimiser settings may differ per model."""

    name = "groupdro"
    hparams = {
        **SGD_HPARAMS,
        "eta_q": Param(0.01, float, "step size of the group weights q", low=0),
        "group_adj": Param(
            0.0,
            float,
            "C of the group adjustment C / sqrt(n_g) added to each group's loss in the q update (0: none)",
            low=0,
        ),
        "balanced": Param(
            False, bool, "draw group-balanced batches (with replacement) instead of shuffled epochs"
        ),
        "reference": Param(
            False,
            bool,
            "as Sagawa et al.'s LossComputer: absent groups enter the q step with loss 0 and q is "
            "renormalised over all groups (default: absent groups keep their q)",
        ),
    }
    per_model = ("lr", "momentum", "weight_decay", "eta_q", "group_adj", "reference")
    needs_groups = True

    def sampling(self, hp, n_train: int) -> Sampling:
        b = min(int(hp["batch_size"]), n_train)
        return Sampling("balanced" if hp["balanced"] else "shuffle", b, n_train // b)

    def init_state(self, params: Tensors, setting: Setting) -> Tensors:
        state = super().init_state(params, setting)
        first = next(iter(params.values()))
        g = int(setting.n_groups)
        state["q"] = first.new_full((g,), 1.0 / g)
        return state

    def update(
        self,
        model: FunctionalModel,
        params: Tensors,
        state: Tensors,
        batch: Tensors,
        values: Tensors,
        step: int,
    ) -> tuple[Tensors, Tensors]:
        q = state["q"]
        in_group = (batch["group"][:, None] == torch.arange(q.shape[0], device=q.device)).to(q.dtype)
        in_group = in_group * batch["mask"][:, None]  # [B, G]
        count = in_group.sum(0)
        present = count > 0
        adjust = values["group_adj"] / values["group_count"].clamp_min(1.0).sqrt()

        def objective(p: Tensors):
            losses = model.losses(p, batch["x"], batch["y"])
            group_loss = (in_group * losses[:, None]).sum(0) / count.clamp_min(1.0)
            return robust_loss(q, group_loss, present, adjust, values["eta_q"], values["reference"])

        grads, new_q = grad(objective, has_aux=True)(params)
        new_params, new_state = sgd_momentum(params, grads, state, values)
        new_state["q"] = new_q
        return new_params, new_state
