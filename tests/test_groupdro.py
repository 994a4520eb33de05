"""Group DRO: the q update by hand, absent groups, the adjustment, stacking, balanced batches, refusal,
and the reference mode (Sagawa et al.'s LossComputer) against its equations."""

import math

import pytest
import torch
from torch import nn
from torch.func import stack_module_state, vmap

from aca_bench.algorithms import registry
from aca_bench.algorithms.base import FunctionalModel, Setting
from aca_bench.algorithms.groupdro import GroupDRO, next_q, robust_loss
from aca_bench.benchmark.engine import balanced_order
from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.plan import Experiment, expand

GROUPS4 = Setting(64, 4, {}, "train")  # what init_state is told on a 4-group task

pytestmark = pytest.mark.usefixtures("one_thread")


def const_model() -> tuple[FunctionalModel, dict[str, torch.Tensor]]:
    """Logits [0, ln 3] whatever x is: loss ln 4 for y = 0 and ln(4/3) for y = 1."""
    lin = nn.Linear(1, 2)
    params = {"weight": torch.zeros(2, 1), "bias": torch.tensor([0.0, math.log(3.0)])}
    return FunctionalModel(lin), params


def values(lr=0.0, eta=1.0, adj=0.0, counts=(10.0, 10.0, 10.0, 10.0), ref=0.0) -> dict[str, torch.Tensor]:
    t = torch.tensor
    return {
        "lr": t(lr),
        "momentum": t(0.0),
        "weight_decay": t(0.0),
        "eta_q": t(eta),
        "group_adj": t(adj),
        "group_count": t(counts),
        "reference": t(ref),
    }


def batch(groups: list[int]) -> dict[str, torch.Tensor]:
    g = torch.tensor(groups)
    return {
        "x": torch.zeros(len(groups), 1),
        "y": g // 2,
        "group": g,
        "mask": torch.ones(len(groups)),
        "key": torch.tensor(0),
    }


def test_q_update_two_steps_by_hand():
    algo = GroupDRO()
    model, params = const_model()
    state = algo.init_state(params, GROUPS4)
    assert torch.allclose(state["q"], torch.full((4,), 0.25))
    # Step 1: groups 0 (loss ln 4) and 2 (loss ln 4/3) present, 1 and 3 absent; eta = 1.
    # Present mass 1/2 is shared in proportion 4 : 4/3 -> q = [3/8, 1/4, 1/8, 1/4].
    params, state = algo.update(model, params, state, batch([0, 0, 2]), values(), 0)
    assert torch.allclose(state["q"], torch.tensor([3 / 8, 1 / 4, 1 / 8, 1 / 4]))
    # Step 2: groups 1 (ln 4) and 2 (ln 4/3) present; their mass 3/8 is shared as 1/4*4 : 1/8*4/3.
    params, state = algo.update(model, params, state, batch([1, 2, 2]), values(), 1)
    assert torch.allclose(state["q"], torch.tensor([3 / 8, 9 / 28, 3 / 56, 1 / 4]))
    assert math.isclose(float(state["q"].sum()), 1.0, rel_tol=1e-6)


def test_loss_uses_updated_q_and_mean_loss_per_group():
    algo = GroupDRO()
    model, params = const_model()
    state = algo.init_state(params, GROUPS4)
    # With q = [3/8, ., 1/8, .] after the update, d/d bias of 3/8 softplus(b) + 1/8 softplus(-b) at
    # b = ln 3 is 3/8 * 3/4 - 1/8 * 1/4 = 1/4 for logit 1 and -1/4 for logit 0. Group 0 appears twice:
    # its loss is a mean, so duplicates do not change the gradient.
    new, _ = algo.update(model, params, state, batch([0, 0, 2]), values(lr=1.0), 0)
    assert torch.allclose(new["bias"], torch.tensor([0.25, math.log(3.0) - 0.25]), atol=1e-6)
    assert torch.equal(new["weight"], params["weight"])  # x = 0: no weight gradient


def test_absent_groups_do_not_move_q():
    q = torch.tensor([0.1, 0.2, 0.3, 0.4])
    present = torch.tensor([True, False, True, False])
    out = next_q(q, torch.tensor([5.0, 100.0, 1.0, 100.0]), present, torch.tensor(0.5))
    assert out[1] == q[1] and out[3] == q[3]
    assert math.isclose(float(out.sum()), 1.0, rel_tol=1e-6)
    none = next_q(q, torch.ones(4), torch.zeros(4, dtype=torch.bool), torch.tensor(0.5))
    assert torch.equal(none, q)
    big = next_q(q, torch.tensor([1e4, 0.0, 0.0, 0.0]), torch.ones(4, dtype=torch.bool), torch.tensor(1.0))
    assert torch.isfinite(big).all() and big[0] > 0.999


