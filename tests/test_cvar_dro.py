"""CVaR-DRO: the batch weights against a direct computation of the top-fraction average (whole and
fractional counts, padded batches), its gradient against autograd through that computation, level 1
as ERM, a stack with per-model levels against each model alone, and the registry entry."""

import pytest
import torch
from torch import nn
from torch.func import grad, vmap

from aca_bench.algorithms import registry
from aca_bench.algorithms.base import FunctionalModel, Setting
from aca_bench.algorithms.cvar_dro import CVaRDRO, cvar_weights
from aca_bench.algorithms.erm import ERM

pytestmark = pytest.mark.usefixtures("one_thread")
SETTING = Setting(64, None, {}, "train")


def top_fraction_mean(losses: torch.Tensor, level: float) -> torch.Tensor:
    """CVaR by its definition: the largest floor(a B) losses in full and the next one in part, over a B."""
    ranked = torch.sort(losses, descending=True).values
    cap = level * losses.numel()
    whole = int(cap)
    total = ranked[:whole].sum()
    if whole < losses.numel():
        total = total + (cap - whole) * ranked[whole]
    return total / cap


@pytest.mark.parametrize("level", [0.25, 0.1, 0.5, 1.0, 0.01])
def test_weights_give_the_mean_of_the_largest_fraction_of_losses(level):
    losses = torch.rand(64, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 3
    w = cvar_weights(losses, torch.ones(64, dtype=torch.float64), torch.tensor(level, dtype=torch.float64))
    assert float(w.sum()) == pytest.approx(1.0, abs=1e-12)
    assert float((w * losses).sum()) == pytest.approx(float(top_fraction_mean(losses, level)), rel=1e-12)
    assert float(w.max()) <= 1 / (level * 64) + 1e-12  # no example weighs more than 1 / (a B)


def test_empty_slots_of_a_padded_batch_weigh_nothing():
    gen = torch.Generator().manual_seed(2)
    losses = torch.rand(40, generator=gen, dtype=torch.float64)
    mask = torch.zeros(40, dtype=torch.float64)
    mask[:25] = 1.0
    losses[25:] = 100.0  # empty slots hold stale values: they must not count however large
    w = cvar_weights(losses, mask, torch.tensor(0.2, dtype=torch.float64))
    assert float(w[25:].abs().sum()) == 0.0
    assert float((w * losses).sum()) == pytest.approx(float(top_fraction_mean(losses[:25], 0.2)), rel=1e-12)


def _linear(seed: int = 0) -> tuple[FunctionalModel, dict[str, torch.Tensor]]:
    torch.manual_seed(seed)
    module = nn.Linear(5, 3)
    return FunctionalModel(module), {k: v.detach().clone() for k, v in module.named_parameters()}


def _batch(n: int = 32, seed: int = 3) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "x": torch.randn(n, 5, generator=g),
        "y": torch.randint(0, 3, (n,), generator=g),
        "mask": torch.ones(n),
        "index": torch.arange(n),
        "key": torch.tensor(0),
    }


def _values(level: float, lr: float = 0.5) -> dict[str, torch.Tensor]:
    t = torch.tensor
    return {"lr": t(lr), "momentum": t(0.0), "weight_decay": t(0.0), "cvar_level": t(level)}


def test_the_update_descends_the_gradient_of_the_top_fraction_mean():
    model, params = _linear()
    b = _batch()
    new, _ = CVaRDRO().update(model, params, CVaRDRO().init_state(params, SETTING), b, _values(0.25), 0)
    direct = grad(lambda p: top_fraction_mean(model.losses(p, b["x"], b["y"]), 0.25))(params)
    for k in params:
        assert torch.allclose(new[k], params[k] - 0.5 * direct[k], atol=1e-6)


def test_level_one_is_erm():
    model, params = _linear()
    b = _batch()
    state = ERM().init_state(params, SETTING)
    cvar, _ = CVaRDRO().update(model, params, state, b, _values(1.0), 0)
    erm, _ = ERM().update(model, params, state, b, _values(1.0), 0)
    for k in params:
        assert torch.allclose(cvar[k], erm[k], atol=1e-6)


def test_a_stack_with_per_model_levels_matches_each_model_alone():
    model, params = _linear()
    levels = [0.1, 0.5, 1.0]
    stacked = {k: torch.stack([v] * 3) for k, v in params.items()}
    values = {k: torch.stack([_values(a)[k] for a in levels]) for k in _values(0.1)}
    batch = _batch()
    batches = {k: torch.stack([v] * 3) for k, v in batch.items()}
    state = vmap(CVaRDRO().init_state, in_dims=(0, None))(stacked, SETTING)
    out, _ = vmap(lambda p, s, b, v: CVaRDRO().update(model, p, s, b, v, 0))(stacked, state, batches, values)
    for i, level in enumerate(levels):
        alone, _ = CVaRDRO().update(
            model, params, CVaRDRO().init_state(params, SETTING), batch, _values(level), 0
        )
        for k in params:
            assert torch.allclose(out[k][i], alone[k], atol=1e-6)


def test_the_registry_entry_has_a_card_and_takes_the_task_budget(cli):
    entry = registry.get("cvar_dro")
    assert (
        entry.card["paper"] == "https://arxiv.org/abs/2010.05893"
        and entry.card["authors"][0] == "Daniel Levy"
    )
    result = cli("list", "algorithms", "--task", "grouped_digits")
    assert result.exit_code == 0, result.output
    block = algorithm_block(result.output, "cvar_dro")
    assert "lr = 0.02" in block and "epochs = 10" in block and "cvar_level = 0.1" in block


def algorithm_block(listing: str, name: str) -> str:
    """The hyperparameter lines `aca-bench list algorithms` prints under `name`."""
    lines = listing.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith(f"{name}:")) + 1
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith(" ")), len(lines))
    return "\n".join(lines[start:end])
