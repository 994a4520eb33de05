"""WaterBirds feature sources: a generated stand-in with WaterBirds' group structure, and the real
WaterBirds directory turned into frozen ResNet-50 embeddings (cached on disk).

Every source returns `Features`: train and test embeddings with the bird label y (1 = waterbird) and
the place (1 = water). Groups are (y, place): 0 landbird-land, 1 landbird-water, 2 waterbird-land,
3 waterbird-water.
"""

import csv
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from aca_bench.benchmark.errors import BenchError

GROUP_NAMES = ("landbird-land", "landbird-water", "waterbird-land", "waterbird-water")
# WaterBirds' group sizes (landbird-land, landbird-water, waterbird-land, waterbird-water) per split.
GROUP_SIZES = {
    "train": (3498, 184, 56, 1057),
    "val": (467, 466, 133, 133),
    "test": (2255, 2255, 642, 642),
}
SPLIT_CODES = {"train": 0, "val": 1, "test": 2}
DATASET_URL = "https://nlp.stanford.edu/data/dro/waterbird_complete95_forest2water2.tar.gz"
DATASET_HINT = "get it with: aca-bench data fetch waterbirds --dir DIR (needs internet)"
WEIGHTS_HINT = "get them with: aca-bench data fetch resnet50 (needs internet)"
METADATA_COLUMNS = ("img_id", "img_filename", "y", "split", "place")

# The synthetic stand-in: dimensions, and the strength of each signal per informative coordinate.
SYNTHETIC_SEED = 20200120
SYNTHETIC_DIM = 128
SYNTHETIC_CORE_DIMS = 8  # coordinates that carry the bird (the feature a fair model should use)
SYNTHETIC_SPURIOUS_DIMS = 8  # coordinates that carry the background (easier to read than the bird)
SYNTHETIC_CORE_SHIFT = 0.26  # +-shift of each core coordinate (noise sd 0.5): bird alone ~93% accurate
SYNTHETIC_SPURIOUS_SHIFT = 0.6  # +-shift of each background coordinate: place alone ~99.9% accurate
SYNTHETIC_NOISE = 0.5


@dataclass
class Features:
    """Embeddings [N, D] float32, bird label y [N] int64 (1 = waterbird), place [N] int64 (1 = water)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    place_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    place_test: torch.Tensor


# ----------------------------------------------------------------------------------------- synthetic
def synthetic_split(
    sizes: tuple[int, int, int, int], rng: np.random.RandomState, layout: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One split of the stand-in: `sizes[g]` examples of group g, in a shuffled order."""
    y = np.repeat([0, 0, 1, 1], sizes)
    place = np.repeat([0, 1, 0, 1], sizes)
    order = rng.permutation(y.size)
    y, place = y[order], place[order]
    ys, ps = 2.0 * y - 1.0, 2.0 * place - 1.0
    z = layout["mean"] + rng.standard_normal((y.size, SYNTHETIC_DIM)) * SYNTHETIC_NOISE
    z[:, layout["core"]] += ys[:, None] * SYNTHETIC_CORE_SHIFT
    z[:, layout["spurious"]] += ps[:, None] * SYNTHETIC_SPURIOUS_SHIFT
    return np.maximum(z, 0.0).astype(np.float32), y.astype(np.int64), place.astype(np.int64)


def synthetic_layout(rng: np.random.RandomState) -> dict[str, np.ndarray]:
    """Which coordinates carry the bird and the background, and every coordinate's mean activation."""
    roles = rng.permutation(SYNTHETIC_DIM)
    return {
        "core": np.sort(roles[:SYNTHETIC_CORE_DIMS]),
        "spurious": np.sort(roles[SYNTHETIC_CORE_DIMS : SYNTHETIC_CORE_DIMS + SYNTHETIC_SPURIOUS_DIMS]),
        "mean": rng.uniform(0.5, 1.5, SYNTHETIC_DIM),
    }


