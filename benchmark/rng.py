"""Counter-based random numbers: a model's randomness depends on its own key and a counter only.

Batches and DP noise come from here, so a model trains identically whether it shares a stack with
one model or with sixty, on CPU or CUDA, in a first run or a resumed one. The generator is a
splitmix64-style hash of (key, counter, index) in int64 tensor arithmetic: vectorized, vmap-able.
"""

import hashlib

import torch

_M1 = -4658895280553007687  # 0xBF58476D1CE4E5B9 as int64
_M2 = -7723592293110705685  # 0x94D049BB133111EB as int64
_GOLDEN = -7046029254386353131  # 0x9E3779B97F4A7C15 as int64


def _shr(x: torch.Tensor, k: int) -> torch.Tensor:
    """Logical right shift of int64 (torch's >> is arithmetic)."""
    return (x >> k) & ((1 << (64 - k)) - 1)


def mix(x: torch.Tensor) -> torch.Tensor:
    """The splitmix64 finaliser on int64 tensors (wrapping arithmetic)."""
    x = (x ^ _shr(x, 30)) * _M1
    x = (x ^ _shr(x, 27)) * _M2
    return x ^ _shr(x, 31)


def key_from(*parts: object) -> int:
    """A 62-bit key derived from any printable parts (seed, alpha, purpose ...)."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 2


def uniform(key: torch.Tensor, counter: int | torch.Tensor, n: int) -> torch.Tensor:
    """n uniforms in [0, 1) for one key (a 0-d int64 tensor) at one counter value."""
    idx = torch.arange(n, device=key.device, dtype=torch.int64)
    x = mix(key * _GOLDEN + mix(torch.as_tensor(counter, device=key.device) + 1 + idx * _GOLDEN))
    return _shr(x, 11).to(torch.float64).mul(2.0**-53).to(torch.float32)


def normal(key: torch.Tensor, counter: int | torch.Tensor, n: int) -> torch.Tensor:
    """n standard normals (Box-Muller) for one key at one counter value."""
    m = (n + 1) // 2
    u = uniform(key, counter, 2 * m)
    u1 = u[:m].clamp_min(1e-12)
    r = torch.sqrt(-2.0 * torch.log(u1))
    theta = 2.0 * torch.pi * u[m:]
    return torch.cat([r * torch.cos(theta), r * torch.sin(theta)])[:n]
