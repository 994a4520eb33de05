"""Numbers and settings as values: a number that may be missing or NaN, and a setting's value in the
words readers expect. Shared by the analysis (`privacy_series`) and every renderer (CLI, docs, site)."""

import math
from typing import Any


def finite(x: Any) -> float | None:
    """x as a float, or None when it is missing, not a number or NaN (inf is kept)."""
    if x is None or isinstance(x, bool):
        return None
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


def value_text(v: Any) -> str:
    """A setting's value as a reader expects it: strings bare, numbers plain, inf as 'inf'."""
    if isinstance(v, str):
        return v
    if v is None:
        return "none"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return format(v, "g")
    return str(v)
