"""Per-example norms and clipped sums from one batched backward pass, against `vmap(grad)`."""

import pytest
import torch
from torch import nn
from torch.func import stack_module_state, vmap

from aca_bench.algorithms import per_example
from aca_bench.algorithms.base import FunctionalModel
from aca_bench.algorithms.dpsgd import CLIP_EPS, clipped_grad_sum_vmap
from aca_bench.tasks.models import linear_head, mlp_head, mnist_cnn


class Tokens(nn.Module):
    """A Linear applied to every position of a sequence, then a classifier: Linear over extra dims."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Linear(6, 5)
        self.head = nn.Linear(4 * 5, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.tanh(self.embed(x)).flatten(1))


def dilated_cnn() -> nn.Module:
    """Two input channels, a dilated and a bias-free convolution: both go through unfold."""
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=2, dilation=2),
        nn.ReLU(),
        nn.Conv2d(4, 3, 3, stride=2, bias=False),
        nn.Flatten(),
        nn.Linear(3 * 3 * 3, 3),
    )


CASES = {
    "mnist_cnn": (lambda: mnist_cnn(10), (1, 28, 28), 10),
    "linear_head": (lambda: linear_head(7, 2), (7,), 2),
    "mlp_head": (lambda: mlp_head(7, 2, hidden=5), (7,), 2),
    "tokens": (Tokens, (4, 6), 3),
    "dilated_cnn": (dilated_cnn, (2, 8, 8), 3),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_clipped_sum_and_count_equal_vmap_grad(case, precision):
    make, shape, n_classes = CASES[case]
    torch.manual_seed(0)
    modules = [make() for _ in range(3)]
    params, _ = stack_module_state(modules)
    model = FunctionalModel(modules[0], precision)
    assert per_example.supports(model)
    x = torch.randn(3, 9, *shape)
    y = torch.randint(0, n_classes, (3, 9))
    mask = (torch.rand(3, 9) < 0.7).float()
    clip = torch.tensor([0.05, 0.5, 1e3])  # clips all, some, none
    fast, fast_count = vmap(per_example.clipped_grad_sum, in_dims=(None, 0, 0, 0, 0, 0, None))(
        model, params, x, y, mask, clip, CLIP_EPS
    )
    ref, ref_count = vmap(clipped_grad_sum_vmap, in_dims=(None, 0, 0, 0, 0, 0))(
        model, params, x, y, mask, clip
    )
    assert torch.equal(fast_count, ref_count)
    assert fast_count[0] == mask[0].sum() and fast_count[2] == 0
    tol = {"fp32": 1e-5, "bf16": 2e-2}[precision]
    assert fast.keys() == ref.keys() == params.keys()
    for name in params:
        torch.testing.assert_close(fast[name], ref[name], rtol=tol, atol=tol)


def test_models_with_other_parameterised_layers_are_not_supported():
    """A LayerNorm's or a grouped convolution's parameters are not outer products: fall back."""
    norm = FunctionalModel(nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4), nn.Linear(4, 2)))
    grouped = FunctionalModel(nn.Sequential(nn.Conv2d(2, 2, 3, groups=2), nn.Flatten(), nn.Linear(2, 2)))
    plain = FunctionalModel(nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2)))
    assert not per_example.supports(norm)
    assert not per_example.supports(grouped)
    assert per_example.supports(plain)


def test_the_hooks_change_nothing_outside_a_tapped_pass():
    """Evaluation and ERM call the same module: without a tapped pass the hooks must be inert."""
    torch.manual_seed(0)
    module = mnist_cnn(10)
    model = FunctionalModel(module)
    params = dict(module.named_parameters())
    x = torch.randn(5, 1, 28, 28)
    before = model.logits(params, x)
    per_example.clipped_grad_sum(model, params, x, torch.zeros(5, dtype=torch.long), torch.ones(5), 1.0, 1e-6)
    torch.testing.assert_close(model.logits(params, x), before, rtol=0, atol=0)
