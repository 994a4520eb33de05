"""Algorithm registry: YAML entries (built in, from extra folders, or from plugins) validated by a schema.

Each entry names its implementation as `module:Class`. Entries come from the files of a
`cards.RegistrySource` (`algorithms/*.yaml`, then folders in ACA_BENCH_REGISTRY or given with --registry),
and from the entry-point group `aca_bench.algorithms` (an object that is an entry dict or a path to a
YAML file).
"""

import sys
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from aca_bench.algorithms.base import Algorithm
from aca_bench.algorithms.cards import BUILTIN_DIR, RegistrySource, active_source
from aca_bench.algorithms.plugin_import import PluginImportError, import_plugin
from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.yaml_input import read_yaml

ENTRY_POINT_GROUP = "aca_bench.algorithms"
KNOWN_NEEDS = ("groups",)
_SCHEMA: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "implementation": (str,),
    "description": (str,),
    "authors": (list,),
    "paper": (str,),
    "code": (str,),
    "license": (str,),
    "needs": (list,),
    "stackable": (bool,),
    "grid": (dict,),
    "tradeoff_axes": (dict,),  # hparam -> axis label: the site plots alpha* against each
}
_OPTIONAL = {"paper", "code", "needs", "grid", "tradeoff_axes"}


@dataclass
class Entry:
    """A validated registry entry and the algorithm class it names."""

    name: str
    source: str
    card: dict[str, Any]
    cls: type[Algorithm] = field(repr=False)

    def create(self) -> Algorithm:
        return self.cls()


def _problem(source: str, fld: str, msg: str) -> str:
    return f"{source}: {fld}: {msg}"


def check_entry(card: Any, source: str) -> tuple[list[str], type[Algorithm] | None]:
    """All problems with one entry (each 'source: field: message'), and its class when it imports."""
    if not isinstance(card, dict):
        return [_problem(source, "(top)", "an entry must be a mapping of fields")], None
    problems = []
    for fld, types in _SCHEMA.items():
        if fld not in card:
            if fld not in _OPTIONAL:
                problems.append(_problem(source, fld, "required field is missing"))
            continue
        if not isinstance(card[fld], types):
            problems.append(_problem(source, fld, f"must be a {types[0].__name__}"))
    for fld in sorted(set(card) - set(_SCHEMA)):
        problems.append(_problem(source, fld, "unknown field"))
    needs = card.get("needs") if isinstance(card.get("needs"), list) else []  # else reported above
    bad_needs = [n for n in needs if n not in KNOWN_NEEDS]
    if bad_needs:
        problems.append(_problem(source, "needs", f"unknown need {bad_needs[0]!r} (known: {KNOWN_NEEDS})"))
    if problems:
        return problems, None
    cls, import_problem = _import(card["implementation"])
    if import_problem:
        return [_problem(source, "implementation", import_problem)], None
    problems += _check_contract(card, cls, source)
    return problems, cls


def _import(spec: str) -> tuple[Any, str | None]:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        return None, f"expected 'module:Class', got {spec!r}"
    try:
        module = import_plugin(module_name)
    except PluginImportError as exc:  # any import failure is the entry's problem, reported in one line
        return None, f"cannot import {spec}: {exc}"
    obj = getattr(module, attr, None)
    if obj is None:
        return None, f"cannot import {spec}: module {module_name!r} has no attribute {attr!r}"
    if not (isinstance(obj, type) and issubclass(obj, Algorithm)):
        return None, f"{spec} is not a subclass of aca_bench.algorithms.base.Algorithm"
    return obj, None


