"""Task `waterbirds_feature_flip`: heads on frozen WaterBirds embeddings; the collective flips the sign
of m fixed embedding coordinates and relabels its examples y* (waterbird).

Groups are (bird, place). A relabelled member keeps its place, so it lands in group (y*, place).
"""

import os
from functools import cache
from typing import Any

import numpy as np
import torch
from torch import nn

from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.params import Param
from aca_bench.tasks import waterbirds_data
from aca_bench.tasks.base import Download, Task, TaskData
from aca_bench.tasks.models import linear_head, mlp_head
from aca_bench.tasks.registry import register_task

DEFAULT_WATERBIRDS_DIR = os.environ.get("ACA_BENCH_WATERBIRDS_DIR", "~/.cache/aca-bench/waterbirds")
DEFAULT_CACHE_DIR = os.environ.get("ACA_BENCH_FEATURE_CACHE", "~/.cache/aca-bench/features")
FLIP_RULES = ("random", "first", "largest_mean")


@cache
def _load(source: str, data_dir: str, cache_dir: str, weights: str) -> waterbirds_data.Features:
    if source == "synthetic":
        return waterbirds_data.load_synthetic()
    return waterbirds_data.load_waterbirds_dir(data_dir, cache_dir, weights)


def flip_coordinates(x_train: torch.Tensor, m: int, rule: str, seed: int) -> torch.Tensor:
    """The m coordinates g flips (sorted int64): `first` m, a `random` subset drawn from `seed`, or
    the m with the `largest_mean` training activation (ties broken by index). Deterministic."""
    d = x_train.shape[-1]
    if not 1 <= m <= d:
        raise BenchError(f"m = {m} coordinates cannot be flipped in a {d}-d embedding (need 1..{d})")
    if rule == "first":
        coords = np.arange(m)
    elif rule == "random":
        coords = np.random.RandomState(seed).permutation(d)[:m]
    else:
        mean = x_train.double().mean(0).numpy()
        coords = np.lexsort((np.arange(d), -mean))[:m]
    return torch.from_numpy(np.sort(coords).astype(np.int64))


@register_task
class WaterbirdsFeatureFlip(Task):
    """Bird classification on frozen embeddings; g negates m fixed coordinates and relabels y*."""

    name = "waterbirds_feature_flip"
    version = "1"
    n_classes = 2
    n_groups = 4
    params = {
        "source": Param(
            "synthetic",
            str,
            "synthetic (generated stand-in with WaterBirds' group sizes, no "
            "download) or waterbirds (the dataset directory -> ResNet-50 embeddings)",
            choices=("synthetic", "waterbirds"),
        ),
        "data_dir": Param(
            DEFAULT_WATERBIRDS_DIR,
            str,
            "WaterBirds directory with metadata.csv (source=waterbirds)",
            identity=False,
        ),
        "cache_dir": Param(DEFAULT_CACHE_DIR, str, "where extracted embeddings are cached", identity=False),
        "backbone_weights": Param(
            "imagenet",
            str,
            "ResNet-50 weights for source=waterbirds: imagenet "
            "(from the torch cache) or random (fixed seed; tests)",
            choices=("imagenet", "random"),
        ),
        "m": Param(8, int, "how many embedding coordinates g flips", low=1),
        "flip_rule": Param(
            "random",
            str,
            "which coordinates: random (from flip_seed), first, or "
            "largest_mean (largest mean training activation)",
            choices=FLIP_RULES,
        ),
        "flip_seed": Param(0, int, "seed of the random coordinate choice", low=0, high=2**32 - 1),
        "y_star": Param(1, int, "the collective's target label (1 = waterbird)", low=0, high=1),
        "head": Param("linear", str, "model on the embeddings", choices=("linear", "mlp")),
        "hidden": Param(128, int, "hidden units of the mlp head", low=1),
    }
    # One budget for every algorithm compared here, so only their objectives differ.
    budget = {"lr": 0.01, "momentum": 0.9, "batch_size": 64, "epochs": 20}
    downloads = (
        Download(
            "waterbirds",
            "WaterBirds (group_DRO's waterbird_complete95_forest2water2 archive, about 0.5 GB).",
            waterbirds_data.fetch_dataset,
            "WaterBirds is in {path}; use --set source=waterbirds --set data_dir={path} "
            "(embeddings also need: aca-bench data fetch resnet50)",
            DEFAULT_WATERBIRDS_DIR,
        ),
        Download(
            "resnet50",
            "ResNet-50 ImageNet weights (torchvision IMAGENET1K_V1) into the local torch cache.",
            waterbirds_data.fetch_weights,
            "ResNet-50 weights are in {path}",
        ),
    )

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        if self.p["y_star"] not in (0, 1):
            raise BenchError(f"y_star must be 0 (landbird) or 1 (waterbird), got {self.p['y_star']}")
        self._coords: torch.Tensor | None = None
        self._stats: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def _features(self) -> waterbirds_data.Features:
        p = self.p
        return _load(
            p["source"],
            os.path.expanduser(p["data_dir"]),
            os.path.expanduser(p["cache_dir"]),
            p["backbone_weights"],
        )

    def load(self) -> TaskData:
        f = self._features()
        self.coordinates()  # validate m against the embedding size early
        return TaskData(f.x_train, f.y_train, f.x_test, f.y_test, f.place_train, f.place_test)

    def coordinates(self) -> torch.Tensor:
        """The flipped coordinates (CPU int64)."""
        if self._coords is None:
            self._coords = flip_coordinates(
                self._features().x_train, self.p["m"], self.p["flip_rule"], self.p["flip_seed"]
            )
        return self._coords

    def strategy(self, x: torch.Tensor) -> torch.Tensor:
        sign = torch.ones(x.shape[-1], dtype=x.dtype, device=x.device)
        sign[self.coordinates().to(x.device)] = -1
        return x * sign

    def strategy_description(self) -> dict[str, Any]:
        return {
            "name": "feature_flip",
            "m": self.p["m"],
            "rule": self.p["flip_rule"],
            "coordinates": self.coordinates().tolist(),
            "y_star": self.y_star,
        }

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """Standardise each coordinate with the clean training set's mean and sd (g acts before this)."""
        key = str(x.device)
        if key not in self._stats:
            xtr = self._features().x_train.double()
            mean, sd = xtr.mean(0), xtr.std(0).clamp_min(1e-6)
            self._stats[key] = (mean.float().to(x.device), sd.float().to(x.device))
        mean, sd = self._stats[key]
        return (x.float() - mean) / sd

    def make_model(self) -> nn.Module:
        d = self._features().x_train.shape[1]
        if self.p["head"] == "mlp":
            return mlp_head(d, self.n_classes, self.p["hidden"])
        return linear_head(d, self.n_classes)

    def group_ids(self, y: torch.Tensor, attr: torch.Tensor) -> torch.Tensor:
        return 2 * y + attr

    def group_names(self) -> list[str]:
        return list(waterbirds_data.GROUP_NAMES)
