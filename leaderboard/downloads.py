"""The site's downloads: the aggregated table as strict JSON and CSV, and the S(alpha) curves as CSV.

Strict JSON: no NaN or Infinity tokens, and one type per field (a number field holds numbers or null).
An infinite value (epsilon of a non-private run, target_epsilon = .inf) is written as null and its
field is named in the row's `infinite_fields` list (dotted for nested fields, e.g.
"hparams.target_epsilon"); a missing value is null and not listed there. The CSV has the same rows
and columns (hparams and task_params as canonical JSON, infinite_fields joined by ';').
"""

import json
import math
from typing import Any

import pandas as pd

from aca_bench.benchmark.aggregate import plain
from aca_bench.benchmark.ids import canonical


def strict(obj: Any, path: str = "", infinite: list[str] | None = None) -> Any:
    """`obj` with NaN -> None, +-inf -> None (its dotted path appended to `infinite`), numpy scalars
    -> Python numbers."""
    if hasattr(obj, "item") and not isinstance(obj, list | dict | str):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        if math.isinf(obj) and infinite is not None:
            infinite.append(path)
        return None
    if isinstance(obj, dict):
        return {k: strict(v, f"{path}.{k}" if path else str(k), infinite) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [strict(v, path, infinite) for v in obj]
    return obj


def download_rows(crit: pd.DataFrame) -> list[dict]:
    """One strict row per configuration: the critical table's columns, hparams and task identity."""
    rows = []
    for r in plain(crit).to_dict(orient="records"):
        config = json.loads(r.pop("config_id"))
        r["hparams"] = config["algorithm"]["hparams"]
        r["task_params"] = config["task"].get("params", {})
        r["task_version"] = config["task"].get("version")
        infinite: list[str] = []
        row = strict(r, "", infinite)
        row["infinite_fields"] = sorted(infinite)
        rows.append(row)
    return rows


def downloads(crit: pd.DataFrame, cur: pd.DataFrame, target: float) -> dict[str, bytes]:
    """data/leaderboard.json, data/leaderboard.csv and data/curves.csv."""
    rows = download_rows(crit)
    doc = {
        "target": target,
        "infinite_values": "written as null, the field named in the row's infinite_fields",
        "rows": rows,
    }
    flat = pd.DataFrame(
        [
            {
                **r,
                "hparams": canonical(r["hparams"]),
                "task_params": canonical(r["task_params"]),
                "infinite_fields": ";".join(r["infinite_fields"]),
            }
            for r in rows
        ]
    )
    curves = cur.drop(columns="config_id")
    return {
        "data/leaderboard.json": (json.dumps(doc, indent=1, allow_nan=False) + "\n").encode(),
        "data/leaderboard.csv": flat.to_csv(index=False, lineterminator="\n").encode(),
        "data/curves.csv": curves.to_csv(index=False, lineterminator="\n").encode(),
    }