def _check_contract(card: dict, cls: type[Algorithm], source: str) -> list[str]:
    problems = []
    if getattr(cls, "name", None) != card["name"]:
        problems.append(
            _problem(
                source,
                "name",
                f"{card['name']!r} differs from the class's name {getattr(cls, 'name', None)!r}",
            )
        )
    hparams = getattr(cls, "hparams", None)
    if not isinstance(hparams, dict):
        return problems + [_problem(source, "implementation", "class declares no hparams dict")]
    if cls.update is Algorithm.update and cls.trainer is Algorithm.trainer:
        problems.append(_problem(source, "implementation", "class does not implement update()"))
    for key in sorted(set(cls.per_model) - set(hparams)):
        problems.append(_problem(source, "implementation", f"per_model names undeclared hparam {key!r}"))
    for key, values in (card.get("grid") or {}).items():
        if key not in hparams:
            problems.append(_problem(source, f"grid.{key}", "not a hyperparameter of the algorithm"))
            continue
        if not isinstance(values, list) or not values:
            problems.append(_problem(source, f"grid.{key}", "must be a non-empty list of values"))
            continue
        for v in values:
            try:
                hparams[key].coerce(key, v)
            except BenchError as exc:
                problems.append(_problem(source, f"grid.{key}", exc.message))
    for key, label in (card.get("tradeoff_axes") or {}).items():
        if key not in hparams:
            problems.append(_problem(source, f"tradeoff_axes.{key}", "not a hyperparameter of the algorithm"))
        elif not isinstance(label, str) or not label:
            problems.append(
                _problem(source, f"tradeoff_axes.{key}", "the axis label must be a non-empty string")
            )
    if card["stackable"] != cls.stackable:
        problems.append(
            _problem(source, "stackable", f"entry says {card['stackable']}, class says {cls.stackable}")
        )
    if ("groups" in (card.get("needs") or [])) != cls.needs_groups:
        problems.append(_problem(source, "needs", f"class needs_groups is {cls.needs_groups}"))
    return problems


def entry_sources(source: RegistrySource) -> list[tuple[str, Any]]:
    """(source, card) pairs from the source's files and the plugins' entry points."""
    files = source.files()
    out = []
    for folder in {f.parent.resolve() for f in files}:
        if str(folder) not in sys.path and folder != BUILTIN_DIR.resolve():
            sys.path.insert(0, str(folder))
    for f in files:
        out.append((str(f), read_yaml(f)))
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            import_plugin(ep.module)
            obj = ep.load()
        except Exception as exc:  # PluginImportError included
            raise BenchError(f"entry point {ep.name} ({ep.value}): cannot load: {exc}") from None
        out.append((f"entry point {ep.name}", read_yaml(Path(obj)) if isinstance(obj, str | Path) else obj))
    return out


def validate(extra: list[Path] | None = None) -> tuple[dict[str, Entry], list[str]]:
    """Every entry of the active source (`extra` files or folders added) checked: valid entries by name,
    and one line per problem (duplicates refused)."""
    entries: dict[str, Entry] = {}
    problems: list[str] = []
    for source, card in entry_sources(active_source().with_paths(extra or [])):
        errs, cls = check_entry(card, source)
        if errs:
            problems += errs
            continue
        name = card["name"]
        if name in entries:
            problems.append(
                _problem(source, "name", f"duplicate name {name!r} (already in {entries[name].source})")
            )
            continue
        entries[name] = Entry(name, source, card, cls)
    return entries, problems


_CACHE: dict[RegistrySource, dict[str, Entry]] = {}


def load(extra: list[Path] | None = None) -> dict[str, Entry]:
    """Valid entries of the active source (`extra` added) by name; any invalid entry stops with its
    first problem as one line."""
    key = active_source().with_paths(extra or [])
    if key not in _CACHE:
        entries, problems = validate(extra)
        if problems:
            raise BenchError(problems[0] + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
        _CACHE[key] = entries
    return _CACHE[key]


def get(name: str, extra: list[Path] | None = None) -> Entry:
    """The entry called `name`, or a BenchError listing the known ones."""
    entries = load(extra)
    if name not in entries:
        raise BenchError(f"unknown algorithm '{name}' (known: {', '.join(sorted(entries))})")
    return entries[name]
