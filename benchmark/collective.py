"""Who joins the collective: round(alpha * n) training examples, drawn with a (seed, alpha) generator."""

import math

import torch

from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.rng import key_from


def check_alpha(alpha: float) -> float:
    """alpha as a float in [0, 1], or a one-line BenchError."""
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise BenchError(f"alpha must be a number, got {alpha!r}") from None
    if not 0.0 <= a <= 1.0 or math.isnan(a):
        raise BenchError(f"alpha must be in [0, 1], got {alpha}")
    return a


def collective_size(n: int, alpha: float) -> int:
    """round(alpha * n), halves rounded up."""
    return int(math.floor(check_alpha(alpha) * n + 0.5))


def collective_indices(n: int, alpha: float, seed: int) -> torch.Tensor:
    """Sorted indices of the collective's members, uniform without replacement, deterministic."""
    gen = torch.Generator().manual_seed(key_from("collective", int(seed), float(alpha)))
    return torch.randperm(n, generator=gen)[: collective_size(n, alpha)].sort().values
