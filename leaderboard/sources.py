"""What the site reads besides the records, all as data: registry cards (YAML), the built-in suites
(YAML: the grid each suite runs) and task descriptions (docstrings read from source with `ast`).

Nothing here imports an implementation, so building the site never loads torch or Opacus.
"""

import ast
import importlib.util
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aca_bench.algorithms.cards import active_source
from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.yaml_input import read_yaml


@dataclass
class Card:
    """A registry card as the site uses it (fields as written; missing ones empty)."""

    name: str
    source: str
    fields: dict[str, Any]
    tradeoff_axes: dict[str, str] = field(default_factory=dict)
    registry: str | None = None  # the --registry path it was found under; None: a built-in entry

    @property
    def command(self) -> str:
        """How a reader runs this entry through the standard suite (an outside one needs its path)."""
        extra = "" if self.registry is None else f" --registry {shlex.quote(self.registry)}"
        return f"aca-bench run standard --algorithm {shlex.quote(self.name)}{extra}"


def read_cards(extra: list[Path] | None = None) -> tuple[dict[str, Card], list[str]]:
    """Cards by name from the registry's folders, and one line per file skipped (unreadable,
    not a mapping, nameless or a duplicate name). Entry-point plugins are not read: loading them
    would import their code."""
    cards: dict[str, Card] = {}
    problems: list[str] = []
    seen: set[Path] = set()
    for path in active_source().with_paths(extra or []).files():
        if path.resolve() in seen:  # a folder named twice (e.g. --registry algorithms/) is read once
            continue
        seen.add(path.resolve())
        try:
            data = read_yaml(path)
        except BenchError as exc:
            problems.append(exc.message)
            continue
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            problems.append(f"{path}: not a registry card (a mapping with a name)")
            continue
        if data["name"] in cards:
            problems.append(f"{path}: name: duplicate name {data['name']!r}")
            continue
        axes = data.get("tradeoff_axes")
        axes = {str(k): str(v) for k, v in axes.items()} if isinstance(axes, dict) else {}
        outside = [
            e
            for e in extra or []
            if path.resolve() == Path(e).resolve() or Path(e).resolve() in path.resolve().parents
        ]
        cards[data["name"]] = Card(data["name"], str(path), data, axes, str(outside[0]) if outside else None)
    return cards, problems


@dataclass(frozen=True)
class SuiteGrid:
    """One experiment of a built-in suite for one algorithm: its task, alphas, seeds and hparams."""

    suite: str
    experiment: str
    task: str
    alphas: tuple
    seeds: Any
    hparams: tuple[tuple[str, Any], ...]
    task_params: tuple[tuple[str, Any], ...] = ()


def suite_grids(folder: Path | None = None) -> dict[str, list[SuiteGrid]]:
    """Per algorithm name, every experiment of the built-in suites that runs it (as the YAML says)."""
    folder = folder or _package_dir("aca_bench.benchmark") / "suites"
    out: dict[str, list[SuiteGrid]] = {}
    for path in sorted(folder.glob("*.yaml")):
        suite = read_yaml(path)
        if not isinstance(suite, dict):
            continue
        for exp in suite.get("experiments") or []:
            if not isinstance(exp, dict) or not isinstance(exp.get("algorithm"), str):
                continue
            hp = exp.get("hparams") if isinstance(exp.get("hparams"), dict) else {}
            tp = exp.get("task_params") if isinstance(exp.get("task_params"), dict) else {}
            out.setdefault(exp["algorithm"], []).append(
                SuiteGrid(
                    str(suite.get("name", path.stem)),
                    str(exp.get("name", "")),
                    str(exp.get("task", "")),
                    tuple(exp.get("alphas") or ()),
                    exp.get("seeds", ""),
                    tuple(sorted(hp.items())),
                    tuple(sorted(tp.items())),
                )
            )
    return out


def task_descriptions() -> dict[str, str]:
    """Per task name, the docstring of the module that defines it (and of its class), read from the
    built-in tasks' source with `ast`: a class with `name = "..."` is a task of that name."""
    out: dict[str, str] = {}
    for path in sorted(_package_dir("aca_bench.tasks").glob("*.py")):
        try:
            tree = ast.parse(path.read_text())
        except (OSError, SyntaxError):
            continue
        module_doc = ast.get_docstring(tree) or ""
        for node in tree.body:
            if not isinstance(node, ast.ClassDef):
                continue
            for stmt in node.body:
                if (
                    isinstance(stmt, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == "name" for t in stmt.targets)
                    and isinstance(stmt.value, ast.Constant)
                    and isinstance(stmt.value.value, str)
                ):
                    parts = [module_doc, ast.get_docstring(node) or ""]
                    out[stmt.value.value] = "\n\n".join(p for p in parts if p)
    return out


def _package_dir(name: str) -> Path:
    """The folder of a package, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise BenchError(f"package {name} not found")
    return Path(next(iter(spec.submodule_search_locations)))
