"""Registry cards as data: find and parse the YAML entry files without importing any implementation.

`aca_bench.algorithms.registry` validates entries (and imports their classes, so torch); this module only
reads
them, so the leaderboard site and suite loading stay torch-free.
"""

import os
from pathlib import Path
from typing import Any

import yaml

from aca_bench.benchmark.errors import BenchError

BUILTIN_DIR = Path(__file__).parent


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; malformed YAML is a one-line BenchError naming the file and line."""
    try:
        return yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise BenchError(f"{path}:{where} malformed YAML: {getattr(exc, 'problem', exc)}") from None
    except OSError as exc:
        raise BenchError(f"cannot read {path}: {exc.strerror}") from None


def card_files(extra: list[Path] | None = None) -> list[Path]:
    """Entry files: built-in, then folders in ACA_BENCH_REGISTRY, then `extra` (folders or files)."""
    folders = [BUILTIN_DIR]
    folders += [Path(p) for p in os.environ.get("ACA_BENCH_REGISTRY", "").split(os.pathsep) if p]
    files: list[Path] = []
    for p in [*folders, *(extra or [])]:
        p = Path(p)
        files += sorted(p.glob("*.yaml")) if p.is_dir() else [p]
    return files
