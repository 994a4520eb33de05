"""DP-SGD's reference path: each model trained alone through Opacus's PrivacyEngine (hooks, Poisson).

Used for cells with `engine: opacus` to cross-check the stacked engine. It shares with the stacked path
what defines a cell (the seed's initial weights, the collective's members, the strategy, sigma from the
same calibration) but draws batches and noise with Opacus's own samplers, so it agrees in distribution,
not bit for bit. Opacus's sample rate is 1/len(loader) = 1/ceil(n/b): equal to the stacked engine's
b/n when the batch size divides n; otherwise this path calibrates sigma for its own rate and records it.
"""

import math
import warnings
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from opacus import PrivacyEngine
from torch.utils.data import DataLoader, TensorDataset

from aca_bench.algorithms.base import Algorithm
from aca_bench.benchmark.engine import Stack, init_params, member_mask
from aca_bench.benchmark.privacy import PrivacySpend
from aca_bench.benchmark.rng import key_from
from aca_bench.tasks.base import Task, TaskData

# What Opacus says on every run that is no news here: the stacked engine's noise is not from a secure
# RNG either, and the hooks' note concerns the first layer, whose input needs no gradient.
_OPACUS_CHATTER = (
    "Secure RNG turned off",
    "Full backward hook is firing when gradients are computed with respect to module outputs",
)


def train_opacus(
    task: Task,
    data: TaskData,
    algo: Algorithm,
    hps: list[dict],
    alphas: list[float],
    seeds: list[int],
    device: torch.device,
    on_epoch: Callable[[float], None] | None = None,
) -> Stack:
    """Train the models one after another with Opacus; returns them stacked like `train_stack` does."""
    n = data.x_train.shape[0]
    model, init = init_params(task, seeds, device)
    member = member_mask(n, alphas, seeds, device)
    trained, records = [], []
    for k, (hp, alpha, seed) in enumerate(zip(hps, alphas, seeds, strict=True)):
        start = {name: p[k] for name, p in init.items()}
        progress = (lambda f: on_epoch(f / len(hps))) if on_epoch else None
        with warnings.catch_warnings():
            for message in _OPACUS_CHATTER:
                warnings.filterwarnings("ignore", message=message)
            params, record = _train_one(
                task, data, algo, hp, member[k], start, key_from("opacus", seed, alpha), device, progress
            )
        trained.append(params)
        records.append(record)
    stacked = {name: torch.stack([p[name] for p in trained]) for name in init}
    return Stack(model, stacked, records, [0] * len(hps))


def opacus_spend(algo: Any, hp: dict, n: int) -> PrivacySpend:
    """sigma and epsilon at Opacus's own sampling: rate q = 1/ceil(n/b) and int(1/q) steps a pass,
    what its Poisson loader yields (calibrated once per configuration, then cached)."""
    q = 1.0 / math.ceil(n / int(hp["batch_size"]))
    return algo.spend(hp, n, q, int(1.0 / q) * int(hp["epochs"]))


def _train_one(
    task: Task,
    data: TaskData,
    algo: Any,
    hp: dict,
    member: torch.Tensor,
    start: dict[str, torch.Tensor],
    seed: int,
    device: torch.device,
    on_epoch: Callable[[float], None] | None,
) -> tuple[dict[str, torch.Tensor], dict]:
    n = data.x_train.shape[0]
    x = torch.where(
        member.view(-1, *[1] * (data.x_train.dim() - 1)), task.strategy(data.x_train), data.x_train
    )
    y = torch.where(member, torch.full_like(data.y_train, task.y_star), data.y_train)
    loader = DataLoader(TensorDataset(task.preprocess(x), y), batch_size=int(hp["batch_size"]))
    epochs = int(hp["epochs"])
    spent = opacus_spend(algo, hp, n)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        net = task.make_model().to(device)
        net.load_state_dict(start)
        optimizer = torch.optim.SGD(
            net.parameters(),
            lr=float(hp["lr"]),
            momentum=float(hp["momentum"]),
            weight_decay=float(hp["weight_decay"]),
        )
        engine = PrivacyEngine(accountant=hp["accountant"])
        wrapped, optimizer, dp_loader = engine.make_private(
            module=net,
            optimizer=optimizer,
            data_loader=loader,
            noise_multiplier=spent.noise_multiplier,
            max_grad_norm=float(hp["max_grad_norm"]),
            poisson_sampling=True,
            grad_sample_mode="hooks",
        )
        wrapped.train()
        for _ in range(epochs):
            for xb, yb in dp_loader:
                optimizer.zero_grad(set_to_none=True)
                F.cross_entropy(wrapped(xb), yb).backward()
                optimizer.step()
            if on_epoch is not None:
                on_epoch(1.0 / epochs)
        noisy = spent.noise_multiplier > 0
        opacus_eps = engine.get_epsilon(spent.delta) if noisy else float("inf")
    params = {name: p.detach().clone() for name, p in net.named_parameters()}
    record = spent.record() | {
        "max_grad_norm": float(hp["max_grad_norm"]),
        "engine": "opacus",
        "expected_batch_size": optimizer.expected_batch_size,
        "opacus_epsilon": float(opacus_eps),
        "opacus_steps": sum(s for _, _, s in engine.accountant.history) if noisy else None,
    }
    return params, record
