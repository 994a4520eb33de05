"""Registry cards as data: find and parse the YAML entry files without importing any implementation.

`aca_bench.algorithms.registry` validates entries (and imports their classes, so torch); this module only
finds them (they are read by `aca_bench.benchmark.yaml_input`, the product's one YAML reader), so the
leaderboard site and suite loading stay torch-free.
"""

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BUILTIN_DIR = Path(__file__).parent
ENV_VARIABLE = "ACA_BENCH_REGISTRY"  # extra entry folders or files, os.pathsep-separated


@dataclass(frozen=True)
class RegistrySource:
    """Where registry entries are read from: the built-in folder, then `extra` folders or YAML files in
    order (plugins' entry points are read beside them by `aca_bench.algorithms.registry`).

    The source in force is `active_source()`: the one a command installed with `use` (its --registry
    paths added), else `from_environment()`, the one reader of ACA_BENCH_REGISTRY."""

    extra: tuple[Path, ...] = ()

    @classmethod
    def from_environment(cls) -> "RegistrySource":
        return cls(tuple(Path(p) for p in os.environ.get(ENV_VARIABLE, "").split(os.pathsep) if p))

    def with_paths(self, paths: Iterable[str | Path]) -> "RegistrySource":
        """This source with `paths` (folders or YAML files) added after its own."""
        return RegistrySource((*self.extra, *map(Path, paths)))

    def files(self) -> list[Path]:
        """Entry files: built-in, then each extra folder's YAML files (sorted) or the extra file itself."""
        files: list[Path] = []
        for p in (BUILTIN_DIR, *self.extra):
            files += sorted(p.glob("*.yaml")) if p.is_dir() else [p]
        return files


_IN_USE: list[RegistrySource] = []


def active_source() -> RegistrySource:
    """The registry source in force: the innermost `use`, else the environment's."""
    return _IN_USE[-1] if _IN_USE else RegistrySource.from_environment()


@contextmanager
def use(source: RegistrySource) -> Iterator[RegistrySource]:
    """Read the registry from `source` inside the block (a command's --registry paths)."""
    _IN_USE.append(source)
    try:
        yield source
    finally:
        _IN_USE.remove(source)