def test_group_adjustment_favours_small_groups():
    algo = GroupDRO()
    model, params = const_model()
    state = algo.init_state(params, GROUPS4)
    # Equal losses in groups 0 and 1 (both y = 0); group 1 is 100x smaller, so C / sqrt(n_g) lifts it.
    _, plain = algo.update(model, params, state, batch([0, 1]), values(counts=(400, 4, 10, 10)), 0)
    assert torch.allclose(plain["q"], state["q"])
    _, adj = algo.update(model, params, state, batch([0, 1]), values(adj=1.0, counts=(400, 4, 10, 10)), 0)
    ratio = float(adj["q"][1] / adj["q"][0])
    assert math.isclose(ratio, math.exp(1 / 2 - 1 / 20), rel_tol=1e-5)


def test_stacked_models_keep_their_own_q_and_eta():
    algo = GroupDRO()
    lin = nn.Linear(1, 2)
    model = FunctionalModel(lin)
    one = {"weight": torch.zeros(2, 1), "bias": torch.tensor([0.0, math.log(3.0)])}
    params, _ = stack_module_state([lin, lin])
    params = {k: torch.stack([one[k], one[k]]) for k in params}
    state = vmap(algo.init_state, in_dims=(0, None))(params, GROUPS4)
    vals = {k: torch.stack([v, v]) for k, v in values().items()}
    vals["eta_q"] = torch.tensor([1.0, 0.0])
    b = {k: torch.stack([v, v]) for k, v in batch([0, 0, 2]).items()}
    _, new = vmap(lambda *a: algo.update(model, *a, 0), in_dims=(0, 0, 0, 0))(params, state, b, vals)
    assert torch.allclose(new["q"][0], torch.tensor([3 / 8, 1 / 4, 1 / 8, 1 / 4]))
    assert torch.allclose(new["q"][1], torch.full((4,), 0.25))  # eta_q = 0 leaves q alone


def test_balanced_sampler_equalises_groups_and_is_deterministic():
    sizes = [3000, 150, 50, 800]
    groups = torch.repeat_interleave(torch.arange(4), torch.tensor(sizes))
    groups = torch.stack([groups, groups.roll(1000)])  # two models, different group layouts
    keys = torch.tensor([11, 12])
    idx = balanced_order(groups, 4, keys, epoch=0, n_draws=40000)
    assert idx.shape == (2, 40000) and int(idx.min()) >= 0 and int(idx.max()) < groups.shape[1]
    for k in range(2):
        freq = torch.bincount(groups[k][idx[k]], minlength=4).float() / 40000
        assert torch.allclose(freq, torch.full((4,), 0.25), atol=0.015)
    assert torch.equal(idx, balanced_order(groups, 4, keys, epoch=0, n_draws=40000))
    assert not torch.equal(idx, balanced_order(groups, 4, keys, epoch=1, n_draws=40000))
    # A model's draws depend on its own key only, not on the rest of the stack.
    assert torch.equal(idx[1], balanced_order(groups[1:], 4, keys[1:], epoch=0, n_draws=40000)[0])


def test_groupdro_refuses_a_task_without_groups():
    exp = Experiment("x", "mnist_patch", "groupdro", (0.01,), (0,), {}, {})
    with pytest.raises(BenchError, match="needs group labels"):
        expand(exp)


def test_registry_entry_is_valid():
    entry = registry.get("groupdro")
    assert entry.cls is GroupDRO and entry.cls.needs_groups
    assert "eta_q" in entry.cls.per_model


# ------------------------------------------------------------------ reference mode (LossComputer)
def test_reference_mode_renormalises_over_all_groups_with_absent_loss_zero():
    algo = GroupDRO()
    model, params = const_model()
    state = algo.init_state(params, GROUPS4)
    # Groups 0 (loss ln 4) and 2 (loss ln 4/3) present; 1 and 3 enter with loss 0, eta = 1:
    # q ~ 1/4 * [4, 1, 4/3, 1], renormalised over all four: [12, 3, 4, 3] / 22.
    _, ref = algo.update(model, params, state, batch([0, 0, 2]), values(ref=1.0), 0)
    assert torch.allclose(ref["q"], torch.tensor([12, 3, 4, 3]) / 22.0)
    # The project's mode on the same batch keeps the absent groups' 1/4 each.
    _, own = algo.update(model, params, state, batch([0, 0, 2]), values(ref=0.0), 0)
    assert torch.allclose(own["q"], torch.tensor([3 / 8, 1 / 4, 1 / 8, 1 / 4]))


