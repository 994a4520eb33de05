"""DP-SGD: per-example gradients clipped to C, summed, Gaussian noise N(0, sigma^2 C^2), Poisson batches.

Per-example gradient norms and the clipped sum come from one batched backward pass per model
(`aca_bench.algorithms.per_example`: Linear and Conv2d layers), or from `vmap(grad)` over the batch for models
with other layers. The engine vmaps the update over the model stack, so models with different
epsilon, delta, C and learning rate train together. sigma is calibrated per model by Opacus's
accountant (`aca_bench.benchmark.privacy`). With `engine: opacus` the same cells train one model at a time
through Opacus's PrivacyEngine instead (`aca_bench.algorithms.dpsgd_reference`), to cross-check the stacked
engine.
"""

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch.func import grad, vmap

from aca_bench.algorithms import per_example
from aca_bench.algorithms.base import (
    SGD_HPARAMS,
    Algorithm,
    FunctionalModel,
    NaiveLoop,
    Prepared,
    Sampling,
    Setting,
    Tensors,
    Trainer,
    sgd_momentum,
)
from aca_bench.benchmark import privacy
from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.params import Param
from aca_bench.benchmark.rng import normal

OVERFLOW_PROBABILITY = 1e-6  # chance that any Poisson batch of a run exceeds the cap
CLIP_EPS = 1e-6  # as Opacus: factor = C / (norm + 1e-6), at most 1


HPARAMS: dict[str, Param] = {
    **SGD_HPARAMS,
    "momentum": Param(0.0, float, "SGD momentum (0: plain DP-SGD)", low=0, high=1, high_open=True),
    "batch_size": Param(256, int, "expected batch size q*n of the Poisson sampler", low=1, high="n_train"),
    "target_epsilon": Param(
        8.0, float, "privacy budget epsilon (.inf: no noise)", low=0, low_open=True, allow_inf=True
    ),
    "noise_multiplier": Param(
        None, float, "sigma given directly (overrides target_epsilon)", nullable=True, low=0
    ),
    "delta": Param(
        None,
        float,
        "privacy delta (default: largest power of ten below 1/n)",
        nullable=True,
        low=0,
        high=1,
        low_open=True,
        high_open=True,
    ),
    "max_grad_norm": Param(
        1.0, float, "clipping threshold C of each per-example gradient", low=0, low_open=True
    ),
    "accountant": Param("rdp", str, "Opacus accountant for sigma and epsilon", choices=privacy.ACCOUNTANTS),
    "engine": Param(
        "stacked",
        str,
        "stacked (vmap over models) or opacus (reference, one at a time)",
        choices=("stacked", "opacus"),
    ),
}


def poisson_cap(n: int, q: float, steps: int) -> int:
    """Smallest cap with P(any of `steps` Binomial(n, q) batch sizes exceeds it) below OVERFLOW_PROBABILITY.

    An overflowing batch keeps a uniform subset of cap of its examples; the engine counts overflows.
    """
    if not 0 < q < 1:
        return n
    k = torch.arange(n + 1, dtype=torch.float64)
    log_pmf = (
        math.lgamma(n + 1)
        - torch.lgamma(k + 1)
        - torch.lgamma(n - k + 1)
        + k * math.log(q)
        + (n - k) * math.log1p(-q)
    )
    at_least = torch.flip(torch.cumsum(torch.flip(log_pmf.exp(), [0]), 0), [0])  # [c] = P(X >= c)
    small = torch.nonzero(at_least <= OVERFLOW_PROBABILITY / max(steps, 1)).flatten()
    return int(small[0]) - 1 if len(small) else n  # P(X > cap) = P(X >= cap + 1)


def clipped_grad_sum(
    model: FunctionalModel,
    params: Tensors,
    x: torch.Tensor,
    y: torch.Tensor,
    mask: torch.Tensor,
    max_grad_norm: torch.Tensor,
) -> tuple[Tensors, torch.Tensor]:
    """Sum over real (mask 1) examples of each example's gradient clipped to L2 norm C (flat clipping),
    and how many of those gradients were longer than C."""
    if per_example.supports(model):
        return per_example.clipped_grad_sum(model, params, x, y, mask, max_grad_norm, CLIP_EPS)
    return clipped_grad_sum_vmap(model, params, x, y, mask, max_grad_norm)


