"""The collective: round(alpha * n) members, deterministic per (seed, alpha); alpha must lie in [0, 1]."""

import pytest
import torch

from aca_bench.benchmark.collective import check_alpha, collective_indices, collective_size
from aca_bench.benchmark.errors import BenchError


@pytest.mark.parametrize(
    ("n", "alpha", "size"),
    [
        (4000, 0.0, 0),
        (4000, 0.001, 4),
        (4000, 0.0005, 2),
        (1000, 0.0015, 2),
        (60000, 0.001, 60),
        (10, 1.0, 10),
    ],
)
def test_size_is_rounded_alpha_n(n, alpha, size):
    assert collective_size(n, alpha) == size
    idx = collective_indices(n, alpha, seed=3)
    assert idx.numel() == size and idx.unique().numel() == size
    assert (idx >= 0).all() and (idx < n).all() if size else True


def test_deterministic_per_seed_and_alpha():
    a = collective_indices(4000, 0.01, seed=1)
    assert torch.equal(a, collective_indices(4000, 0.01, seed=1))
    assert not torch.equal(a, collective_indices(4000, 0.01, seed=2))
    assert not torch.equal(a[:20], collective_indices(4000, 0.0101, seed=1)[:20])


def test_members_are_spread_uniformly():
    idx = collective_indices(10000, 0.5, seed=0)
    halves = torch.bincount(idx // 5000, minlength=2)
    assert abs(int(halves[0]) - 2500) < 150


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), "x"])
def test_alpha_outside_unit_interval_is_refused(bad):
    with pytest.raises(BenchError, match="alpha must"):
        check_alpha(bad)
