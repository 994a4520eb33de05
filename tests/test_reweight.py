"""Reweighting by inverse group frequency: the weights and the update against their equations, the
balanced risk it estimates, stacking, the registry entry, and its worst group on the WaterBirds stand-in."""

import math

import pytest
import torch
from torch import nn
from torch.func import vmap

from aca_bench.algorithms import registry
from aca_bench.algorithms.base import FunctionalModel, Setting
from aca_bench.algorithms.erm import ERM
from aca_bench.algorithms.reweight import Reweight, group_weights
from aca_bench.benchmark.commands.validate import contract_problems

GROUPS4 = Setting(64, 4, {}, "train")  # what init_state is told on a 4-group task
NO_GROUPS = Setting(64, None, {}, "train")

pytestmark = pytest.mark.usefixtures("one_thread")


def const_model() -> tuple[FunctionalModel, dict[str, torch.Tensor]]:
    """Logits [0, ln 3] whatever x is: d loss / d logits is [-3/4, 3/4] for y = 0, [1/4, -1/4] for y = 1."""
    params = {"weight": torch.zeros(2, 1), "bias": torch.tensor([0.0, math.log(3.0)])}
    return FunctionalModel(nn.Linear(1, 2)), params


def values(counts, lr=1.0) -> dict[str, torch.Tensor]:
    t = torch.tensor
    return {"lr": t(lr), "momentum": t(0.0), "weight_decay": t(0.0), "group_count": t(counts)}


def batch(groups: list[int]) -> dict[str, torch.Tensor]:
    g = torch.tensor(groups)
    n = len(groups)
    return {"x": torch.zeros(n, 1), "y": g // 2, "group": g, "mask": torch.ones(n), "key": torch.tensor(0)}


def test_weights_are_n_over_g_times_group_size():
    w = group_weights(torch.tensor([400.0, 4.0, 10.0, 0.0]))  # 3 non-empty groups, n = 414
    assert torch.allclose(w, torch.tensor([414 / 1200, 414 / 12, 414 / 30, 0.0]))
    assert torch.allclose(group_weights(torch.full((4,), 7.0)), torch.ones(4))


def test_weighted_mean_over_the_training_set_is_the_mean_of_group_means():
    gen = torch.Generator().manual_seed(0)
    groups = torch.repeat_interleave(torch.arange(4), torch.tensor([350, 18, 6, 106]))
    losses = torch.rand(groups.numel(), generator=gen) * 5
    counts = torch.bincount(groups, minlength=4).float()
    weighted = (group_weights(counts)[groups] * losses).mean()
    group_means = torch.stack([losses[groups == g].mean() for g in range(4)])
    assert math.isclose(float(weighted), float(group_means.mean()), rel_tol=1e-5)


def test_update_by_hand():
    algo = Reweight()
    model, params = const_model()
    state = algo.init_state(params, GROUPS4)
    # counts (30, 10, 10, 10): n = 60, G = 4, w_0 = 1/2, w_2 = 3/2. Batch: two of group 0 (y = 0), one
    # of group 2 (y = 1): d/d logits = (2 * 1/2 * [-3/4, 3/4] + 3/2 * [1/4, -1/4]) / 3 = [-1/8, 1/8].
    new, _ = algo.update(model, params, state, batch([0, 0, 2]), values((30.0, 10.0, 10.0, 10.0)), 0)
    assert torch.allclose(new["bias"], torch.tensor([0.125, math.log(3.0) - 0.125]), atol=1e-6)
    assert torch.equal(new["weight"], params["weight"])


def test_equal_groups_reduce_to_erm():
    model, params = const_model()
    vals = values((10.0, 10.0, 10.0, 10.0), lr=0.3)
    b = batch([0, 1, 2, 2, 3])
    rw, _ = Reweight().update(model, params, Reweight().init_state(params, GROUPS4), b, vals, 0)
    erm, _ = ERM().update(model, params, ERM().init_state(params, NO_GROUPS), b, vals, 0)
    assert all(torch.allclose(rw[k], erm[k], atol=1e-7) for k in params)


def test_stacked_models_use_their_own_group_counts():
    algo = Reweight()
    model, one = const_model()
    params = {k: torch.stack([v, v]) for k, v in one.items()}
    state = vmap(algo.init_state, in_dims=(0, None))(params, GROUPS4)
    vals = {
        k: torch.stack([a, b])
        for (k, a), b in zip(
            values((30.0, 10.0, 10.0, 10.0)).items(), values((10.0, 10.0, 10.0, 10.0)).values(), strict=True
        )
    }
    b = {k: torch.stack([v, v]) for k, v in batch([0, 0, 2]).items()}
    new, _ = vmap(lambda *a: algo.update(model, *a, 0), in_dims=(0, 0, 0, 0))(params, state, b, vals)
    assert torch.allclose(new["bias"][0], torch.tensor([0.125, math.log(3.0) - 0.125]), atol=1e-6)
    # equal weights: (2 [-3/4, 3/4] + [1/4, -1/4]) / 3 = [-5/12, 5/12]
    assert torch.allclose(new["bias"][1], torch.tensor([5 / 12, math.log(3.0) - 5 / 12]), atol=1e-6)


def test_registry_entry_is_valid_and_passes_the_contract_check():
    entry = registry.get("reweight")
    assert entry.cls is Reweight and entry.cls.needs_groups and entry.cls.stackable
    assert contract_problems(entry) == []


def test_reweight_worst_group_beats_erm_on_the_stand_in():
    from tests.test_waterbirds import _train

    erm = _train("erm", [0.0, 0.0], [0, 1])
    rw = _train("reweight", [0.0, 0.0], [0, 1])
    worst_erm = max(m["worst_group_accuracy"] for m in erm)
    worst_rw = min(m["worst_group_accuracy"] for m in rw)
    assert worst_rw > worst_erm + 0.1, (worst_erm, worst_rw)
