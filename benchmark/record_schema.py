"""The schema a stored record must pass on read: the fields every reader takes for granted, with their
types and ranges.

`aca_bench.benchmark.store` parses each line of a records file and asks `record_problem` about it; a
record with a problem is handled like a damaged line (reported in one line, moved aside by the next
writer), so one wrong record never reaches the aggregation, the CLI or the site. Two kinds of record
share a store format: run records (sweep, run) and `aca-bench perf` timings (they carry `perf_run`).

Metrics are fractions: finite and in [0, 1]; a success of inf or NaN is refused here, so it can never
give an alpha* or a rank. Hyperparameters and the algorithm's own record are not range-checked here
(an `inf` privacy budget is a legitimate value there).
"""

import math
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], str]  # '' when the value is fine, else what is wrong with it, in words


def _number(low: float | None = None, high: float | None = None, integer: bool = False) -> Check:
    def check(value: Any) -> str:
        kind = "an integer" if integer else "a number"
        where = (
            f" in [{low:g}, {high:g}]"
            if low is not None and high is not None
            else f" >= {low:g}"
            if low is not None
            else ""
        )
        ok_type = isinstance(value, int) if integer else isinstance(value, int | float)
        if isinstance(value, bool) or not ok_type:
            return f"is {_show(value)}, not {kind}{where}"
        if (
            not math.isfinite(value)
            or (low is not None and value < low)
            or (high is not None and value > high)
        ):
            return f"is {_show(value)}, not {kind}{where}"
        return ""

    return check


def _text(value: Any) -> str:
    return "" if isinstance(value, str) else f"is {_show(value)}, not a string"


def _mapping(value: Any) -> str:
    return "" if isinstance(value, dict) else f"is {_show(value)}, not a mapping"


def _optional(check: Check) -> Check:
    return lambda value: "" if value is None else check(value)


def _fractions(value: Any) -> str:
    """A mapping of names to fractions (or null: a group with no test point)."""
    if not isinstance(value, dict):
        return _mapping(value)
    fraction = _optional(FRACTION)
    for key, v in value.items():
        if problem := fraction(v):
            return f"[{key!r}] {problem}"
    return ""


FRACTION = _number(0.0, 1.0)
COUNT = _number(0, None, integer=True)
SECONDS = _number(0.0, None)

# (field path, required, check): a path walks mappings; a check runs only where the field is present
RUN: tuple[tuple[str, bool, Check], ...] = (
    ("run_id", True, _text),
    ("task", True, _mapping),
    ("task.name", True, _text),
    ("task.params", True, _mapping),
    ("algorithm", True, _mapping),
    ("algorithm.name", True, _text),
    ("algorithm.hparams", True, _mapping),
    ("alpha", True, FRACTION),
    ("seed", True, _number(integer=True)),
    ("n_collective", True, COUNT),
    ("metrics", True, _mapping),
    ("metrics.success", True, FRACTION),
    ("metrics.clean_accuracy", True, FRACTION),
    ("metrics.clean_y_star_rate", False, FRACTION),
    ("metrics.worst_group_accuracy", False, _optional(FRACTION)),
    ("metrics.group_accuracy", False, _fractions),
    ("metrics.n_success_eval", False, COUNT),
    ("wall_time_s", True, SECONDS),
    ("n_train", False, _number(1, None, integer=True)),
    ("n_classes", False, _number(2, None, integer=True)),
    ("algorithm_record", False, _mapping),
    ("environment", False, _mapping),
)
PERF: tuple[tuple[str, bool, Check], ...] = (
    ("run_id", True, _text),
    ("perf_run", True, _text),
    ("seconds", False, SECONDS),
    ("model_epochs_per_min", False, SECONDS),
)
_MISSING = object()


def record_problem(record: Any) -> str:
    """'' for a record that passes its kind's schema, else one phrase naming the first wrong field."""
    if not isinstance(record, dict):
        return f"not a run record (a JSON {type(record).__name__}, not an object)"
    schema = PERF if "perf_run" in record else RUN
    for path, required, check in schema:
        value = _get(record, path)
        if value is _MISSING:
            if required:
                return f"not a run record: required field '{path}' is missing"
            continue
        if problem := check(value):
            return f"not a run record: '{path}' {problem}"
    return ""


def _get(record: dict, path: str) -> Any:
    value: Any = record
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return _MISSING
        value = value[key]
    return value


def _show(value: Any) -> str:
    text = "null" if value is None else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
