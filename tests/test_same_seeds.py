"""What "same seeds, same records" promises (docs/ray.md): a cell trained again in the same stack, on the
same device with the same torch thread count, comes out bitwise the same; with another thread count it
is the same up to floating-point rounding."""

import pytest
import torch

from aca_bench.algorithms import registry
from aca_bench.benchmark.engine import evaluate, train_stack
from aca_bench.benchmark.params import resolve

pytestmark = pytest.mark.trains

CPU = torch.device("cpu")
ALPHAS, SEEDS = [0.0, 0.1], [0, 1]


def _train(task, data, name, threads):
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        entry = registry.get(name)
        hp = resolve(entry.cls.hparams, {"epochs": 1, "batch_size": 32}, name)
        stack = train_stack(task, data, entry.create(), [hp, hp], ALPHAS, SEEDS, CPU)
        return stack.params, evaluate(task, data, stack)
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("name", ["erm", "dpsgd"])
def test_same_stack_device_and_threads_give_bitwise_equal_models(tiny_mnist, name):
    task, data = tiny_mnist
    (p1, m1), (p2, m2) = _train(task, data, name, 2), _train(task, data, name, 2)
    assert all(torch.equal(p1[k], p2[k]) for k in p1) and m1 == m2


@pytest.mark.parametrize("name", ["erm", "dpsgd"])
def test_another_thread_count_agrees_up_to_rounding(tiny_mnist, name):
    task, data = tiny_mnist
    (p1, _), (p2, _) = _train(task, data, name, 1), _train(task, data, name, 2)
    for k in p1:
        scale = float(p1[k].abs().max())
        assert torch.allclose(p1[k], p2[k], rtol=0, atol=1e-4 * scale), k  # float32 rounding, not a new model
