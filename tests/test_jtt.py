"""JTT through the engine's stages: its error set against a plain two-run implementation (ERM trained
for id_epochs, then its mistakes on the training set as each model saw it), its second stage against
weighted ERM trained alone from the same initialisation, the weights by hand, and the registry entry."""

import pytest
import torch
from torch.func import grad

from aca_bench.algorithms import registry
from aca_bench.algorithms.base import Algorithm, FunctionalModel, Setting
from aca_bench.algorithms.erm import ERM
from aca_bench.algorithms.jtt import JTT, example_weights, weighted_mean
from aca_bench.benchmark.collective import collective_indices
from aca_bench.benchmark.engine import train_stack
from aca_bench.benchmark.params import resolve

pytestmark = pytest.mark.usefixtures("one_thread")
ALPHAS, SEEDS = [0.0, 0.1, 0.1], [0, 0, 1]
DEVICE = torch.device("cpu")


def test_weights_and_the_weighted_mean_by_hand():
    w = example_weights(torch.tensor([0.0, 1.0, 1.0, 0.0]), torch.tensor(5.0))
    assert w.tolist() == [1.0, 5.0, 5.0, 1.0]
    losses, mask = torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([1.0, 1.0, 0.0, 1.0])
    assert float(weighted_mean(losses, w, mask)) == pytest.approx((1 + 10 + 4) / 7)


def _hp(algorithm: type[Algorithm], **given) -> dict:
    budget = {"lr": 0.02, "momentum": 0.9, "batch_size": 64, "epochs": 1}
    return resolve(algorithm.hparams, budget | given, owner=algorithm.name)


def _error_sets_by_hand(task, data, stack) -> torch.Tensor:
    """[K, n] 1.0 where model k misclassifies training example i as it saw it (planted, relabelled)."""
    n = data.x_train.shape[0]
    out = []
    for k, (alpha, seed) in enumerate(zip(ALPHAS, SEEDS, strict=True)):
        members = torch.as_tensor(collective_indices(n, alpha, seed), dtype=torch.long)
        x, y = data.x_train.clone(), data.y_train.clone()
        x[members] = task.strategy(x[members])
        y[members] = task.y_star
        params = {name: v[k] for name, v in stack.params.items()}
        with torch.no_grad():
            predicted = stack.model.logits(params, task.preprocess(x)).argmax(-1)
        out.append((predicted != y).float())
    return torch.stack(out)


def test_the_error_set_is_what_erm_trained_for_id_epochs_gets_wrong(tiny_mnist):
    task, data = tiny_mnist
    erm = train_stack(task, data, ERM(), [_hp(ERM)] * 3, ALPHAS, SEEDS, DEVICE)
    jtt = train_stack(task, data, JTT(), [_hp(JTT, id_epochs=1, upweight=5.0)] * 3, ALPHAS, SEEDS, DEVICE)
    expected = _error_sets_by_hand(task, data, erm)
    assert torch.equal(jtt.state["error"], expected)
    assert 0 < float(expected.mean()) < 1  # a set to find: neither empty nor everything
    fractions = [e["error_set_fraction"] for e in jtt.extras]
    assert fractions == pytest.approx(expected.mean(1).tolist())


class FixedErrorSet(Algorithm):
    """Weighted ERM with a given error set: the second run of a plain JTT implementation."""

    name = "fixed_error_set"
    hparams = JTT.hparams
    per_model = JTT.per_model

    def __init__(self, error: torch.Tensor) -> None:
        self.error = error

    def init_state(self, params, setting: Setting):
        return super().init_state(params, setting) | {"error": self.error.clone()}

    update = JTT.update


def test_the_second_stage_is_weighted_erm_from_the_same_initialisation(tiny_mnist):
    task, data = tiny_mnist
    hp = _hp(JTT, id_epochs=1, upweight=5.0, epochs=2)
    jtt = train_stack(task, data, JTT(), [hp] * 3, ALPHAS, SEEDS, DEVICE)
    for k in range(3):
        alone = train_stack(
            task, data, FixedErrorSet(jtt.state["error"][k]), [hp], [ALPHAS[k]], [SEEDS[k]], DEVICE
        )
        for name, v in alone.params.items():
            assert torch.allclose(jtt.params[name][k], v[0], atol=1e-6 * float(v.abs().max()))


def test_the_registry_entry_has_a_card_and_two_stages():
    entry = registry.get("jtt")
    assert entry.card["paper"] == "https://arxiv.org/abs/2107.09044" and entry.card["needs"] == []
    stages = JTT().stages({"id_epochs": 2, "epochs": 10})
    assert [(s.name, s.epochs) for s in stages] == [("identify", 2), ("train", 10)]


def test_the_update_weighs_each_example_by_its_index_in_the_error_set():
    torch.manual_seed(0)
    module = torch.nn.Linear(4, 3)
    model = FunctionalModel(module)
    params = {k: v.detach().clone() for k, v in module.named_parameters()}
    error = torch.zeros(10)
    error[[2, 7]] = 1.0  # training examples 2 and 7 are in the error set
    state = JTT().init_state(params, Setting(10, None, {}, "train")) | {"error": error}
    g = torch.Generator().manual_seed(1)
    batch = {
        "x": torch.randn(4, 4, generator=g),
        "y": torch.tensor([0, 1, 2, 0]),
        "mask": torch.ones(4),
        "index": torch.tensor([7, 0, 2, 5]),  # rows 0 and 2 are error-set examples
        "key": torch.tensor(0),
    }
    values = {
        k: torch.tensor(v)
        for k, v in {"lr": 1.0, "momentum": 0.0, "weight_decay": 0.0, "upweight": 4.0}.items()
    }
    new, _ = JTT().update(model, params, state, batch, values, 0)
    w = torch.tensor([4.0, 1.0, 4.0, 1.0])
    direct = grad(lambda p: (w * model.losses(p, batch["x"], batch["y"])).sum() / w.sum())(params)
    for k in params:
        assert torch.allclose(new[k], params[k] - direct[k], atol=1e-6)
