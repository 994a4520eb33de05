"""alpha* against one hyperparameter, several results stores side by side: the Markdown table behind
"alpha* against C under two protocols" (`view=against:KEY` in a records block of `doc_tables`).

Each store is one protocol (e.g. one learning rate for every C, or one tuned per C). A row is one value
of KEY within one value of the `by` hyperparameter (e.g. target_epsilon); per store it shows alpha*
with its interval (or why there is none), the learning rate and the clean accuracy at alpha 0.
"""

import math

import pandas as pd

from aca_bench.benchmark.aggregate import config_hparams, critical_table, runs_frame
from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.markdown import markdown_table


def _fmt(v: object) -> str:
    if isinstance(v, float) and math.isinf(v):
        return "inf"
    return f"{v:g}" if isinstance(v, float) else str(v)


def against_frame(stores: dict[str, list[dict]], key: str, by: str, target: float) -> pd.DataFrame:
    """One row per (store, `by` value, `key` value): alpha* text, status, lr, clean accuracy at alpha 0."""
    rows = []
    for name, records in stores.items():
        crit = critical_table(runs_frame(records), target)
        for _, row in crit.iterrows():
            hp = config_hparams(row["config_id"])
            if key not in hp or by not in hp:
                continue
            rows.append(
                {
                    "store": name,
                    by: hp[by],
                    key: hp[key],
                    "alpha_star_text": row["alpha_star_text"],
                    "lr": hp.get("lr"),
                    "clean_accuracy_at_0": row["clean_accuracy_at_0"],
                }
            )
    return pd.DataFrame(rows)


def markdown(stores: dict[str, list[dict]], key: str, by: str, target: float) -> str:
    """The side-by-side table: per `by` value (largest first) and `key` value (ascending), each
    store's alpha* [95%], lr and clean accuracy at alpha 0 ("-" where a store lacks the point)."""
    frame = against_frame(stores, key, by, target)
    names = list(stores)
    heads = [by, key] + [f"{n}: {h}" for n in names for h in ("alpha* [95%]", "lr", "clean acc (α=0)")]
    rows: list[list[str]] = []
    for b in [] if frame.empty else sorted(frame[by].unique(), reverse=True):
        for k in sorted(frame.loc[frame[by] == b, key].unique()):
            cells = [_fmt(b), _fmt(k)]
            for n in names:
                hit = frame[(frame["store"] == n) & (frame[by] == b) & (frame[key] == k)]
                if len(hit) > 1:
                    raise BenchError(f"{n}: {len(hit)} configurations at {by}={_fmt(b)}, {key}={_fmt(k)}")
                if hit.empty:
                    cells += ["-", "-", "-"]
                else:
                    r = hit.iloc[0]
                    cells += [r["alpha_star_text"], _fmt(r["lr"]), f"{r['clean_accuracy_at_0']:.3g}"]
            rows.append(cells)
    return markdown_table(heads, rows)
