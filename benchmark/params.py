"""Declared parameters (task parameters, algorithm hyperparameters): defaults, types, coercion."""

from dataclasses import dataclass
from typing import Any

from benchmark.errors import BenchError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Param:
    """One declared parameter: its default, its type, a help line, and optional allowed values."""

    default: Any
    type: type
    help: str = ""
    choices: tuple | None = None
    nullable: bool = False
    identity: bool = True  # False for locations (data directories): not part of a run's identity
    in_id_at_default: bool = True  # False: left out of a run's identity while at its default (added later)

    def in_identity(self, value: Any) -> bool:
        """Whether `value` of this parameter is part of a run's identity (its run id)."""
        return self.identity and (self.in_id_at_default or value != self.default)

    def coerce(self, name: str, value: Any) -> Any:
        """Convert a YAML or command-line value to this parameter's type, or raise BenchError."""
        if value is None or (isinstance(value, str) and value.lower() in {"none", "null"}):
            if self.nullable:
                return None
            raise BenchError(f"parameter '{name}' may not be empty")
        try:
            out = self._convert(value)
        except (TypeError, ValueError):
            raise BenchError(f"parameter '{name}' expects {self.type.__name__}, got {value!r}") from None
        if self.choices is not None and out not in self.choices:
            raise BenchError(f"parameter '{name}' must be one of {list(self.choices)}, got {out!r}")
        return out

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
            return float(value)
        if self.type is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise TypeError(value)
            return int(float(value)) if isinstance(value, str) and "." in value else int(value)
        return self.type(value)


def resolve(spec: dict[str, Param], given: dict[str, Any], owner: str) -> dict[str, Any]:
    """Defaults overlaid with `given`, each coerced; an undeclared name is a BenchError."""
    unknown = sorted(set(given) - set(spec))
    if unknown:
        raise BenchError(f"unknown parameter '{unknown[0]}' for {owner} (known: {', '.join(sorted(spec))})")
    return {name: p.coerce(name, given.get(name, p.default)) for name, p in spec.items()}
