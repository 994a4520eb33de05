"""The environment recorded with every run: package versions, device, git commit."""

import os
import platform
import subprocess
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch

from aca_bench.benchmark.errors import BenchError

_PACKAGES = ("aca-bench", "torch", "torchvision", "opacus", "numpy")
COMMAND_VARIABLE = "ACA_BENCH_COMMAND"  # the aca-bench command line a run came from (set by the CLI)


def resolve_device(name: str) -> torch.device:
    """auto -> cuda when available, else cpu; asking for cuda without one is a BenchError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise BenchError("--device cuda asked for, but no CUDA device is available")
    if name not in ("cpu",) and not name.startswith("cuda"):
        raise BenchError(f"unknown device '{name}' (use auto, cpu or cuda)")
    return torch.device(name)


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued kernels (a no-op on a CPU), so a clock read after it is honest."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's model name (e.g. 'AMD EPYC ...'), else the machine type."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@cache
def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return os.environ.get("ACA_BENCH_GIT_COMMIT") or None
    return out.stdout.strip() or os.environ.get("ACA_BENCH_GIT_COMMIT") or None


def _version(pkg: str) -> str | None:
    try:
        return version(pkg)
    except PackageNotFoundError:
        return None


def environment(device: torch.device) -> dict:
    """A JSON-able description of where a run happened."""
    return {
        "packages": {p: _version(p) for p in _PACKAGES},
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": device.type,
        "device_name": device_name(device),
        "threads": torch.get_num_threads(),
        "git_commit": _git_commit(),
        "command": os.environ.get(COMMAND_VARIABLE),
    }