def synthetic_splits() -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Every split of the stand-in as (x [N, 128] float32, y, place), generated from a fixed seed."""
    rng = np.random.RandomState(SYNTHETIC_SEED)
    layout = synthetic_layout(rng)
    out = {}
    for split in ("train", "val", "test"):
        x, y, place = synthetic_split(GROUP_SIZES[split], rng, layout)
        out[split] = (torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(place))
    return out


def load_synthetic() -> Features:
    """A generated stand-in with WaterBirds' group structure (NOT WaterBirds; no download).

    Non-negative 128-d "embeddings" (like pooled ReLU features): each coordinate has a positive mean
    and Gaussian noise, clipped at 0. Eight coordinates shift with the bird (the core feature: alone it
    classifies ~93% of birds in every group), eight shift more strongly with the background (the
    spurious feature: it identifies the place almost perfectly). The group sizes per split are
    WaterBirds', so the background agrees with the bird for 95% of training examples and is balanced
    within each class in val and test: ERM leans on the background and its worst group suffers.
    """
    splits = synthetic_splits()
    return Features(*splits["train"], *splits["test"])


# ------------------------------------------------------------------------------- WaterBirds directory
def find_root(root: str | Path) -> Path:
    """The folder holding metadata.csv: `root` itself or one folder below it (as the archive unpacks)."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise BenchError(f"WaterBirds directory '{root}' does not exist; {DATASET_HINT}")
    if (root / "metadata.csv").is_file():
        return root
    found = sorted(p.parent for p in root.glob("*/metadata.csv"))
    if not found:
        raise BenchError(f"no metadata.csv in '{root}' or a folder below it; {DATASET_HINT}")
    return found[0]


def read_metadata(root: Path) -> list[dict[str, str]]:
    """The rows of metadata.csv; a missing column or image is a one-line BenchError."""
    path = root / "metadata.csv"
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in METADATA_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise BenchError(f"{path}: column '{missing[0]}' is missing (need {', '.join(METADATA_COLUMNS)})")
        rows = list(reader)
    for r in rows:
        if not (root / r["img_filename"]).is_file():
            raise BenchError(f"{path}: image '{r['img_filename']}' not found under '{root}'; {DATASET_HINT}")
    return rows


def dataset_digest(root: Path, rows: list[dict[str, str]]) -> str:
    """sha256 over metadata.csv and the bytes of every image it lists: the dataset's contents."""
    h = hashlib.sha256((root / "metadata.csv").read_bytes())
    for r in rows:
        h.update(r["img_filename"].encode() + b"\0")
        h.update(hashlib.sha256((root / r["img_filename"]).read_bytes()).digest())
    return h.hexdigest()


def weights_path() -> Path:
    """Where torchvision keeps ResNet-50's ImageNet weights in the local torch cache."""
    from torchvision.models import ResNet50_Weights

    return Path(torch.hub.get_dir()) / "checkpoints" / Path(ResNet50_Weights.IMAGENET1K_V1.url).name


def backbone_name(weights: str) -> str:
    """The backbone's name in the cache key; a BenchError when ImageNet weights are not in the cache.

    `weights` is `imagenet` (IMAGENET1K_V1 read from the torch cache, never downloaded here) or
    `random` (a fixed-seed random initialisation: for tests, needs no download).
    """
    if weights == "random":
        return "resnet50/random-seed0"
    if weights != "imagenet":
        raise BenchError(f"backbone weights must be 'imagenet' or 'random', got {weights!r}")
    path = weights_path()
    if not path.is_file():
        raise BenchError(f"ResNet-50 ImageNet weights not found at '{path}'; {WEIGHTS_HINT}")
    return f"resnet50/{path.name}"


def backbone(weights: str) -> torch.nn.Module:
    """ResNet-50 without its classifier (2048-d pooled features), in eval mode."""
    from torchvision.models import resnet50

    backbone_name(weights)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = resnet50(weights=None)
    if weights == "imagenet":
        model.load_state_dict(torch.load(weights_path(), map_location="cpu", weights_only=True))
    model.fc = torch.nn.Identity()
    return model.eval()


