"""Declared parameters (task parameters, algorithm hyperparameters): defaults, types, ranges, coercion.

A parameter may declare a numeric range (`low`/`high`, each inclusive unless `low_open`/`high_open`).
A float is finite (NaN and inf refused, 1e400 included) unless the parameter declares `allow_inf`.
A bound may also name a quantity known only once the task's data is loaded (`"n_train"`): such a bound
is checked by `check_bounds` before any cell trains, the numeric ones by `coerce` as the value is read.
"""

import math
from dataclasses import dataclass
from typing import Any

from aca_bench.benchmark.errors import BenchError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
Bound = float | int | str | None


@dataclass(frozen=True)
class Param:
    """One declared parameter: its default, its type, a help line, allowed values and an allowed range."""

    default: Any
    type: type
    help: str = ""
    choices: tuple | None = None
    nullable: bool = False
    identity: bool = True  # False for locations (data directories): not part of a run's identity
    low: Bound = None  # a number, or the name of a run-time quantity (e.g. "n_train")
    high: Bound = None
    low_open: bool = False  # True: the value must be strictly above `low`
    high_open: bool = False  # True: the value must be strictly below `high`
    in_id_at_default: bool = True  # False: left out of a run's identity while at its default (added later)
    allow_inf: bool = False  # True: +inf is a value (target_epsilon: no noise); else floats are finite

    def in_identity(self, value: Any) -> bool:
        """Whether `value` of this parameter is part of a run's identity (its run id)."""
        return self.identity and (self.in_id_at_default or value != self.default)

    def coerce(self, name: str, value: Any) -> Any:
        """Convert a YAML or command-line value to this parameter's type and check its numeric range,
        or raise BenchError."""
        if value is None or (isinstance(value, str) and value.lower() in {"none", "null"}):
            if self.nullable:
                return None
            raise BenchError(f"parameter '{name}' may not be empty")
        try:
            out = self._convert(value)
        except (TypeError, ValueError, OverflowError):
            raise BenchError(f"parameter '{name}' expects {self.type.__name__}, got {value!r}") from None
        if self.choices is not None and out not in self.choices:
            raise BenchError(f"parameter '{name}' must be one of {list(self.choices)}, got {out!r}")
        self.check_range(name, out, {})
        if isinstance(out, float) and not math.isfinite(out) and not (self.allow_inf and out == math.inf):
            raise BenchError(f"parameter '{name}' must be a finite number, got {_show(out)}")
        return out

    def check_range(self, name: str, value: Any, known: dict[str, float]) -> None:
        """BenchError unless `value` lies in the declared range; a bound naming a quantity missing from
        `known` is not checked (yet)."""
        if value is None or (self.low is None and self.high is None):
            return
        low, high = self._bound(self.low, known), self._bound(self.high, known)
        if isinstance(value, float) and math.isnan(value):
            ok = False
        else:
            ok = (low is None or (value > low if self.low_open else value >= low)) and (
                high is None or (value < high if self.high_open else value <= high)
            )
        if not ok:
            raise BenchError(f"parameter '{name}' must be {self.range_text(known)}, got {_show(value)}")

    def range_text(self, known: dict[str, float] | None = None) -> str:
        """The declared range in words: 'in (0, 1)', '>= 1', 'in [1, n_train]' or 'in [1, 4000]'."""
        known = known or {}
        low, high = (f"{b}={_show(known[b])}" if b in known else _show(b) for b in (self.low, self.high))
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {low}"
        if self.low is None:
            return f"{'<' if self.high_open else '<='} {high}"
        return f"in {'(' if self.low_open else '['}{low}, {high}{')' if self.high_open else ']'}"

    @staticmethod
    def _bound(bound: Bound, known: dict[str, float]) -> float | None:
        return known.get(bound) if isinstance(bound, str) else bound

    def _convert(self, value: Any) -> Any:
        if self.type is bool:
            if isinstance(value, bool):
                return value
            text = str(value).lower()
            if text in _TRUE | _FALSE:
                return text in _TRUE
            raise ValueError(value)
        if self.type is float:
            if isinstance(value, bool):
                raise TypeError(value)
            if isinstance(value, str) and value.strip().lower().lstrip("+") in {".inf", "inf", "infinity"}:
                return math.inf  # as YAML writes it (.inf) or as text
            return float(value)
        if self.type is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise TypeError(value)
            return int(float(value)) if isinstance(value, str) and "." in value else int(value)
        return self.type(value)


def _show(value: Any) -> str:
    """A bound or value as a user wrote it: 2 not 2.0, inf not math.inf."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def resolve(spec: dict[str, Param], given: dict[str, Any], owner: str) -> dict[str, Any]:
    """Defaults overlaid with `given`, each coerced; an undeclared name is a BenchError."""
    unknown = sorted(set(given) - set(spec), key=str)
    if unknown:
        raise BenchError(f"unknown parameter '{unknown[0]}' for {owner} (known: {', '.join(sorted(spec))})")
    return {name: p.coerce(name, given.get(name, p.default)) for name, p in spec.items()}


def check_bounds(spec: dict[str, Param], values: dict[str, Any], known: dict[str, float], owner: str) -> None:
    """BenchError for the first value outside a range whose bound names a quantity in `known` (e.g. the
    training set size), with the owner named: checked before any training starts."""
    for name, p in spec.items():
        if name in values and (isinstance(p.low, str) or isinstance(p.high, str)):
            try:
                p.check_range(name, values[name], known)
            except BenchError as exc:
                raise BenchError(f"{owner}: {exc.message}") from None
