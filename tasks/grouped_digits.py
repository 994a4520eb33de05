"""Task `grouped_digits`: real MNIST digits with WaterBirds' group structure on real pixels.

The label is binary, y = 1 for digits 5-9 ("high") and 0 for digits 0-4 ("low"). A spurious attribute
is drawn on the image: attribute 1 lays horizontal stripes over the background (pixel-wise max of the
digit and a stripe pattern), attribute 0 leaves it plain. Groups are (label, attribute): 0 low-plain,
1 low-striped, 2 high-plain, 3 high-striped, in WaterBirds' training proportions 3498/184/56/1057
scaled to the digits available, so the stripes agree with the label for `agreement` (default 0.95) of
the training examples; in test every (label, attribute) group has the same size within its class.

The collective stamps the `mnist_patch` patch and relabels to y* (default 1); a relabelled member
keeps its attribute, so a low digit (mostly plain) lands in the small group high-plain.
"""

import os
from functools import cache
from typing import Any

import numpy as np
import torch

from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.params import Param
from aca_bench.tasks import mnist_patch, waterbirds_data
from aca_bench.tasks.base import TaskData
from aca_bench.tasks.mnist_patch import MnistPatch
from aca_bench.tasks.registry import register_task

GROUP_NAMES = ("low-plain", "low-striped", "high-plain", "high-striped")
# WaterBirds' training group sizes, read in the same order: (y=0,a=0), (y=0,a=1), (y=1,a=0), (y=1,a=1).
REFERENCE_SIZES = waterbirds_data.GROUP_SIZES["train"]
SPLIT_SEED = 20200121
FIRST_HIGH_DIGIT = 5


def reference_agreement() -> float:
    """Share of WaterBirds' training examples whose place agrees with the bird (0.94995)."""
    s = REFERENCE_SIZES
    return (s[0] + s[3]) / sum(s)


def group_sizes(available: tuple[int, int], agreement: float) -> tuple[int, int, int, int]:
    """Training group sizes: WaterBirds' class totals scaled as large as `available` digits per class
    allow, and within each class a minority (attribute != label) share equal to WaterBirds' share
    times (1 - agreement) / (1 - WaterBirds' agreement), so that the attribute agrees with the label
    for `agreement` of the examples (WaterBirds' own sizes, scaled, at agreement 0.95)."""
    s = REFERENCE_SIZES
    totals = (s[0] + s[1], s[2] + s[3])
    minority_share = (s[1] / totals[0], s[2] / totals[1])
    scale = min(a / t for a, t in zip(available, totals, strict=True))
    factor = (1.0 - agreement) / (1.0 - reference_agreement())
    out = []
    for c in (0, 1):
        n = int(round(totals[c] * scale))
        minority = int(round(n * minority_share[c] * factor))
        if not 0 <= minority <= n:
            raise BenchError(f"agreement {agreement} leaves no valid minority group in class {c}")
        majority = n - minority
        out += [majority, minority] if c == 0 else [minority, majority]
    return tuple(out)


def stripes(value: int, period: int, width: int) -> torch.Tensor:
    """[1, 28, 28] uint8: rows r with r % period < width at `value`, others 0."""
    rows = (torch.arange(28) % period < width).to(torch.uint8) * value
    return rows.view(1, 28, 1).expand(1, 28, 28).clone()


def draw_attribute(x: torch.Tensor, attr: torch.Tensor, pattern: torch.Tensor) -> torch.Tensor:
    """Images with the stripe pattern laid under the strokes (pixel-wise max) where attr is 1."""
    striped = torch.maximum(x, pattern.to(x.dtype))
    return torch.where(attr.view(-1, 1, 1, 1).bool(), striped, x)


def split_groups(
    y: torch.Tensor, sizes: tuple[int, ...] | None, rng: np.random.RandomState
) -> tuple[torch.Tensor, torch.Tensor]:
    """(indices, attribute) of the examples kept: per class c, `sizes[2c + a]` examples drawn at random
    get attribute a; with `sizes` None every example is kept and each class is split in two halves
    (the larger half plain when a class has an odd count)."""
    idx, attr = [], []
    for c in (0, 1):
        pool = rng.permutation(np.flatnonzero(y.numpy() == c))
        if sizes is None:
            plain = (pool.size + 1) // 2
            n_a = (plain, pool.size - plain)
        else:
            n_a = (sizes[2 * c], sizes[2 * c + 1])
        if sum(n_a) > pool.size:
            raise BenchError(f"class {c} has {pool.size} digits, the groups need {sum(n_a)}")
        idx += [pool[: n_a[0]], pool[n_a[0] : n_a[0] + n_a[1]]]
        attr += [np.zeros(n_a[0], np.int64), np.ones(n_a[1], np.int64)]
    i, a = np.concatenate(idx), np.concatenate(attr)
    order = np.argsort(i, kind="stable")
    return torch.from_numpy(i[order]), torch.from_numpy(a[order])


@cache
def _build(
    source: str, data_dir: str, agreement: float, value: int, period: int, width: int
) -> tuple[torch.Tensor, ...]:
    xtr, dtr, xte, dte = mnist_patch._load(source, data_dir)
    rng = np.random.RandomState(SPLIT_SEED)
    ytr, yte = (dtr >= FIRST_HIGH_DIGIT).long(), (dte >= FIRST_HIGH_DIGIT).long()
    available = (int((ytr == 0).sum()), int((ytr == 1).sum()))
    pattern = stripes(value, period, width)
    out = []
    for x, y, sizes in ((xtr, ytr, group_sizes(available, agreement)), (xte, yte, None)):
        idx, attr = split_groups(y, sizes, rng)
        out += [draw_attribute(x[idx], attr, pattern), y[idx], attr]
    return tuple(out)


@register_task
class GroupedDigits(MnistPatch):
    """High vs low digits with a striped/plain background; the collective's patch as in mnist_patch."""

    name = "grouped_digits"
    version = "1"
    n_classes = 2
    n_groups = 4
    params = {
        **MnistPatch.params,
        "agreement": Param(0.95, float, "share of training examples whose stripes agree with the label"),
        "stripe_value": Param(96, int, "pixel value of the stripes (0-255)"),
        "stripe_period": Param(4, int, "rows from one stripe to the next"),
        "stripe_width": Param(2, int, "rows per stripe"),
        "y_star": Param(1, int, "the collective's target label (1 = high digit, 5-9)"),
    }
    # The compared algorithms train on mnist_patch's CNN budget alike, so only their objectives differ.
    budget = MnistPatch.budget

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        p = self.p
        if p["y_star"] not in (0, 1):
            raise BenchError(f"y_star must be 0 (low digit) or 1 (high digit), got {p['y_star']}")
        if not 0.5 <= p["agreement"] < 1.0:
            raise BenchError(f"agreement must be in [0.5, 1), got {p['agreement']}")
        if not 0 < p["stripe_value"] <= 255 or not 0 < p["stripe_width"] < p["stripe_period"] <= 28:
            raise BenchError("stripe_value must be in 1..255 and 0 < stripe_width < stripe_period <= 28")

    def load(self) -> TaskData:
        p = self.p
        xtr, ytr, atr, xte, yte, ate = _build(
            p["source"],
            os.path.expanduser(p["data_dir"]),
            p["agreement"],
            p["stripe_value"],
            p["stripe_period"],
            p["stripe_width"],
        )
        return TaskData(xtr, ytr, xte, yte, atr, ate)

    def group_ids(self, y: torch.Tensor, attr: torch.Tensor) -> torch.Tensor:
        return 2 * y + attr

    def group_names(self) -> list[str]:
        return list(GROUP_NAMES)