def image_transform():
    """ImageNet evaluation preprocessing (resize 256, centre crop 224, normalise), as group_DRO uses."""
    from torchvision import transforms

    return transforms.Compose(
        [
            transforms.Resize(256),
            transforms.CenterCrop(224),
            transforms.ToTensor(),
            transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
        ]
    )


def extract(
    model: torch.nn.Module, files: list[Path], device: torch.device, batch_size: int = 128
) -> torch.Tensor:
    """[N, 2048] float32 embeddings of the images, in batches (bf16 + channels_last on CUDA)."""
    from PIL import Image

    transform = image_transform()
    cuda = device.type == "cuda"
    model = model.to(device, memory_format=torch.channels_last if cuda else torch.contiguous_format)
    out = []
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
        for i in range(0, len(files), batch_size):
            imgs = []
            for f in files[i : i + batch_size]:
                with Image.open(f) as im:
                    imgs.append(transform(im.convert("RGB")))
            x = torch.stack(imgs).to(device, non_blocking=True)
            if cuda:
                x = x.contiguous(memory_format=torch.channels_last)
            out.append(model(x).float().cpu())
    return torch.cat(out)


def load_waterbirds_dir(
    root: str | Path, cache_dir: str | Path, weights: str = "imagenet", device: str = "auto"
) -> Features:
    """Train (split 0) and test (split 2) embeddings of a WaterBirds directory, from the cache if there.

    The cache file is named by a hash of the dataset's contents (metadata.csv and every image), the
    backbone and the extraction precision; a second load reads it instead of running the backbone.
    """
    root = find_root(root)
    rows = read_metadata(root)
    dev = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device)
    model_name = backbone_name(weights)
    precision = "bf16" if dev.type == "cuda" else "fp32"
    key = hashlib.sha256(
        f"{dataset_digest(root, rows)}|{model_name}|{precision}|resize256-crop224".encode()
    ).hexdigest()[:24]
    cache = Path(cache_dir).expanduser() / f"waterbirds-{key}.pt"
    if cache.is_file():
        blob = torch.load(cache, map_location="cpu", weights_only=True)
    else:
        x = extract(backbone(weights), [root / r["img_filename"] for r in rows], dev)
        blob = {
            "x": x,
            "y": torch.tensor([int(r["y"]) for r in rows]),
            "place": torch.tensor([int(r["place"]) for r in rows]),
            "split": torch.tensor([int(r["split"]) for r in rows]),
        }
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".tmp{os.getpid()}")
        torch.save(blob, tmp)
        os.replace(tmp, cache)
    tr, te = blob["split"] == SPLIT_CODES["train"], blob["split"] == SPLIT_CODES["test"]
    if not tr.any() or not te.any():
        raise BenchError(f"{root / 'metadata.csv'}: needs rows with split 0 (train) and split 2 (test)")
    return Features(
        blob["x"][tr], blob["y"][tr], blob["place"][tr], blob["x"][te], blob["y"][te], blob["place"][te]
    )


def fetch_dataset(root: str | Path) -> Path:
    """Download and unpack WaterBirds (group_DRO's archive) into `root` (needs internet)."""
    from torchvision.datasets.utils import download_and_extract_archive

    root = Path(root).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    try:
        download_and_extract_archive(DATASET_URL, download_root=str(root))
    except OSError as exc:  # no network, refused, disk full: one line, not a traceback
        raise BenchError(f"downloading {DATASET_URL} failed: {exc}") from None
    (root / Path(DATASET_URL).name).unlink(missing_ok=True)
    return find_root(root)


def fetch_weights() -> Path:
    """Download ResNet-50's ImageNet weights into the local torch cache (needs internet)."""
    from torchvision.models import ResNet50_Weights

    try:
        ResNet50_Weights.IMAGENET1K_V1.get_state_dict(progress=True, check_hash=True)
    except OSError as exc:
        raise BenchError(f"downloading {ResNet50_Weights.IMAGENET1K_V1.url} failed: {exc}") from None
    return weights_path()