def clipped_grad_sum_vmap(
    model: FunctionalModel,
    params: Tensors,
    x: torch.Tensor,
    y: torch.Tensor,
    mask: torch.Tensor,
    max_grad_norm: torch.Tensor,
) -> tuple[Tensors, torch.Tensor]:
    """`clipped_grad_sum` for any model: every example's whole gradient from `vmap(grad)`."""

    def loss_one(p: Tensors, xi: torch.Tensor, yi: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(model.logits(p, xi.unsqueeze(0)), yi.unsqueeze(0))

    grads = vmap(grad(loss_one), in_dims=(None, 0, 0))(params, x, y)
    sq_norm = sum(g.reshape(g.shape[0], -1).pow(2).sum(1) for g in grads.values())
    factor, clipped = per_example.clip_factors(sq_norm, mask, max_grad_norm, CLIP_EPS)
    return {k: torch.tensordot(factor, g, dims=1) for k, g in grads.items()}, clipped


def gaussian_noise(params: Tensors, key: torch.Tensor, step: int) -> Tensors:
    """Standard normal noise shaped like `params`, from the model's own key and the step counter."""
    sizes = [p.numel() for p in params.values()]
    flat = normal(key, step, sum(sizes))
    return {k: z.view_as(p) for (k, p), z in zip(params.items(), flat.split(sizes), strict=True)}


class DPSGD(Algorithm):
    """DP-SGD (Abadi et al. 2016) with Poisson sampling; epsilon, C and the SGD numbers may vary per model."""

    name = "dpsgd"
    hparams = HPARAMS
    per_model = (
        "target_epsilon",
        "noise_multiplier",
        "delta",
        "max_grad_norm",
        "lr",
        "momentum",
        "weight_decay",
    )
    own_budget = True  # its lr, batch size and epochs are chosen with its privacy accounting

    def sampling(self, hp: dict[str, Any], n_train: int) -> Sampling:
        q, steps_per_epoch = self._rate(hp, n_train)
        cap = poisson_cap(n_train, q, steps_per_epoch * int(hp["epochs"]))
        return Sampling("poisson", cap, steps_per_epoch, q)

    @staticmethod
    def _rate(hp: dict[str, Any], n_train: int) -> tuple[float, int]:
        b = int(hp["batch_size"])
        if not 1 <= b <= n_train:
            raise BenchError(f"dpsgd: batch_size must be in 1..{n_train} (the training set), got {b}")
        return b / n_train, n_train // b

    def spend(self, hp: dict[str, Any], n_train: int, sample_rate: float, steps: int) -> privacy.PrivacySpend:
        """The run's sigma and epsilon spent for sampling rate q and `steps` steps."""
        delta = hp["delta"] if hp["delta"] is not None else privacy.default_delta(n_train)
        return privacy.spend(
            hp["target_epsilon"], hp["noise_multiplier"], float(delta), sample_rate, steps, hp["accountant"]
        )

    def prepare(self, hp: dict[str, Any], n_train: int, n_groups: int | None) -> Prepared:
        q, steps_per_epoch = self._rate(hp, n_train)
        spent = self.spend(hp, n_train, q, steps_per_epoch * int(hp["epochs"]))
        values = {
            "lr": float(hp["lr"]),
            "momentum": float(hp["momentum"]),
            "weight_decay": float(hp["weight_decay"]),
            "max_grad_norm": float(hp["max_grad_norm"]),
            "noise_std": spent.noise_multiplier * float(hp["max_grad_norm"]),
            "expected_batch_size": q * n_train,
        }
        record = spent.record() | {
            "max_grad_norm": float(hp["max_grad_norm"]),
            "engine": "stacked",
            "expected_batch_size": q * n_train,
        }
        return Prepared(values, record)

    def naive_loop(self) -> NaiveLoop:
        """Opacus's PrivacyEngine (hooks, Poisson sampling), one model at a time."""
        from aca_bench.benchmark.perf import throughput

        return NaiveLoop("naive (Opacus)", throughput.opacus_loop)

    def trainer(self, hp: dict[str, Any]) -> Trainer | None:
        if hp["engine"] == "opacus":
            from aca_bench.algorithms.dpsgd_reference import train_opacus

            if hp["precision"] != "fp32":
                raise BenchError("dpsgd: engine opacus (the reference path) trains in precision fp32 only")

            return train_opacus
        return None

    def update(
        self,
        model: FunctionalModel,
        params: Tensors,
        state: Tensors,
        batch: Tensors,
        values: Tensors,
        step: int,
    ) -> tuple[Tensors, Tensors]:
        x, y, mask = batch["x"], batch["y"], batch["mask"]
        summed, clipped = clipped_grad_sum(model, params, x, y, mask, values["max_grad_norm"])
        noise = gaussian_noise(params, batch["key"], step)
        grads = {
            k: (summed[k] + values["noise_std"] * noise[k]) / values["expected_batch_size"] for k in params
        }
        new_params, new_state = sgd_momentum(params, grads, state, values)
        new_state["clip.clipped"] = state["clip.clipped"] + clipped
        new_state["clip.seen"] = state["clip.seen"] + mask.sum()
        return new_params, new_state

    def init_state(self, params: Tensors, setting: Setting) -> Tensors:
        state = super().init_state(params, setting)
        first = next(iter(params.values()))
        state["clip.clipped"] = first.new_zeros(())
        state["clip.seen"] = first.new_zeros(())
        return state

    def report(self, state: Tensors) -> dict[str, float]:
        """The fraction of per-example gradients clipped over the run: near 1, every example moves the
        weights by the same lr * C and C itself drops out of the dynamics (only lr * C matters)."""
        return {"clipped_fraction": float(state["clip.clipped"] / state["clip.seen"].clamp_min(1.0))}