def test_both_modes_agree_when_every_group_is_present():
    gen = torch.Generator().manual_seed(3)
    for _ in range(20):
        q = torch.rand(4, generator=gen) + 0.05
        q = q / q.sum()
        loss = torch.rand(4, generator=gen) * 3
        adjust = torch.rand(4, generator=gen)
        present = torch.ones(4, dtype=torch.bool)
        eta = torch.tensor(0.7)
        v_own, q_own = robust_loss(q, loss, present, adjust, eta, torch.tensor(0.0))
        v_ref, q_ref = robust_loss(q, loss, present, adjust, eta, torch.tensor(1.0))
        assert torch.allclose(q_own, q_ref, atol=1e-7)
        # the values differ by exactly sum_g q_g a_g; the gradients wrt the losses are q in both
        assert math.isclose(float(v_ref - v_own), float((q_ref * adjust).sum()), rel_tol=1e-5)


def test_reference_mode_with_adjustment_by_hand():
    q = torch.full((4,), 0.25)
    loss = torch.tensor([1.0, 0.0, 2.0, 0.0], requires_grad=True)  # groups 1 and 3 absent (loss 0)
    present = torch.tensor([True, False, True, False])
    counts = torch.tensor([4.0, 1.0, 16.0, 100.0])
    adjust = 1.0 / counts.sqrt()  # C = 1: [0.5, 1, 0.25, 0.1]
    eta = torch.tensor(1.0)
    value, new_q = robust_loss(q, loss, present, adjust, eta, torch.tensor(1.0))
    # Reference: every group's weight times exp(eta * (loss + a)), renormalised over all groups.
    e = [math.exp(1.5), math.exp(1.0), math.exp(2.25), math.exp(0.1)]
    expect = torch.tensor(e) / sum(e)
    assert torch.allclose(new_q, expect)
    assert math.isclose(value.item(), float((expect * (loss.detach() + adjust)).sum()), rel_tol=1e-6)
    (g,) = torch.autograd.grad(value, loss)
    assert torch.allclose(g, expect)  # the adjustment adds a constant: the gradient is q
    # The project's mode: present groups share their mass 1/2 as exp(1.5) : exp(2.25); value sum q l.
    value_own, q_own = robust_loss(q, loss, present, adjust, eta, torch.tensor(0.0))
    share = 0.5 * torch.tensor([math.exp(1.5), math.exp(2.25)]) / (math.exp(1.5) + math.exp(2.25))
    assert torch.allclose(q_own, torch.tensor([share[0], 0.25, share[1], 0.25]))
    assert math.isclose(value_own.item(), float(share[0] * 1.0 + share[1] * 2.0), rel_tol=1e-6)


def test_reference_mode_shrinks_an_absent_group_each_step():
    q = torch.full((4,), 0.25)
    present = torch.tensor([True, True, True, False])
    loss = torch.tensor([1.0, 1.0, 1.0, 0.0])
    _, new = robust_loss(q, loss, present, torch.zeros(4), torch.tensor(1.0), torch.tensor(1.0))
    # absent group: (1/4) / (3/4 e + 1/4) of its weight after one step; the others grow alike
    assert math.isclose(float(new[3]), 0.25 / (0.75 * math.e + 0.25), rel_tol=1e-6)
    assert math.isclose(float(new.sum()), 1.0, rel_tol=1e-6)


def test_stack_mixes_reference_and_project_modes():
    algo = GroupDRO()
    lin = nn.Linear(1, 2)
    model = FunctionalModel(lin)
    one = {"weight": torch.zeros(2, 1), "bias": torch.tensor([0.0, math.log(3.0)])}
    params = {k: torch.stack([one[k], one[k]]) for k in one}
    state = vmap(algo.init_state, in_dims=(0, None))(params, GROUPS4)
    vals = {k: torch.stack([v, v]) for k, v in values().items()}
    vals["reference"] = torch.tensor([1.0, 0.0])
    b = {k: torch.stack([v, v]) for k, v in batch([0, 0, 2]).items()}
    _, new = vmap(lambda *a: algo.update(model, *a, 0), in_dims=(0, 0, 0, 0))(params, state, b, vals)
    assert torch.allclose(new["q"][0], torch.tensor([12, 3, 4, 3]) / 22.0)
    assert torch.allclose(new["q"][1], torch.tensor([3 / 8, 1 / 4, 1 / 8, 1 / 4]))
