"""Hyperparameter selection as a firm does it: from a selection suite's records (alpha 0, scored on the
validation split), per budget the grid point with the best mean clean accuracy over seeds.

    python -m benchmark.select --out DIR [--by target_epsilon,max_grad_norm] [--over lr,epochs]

prints one line per budget (the values of `--by`) with the chosen values of `--over`, the mean
validation clean accuracy, the seeds behind it and the runner-up. Only grid points with at least
MIN_SEEDS seeds and alpha 0 on the validation split count; ERM records (if any) are printed as the
reference.
"""

import argparse
import math
from collections import defaultdict

from benchmark.errors import BenchError
from benchmark.store import load_records

MIN_SEEDS = 2


def _value(v: object) -> object:
    return "inf" if isinstance(v, float) and math.isinf(v) else v


def choose(
    records: list[dict], by: tuple[str, ...], over: tuple[str, ...], algorithm: str = "dpsgd"
) -> list[dict]:
    """Per value of the `by` hyperparameters: the `over` values with the best mean clean accuracy over
    seeds (ties: the first in sorted order), with the accuracy, the seeds and the runner-up."""
    acc: dict[tuple, dict[tuple, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    for r in records:
        if r["algorithm"]["name"] != algorithm or float(r["alpha"]) != 0.0:
            continue
        if r["task"].get("params", {}).get("eval_split") != "val":
            continue
        hp = r["algorithm"]["hparams"]
        acc[tuple(hp[k] for k in by)][tuple(hp[k] for k in over)][r["seed"]] = r["metrics"]["clean_accuracy"]
    if not acc:
        raise BenchError(f"no {algorithm} records at alpha 0 on the validation split (eval_split: val)")
    picks = []
    for budget in sorted(acc, key=lambda b: tuple(-x if isinstance(x, float) else 0 for x in b)):
        scored = sorted(
            (
                (-sum(seeds.values()) / len(seeds), point, len(seeds))
                for point, seeds in sorted(acc[budget].items())
                if len(seeds) >= MIN_SEEDS
            ),
        )
        if not scored:
            continue
        best, *rest = scored
        picks.append(
            {
                **dict(zip(by, budget, strict=True)),
                **dict(zip(over, best[1], strict=True)),
                "val_clean_accuracy": -best[0],
                "seeds": best[2],
                "grid_points": len(scored),
                "runner_up": dict(zip(over, rest[0][1], strict=True)) | {"val_clean_accuracy": -rest[0][0]}
                if rest
                else None,
            }
        )
    return picks


def reference(records: list[dict], algorithm: str = "erm") -> float | None:
    """Mean validation clean accuracy at alpha 0 of `algorithm`'s records (the ERM bar)."""
    accs = [
        r["metrics"]["clean_accuracy"]
        for r in records
        if r["algorithm"]["name"] == algorithm
        and float(r["alpha"]) == 0.0
        and r["task"].get("params", {}).get("eval_split") == "val"
    ]
    return sum(accs) / len(accs) if accs else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="the selection suite's store")
    parser.add_argument("--by", default="target_epsilon,max_grad_norm")
    parser.add_argument("--over", default="lr,epochs")
    args = parser.parse_args(argv)
    records, _ = load_records(args.out)
    by, over = tuple(args.by.split(",")), tuple(args.over.split(","))
    erm = reference(records)
    if erm is not None:
        print(f"erm (task defaults): val clean accuracy {erm:.4f}")
    for p in choose(records, by, over):
        head = ", ".join(f"{k}={_value(p[k])}" for k in by)
        pick = ", ".join(f"{k}={p[k]}" for k in over)
        ru = p["runner_up"]
        second = "" if ru is None else f"; runner-up {ru['val_clean_accuracy']:.4f}"
        print(
            f"{head}: {pick}  val clean accuracy {p['val_clean_accuracy']:.4f} "
            f"({p['seeds']} seeds, {p['grid_points']} grid points{second})"
        )


if __name__ == "__main__":
    main()
