"""The mnist_patch task: the patch lands exactly where configured; both data sources load."""

import gzip
import sys

import numpy as np
import pytest
import torch

from aca_bench.benchmark.errors import BenchError
from aca_bench.tasks import mnist_data
from aca_bench.tasks.mnist_patch import MnistPatch


def test_default_patch_is_3x3_white_bottom_right_and_nothing_else_changes():
    x = torch.zeros(2, 1, 28, 28, dtype=torch.uint8)
    out = MnistPatch().strategy(x)
    assert out.dtype == torch.uint8 and x.sum() == 0  # input untouched
    assert (out[:, :, 25:, 25:] == 255).all()
    out[:, :, 25:, 25:] = 0
    assert out.sum() == 0


@pytest.mark.parametrize(
    ("position", "margin", "size", "rows", "cols"),
    [
        ("top-left", 0, 2, (0, 2), (0, 2)),
        ("top-right", 1, 4, (1, 5), (23, 27)),
        ("bottom-left", 2, 3, (23, 26), (2, 5)),
        ("center", 0, 4, (12, 16), (12, 16)),
    ],
)
def test_patch_position_size_margin_value(position, margin, size, rows, cols):
    task = MnistPatch(position=position, margin=margin, patch_size=size, patch_value=77)
    out = task.strategy(torch.zeros(1, 28, 28, dtype=torch.uint8))[0]
    expected = torch.zeros(28, 28, dtype=torch.uint8)
    expected[rows[0] : rows[1], cols[0] : cols[1]] = 77
    assert torch.equal(out, expected)


def test_patch_that_does_not_fit_is_refused():
    with pytest.raises(BenchError, match="does not fit"):
        MnistPatch(patch_size=28, margin=1)


def test_embedded_split_is_real_stratified_and_fixed():
    xtr, ytr, xte, yte = mnist_data.load_embedded()
    assert xtr.shape == (4000, 1, 28, 28) and xte.shape == (1000, 1, 28, 28)
    assert xtr.dtype == torch.uint8 and int(xtr.max()) == 255
    assert torch.bincount(ytr).tolist() == [400] * 10 and torch.bincount(yte).tolist() == [100] * 10
    again = mnist_data.load_embedded()
    assert torch.equal(again[0], xtr) and torch.equal(again[3], yte)


def _write_mnist(root, n_train=12, n_test=5, gz=False):
    rng = np.random.default_rng(0)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    data = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        for kind, arr in (("images-idx3", images), ("labels-idx1", labels)):
            path = raw / f"{split}-{kind}-ubyte"
            mnist_data.write_idx(path, arr)
            if gz:
                path.with_suffix(".gz").write_bytes(gzip.compress(path.read_bytes()))
                path.unlink()
        data[split] = (images, labels)
    return data


@pytest.mark.parametrize("gz", [False, True])
def test_idx_directory_is_read_in_torchvision_layout(tmp_path, gz):
    written = _write_mnist(tmp_path, gz=gz)
    task = MnistPatch(source="mnist", data_dir=str(tmp_path))
    d = task.load()
    assert d.x_train.shape == (12, 1, 28, 28) and d.x_test.shape == (5, 1, 28, 28)
    assert np.array_equal(d.x_train[:, 0].numpy(), written["train"][0])
    assert np.array_equal(d.y_test.numpy(), written["t10k"][1].astype(np.int64))


def test_missing_mnist_directory_says_how_to_fetch(tmp_path):
    with pytest.raises(BenchError, match="does not exist; get it with: aca-bench data fetch mnist"):
        MnistPatch(source="mnist", data_dir=str(tmp_path / "nope")).load()


def test_truncated_idx_file_is_reported(tmp_path):
    _write_mnist(tmp_path)
    path = tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(BenchError, match="truncated"):
        mnist_data.load_idx_dir(tmp_path)


def test_registry_finds_every_task_module_even_after_one_was_imported(monkeypatch):
    import aca_bench.tasks.registry as reg

    monkeypatch.setattr(reg, "_DISCOVERED", False)
    monkeypatch.delitem(
        sys.modules, "aca_bench.tasks.waterbirds", raising=False
    )  # so importing registers again
    monkeypatch.setattr(reg, "_TASKS", {"mnist_patch": MnistPatch})  # as if only one module was imported
    assert {"mnist_patch", "waterbirds_feature_flip"} <= set(reg.all_tasks())
