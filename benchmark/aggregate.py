"""Records -> tables: S(alpha) per configuration (mean, std over seeds) and alpha* per configuration.

Beside S every table carries `success_net`: S minus the model's own y* rate on the same test points
without the signal (`clean_y_star_rate`), the signal's effect net of what the model answers anyway, so
a collective's steering and a model's collapse onto y* are told apart.

Also the per-group accuracy and privacy tables and each configuration's provenance (date, device,
commit). Torch-free: the leaderboard site renders from these tables alone.
"""

import json
import math

import numpy as np
import pandas as pd

from aca_bench.benchmark.critical import (
    TARGET,
    CriticalMass,
    critical_mass,
    judged,
)
from aca_bench.benchmark.ids import canonical, differing_keys


def config_hparams(config_id: str) -> dict:
    """The algorithm's hyperparameters of a configuration, from its `config_id` (canonical JSON of the
    record's task and algorithm, as `runs_frame` writes it)."""
    return json.loads(config_id)["algorithm"]["hparams"]


def _shown(value) -> str:
    """A hyperparameter's value in a label; None (left to the algorithm's default rule) as `default`."""
    return "default" if value is None else str(value)


# Hyperparameters whose None means "the algorithm's default rule" and whose resolved value the run
# records in `algorithm_record`: a configuration is identified by the value it ran with, so
# `delta=None` and `delta=0.0001` are one configuration when the rule gave 0.0001.
RESOLVED_DEFAULTS = ("delta",)


def identity(r: dict, full_n: dict[str, int]) -> tuple[dict, dict]:
    """(task, algorithm) of a record as its configuration is identified: defaults resolved to what
    the run used (`RESOLVED_DEFAULTS`), and an `n_train` task parameter equal to the full training set
    of the same task and data (`full_sizes`) dropped, since it trains on all of it like a run without
    one."""
    task, algo = r["task"], r["algorithm"]
    ran = r.get("algorithm_record") or {}
    hp = {
        k: ran[k] if v is None and k in RESOLVED_DEFAULTS and k in ran else v
        for k, v in algo["hparams"].items()
    }
    params = dict(task.get("params", {}))
    if params.get("n_train") is not None and params["n_train"] == full_n.get(_data(task)):
        del params["n_train"]
    return {**task, "params": params}, {**algo, "hparams": hp}


# task parameters that take part of a task's data (a subsample, the validation carve), not which data
_SPLIT_PARAMS = ("n_train", "subset_seed", "eval_split")


def _data(task: dict) -> str:
    """A task's data: its name and its parameters but the split ones (e.g. embedded or full MNIST)."""
    params = {k: v for k, v in task.get("params", {}).items() if k not in _SPLIT_PARAMS}
    return canonical([task["name"], params])


def full_sizes(records: list[dict]) -> dict[str, int]:
    """Per task and data (`_data`), the training-set size of its runs without an `n_train` parameter."""
    out: dict[str, int] = {}
    for r in records:
        if r["task"].get("params", {}).get("n_train") is None and isinstance(r.get("n_train"), int):
            key = _data(r["task"])
            out[key] = max(out.get(key, 0), r["n_train"])
    return out


def config_id(r: dict, full_n: dict[str, int]) -> str:
    """A record's configuration id: canonical JSON of its `identity` (what `runs_frame` groups by)."""
    task, algorithm = identity(r, full_n)
    return canonical({"task": task, "algorithm": algorithm})


def runs_frame(records: list[dict]) -> pd.DataFrame:
    """One row per run with its configuration id (`identity`), label, alpha, seed and metrics."""
    rows = []
    full_n = full_sizes(records)
    records = [{**r, "task": t, "algorithm": a} for r in records for t, a in [identity(r, full_n)]]
    # the hyperparameters and task parameters that tell configurations apart, shown in their labels so
    # that configurations never share a label
    varying = differing_keys(
        ((r["task"]["name"], r["algorithm"]["name"]), r["algorithm"]["hparams"]) for r in records
    )
    varying_task = differing_keys(
        ((r["task"]["name"], r["task"]["params"]) for r in records), absent_is_a_value=True
    )
    for r in records:
        task, algo, m = r["task"], r["algorithm"], r["metrics"]
        config = {"task": task, "algorithm": algo}
        shown = {k: algo["hparams"][k] for k in sorted(varying.get((task["name"], algo["name"]), ()))}
        shown |= {k: v for k, v in sorted(task["params"].items()) if k in varying_task.get(task["name"], ())}
        label = algo["name"] + (
            "(" + ", ".join(f"{k}={_shown(v)}" for k, v in shown.items()) + ")" if shown else ""
        )
        rows.append(
            {
                "task": task["name"],
                "algorithm": algo["name"],
                "config_id": canonical(config),
                "config": label,
                "alpha": float(r["alpha"]),
                "n_collective": r["n_collective"],
                "n_train": r.get("n_train"),
                "seed": r["seed"],
                "success": m["success"],
                "n_success_eval": m.get("n_success_eval"),  # test points S was measured on
                "clean_y_star_rate": m.get("clean_y_star_rate"),
                "success_net": m["success"] - m["clean_y_star_rate"] if "clean_y_star_rate" in m else None,
                "n_classes": r.get("n_classes"),  # older records lack it: then only the y* rule applies
                "clean_accuracy": m["clean_accuracy"],
                "worst_group_accuracy": m.get("worst_group_accuracy"),
                "epsilon": r.get("algorithm_record", {}).get("epsilon_spent"),
                "sigma": r.get("algorithm_record", {}).get("noise_multiplier"),
                "clipped_fraction": r.get("algorithm_record", {}).get("clipped_fraction"),
                "wall_time_s": r["wall_time_s"],
                **_extra_columns(r),
            }
        )
    return pd.DataFrame(rows)


def curves(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and std of success and clean accuracy over seeds at each (configuration, alpha)."""
    g = runs.groupby(["task", "config", "config_id", "alpha"], sort=True)
    out = g.agg(
        success_mean=("success", "mean"),
        success_std=("success", "std"),
        success_net=("success_net", "mean"),
        clean_accuracy=("clean_accuracy", "mean"),
        n_collective=("n_collective", "first"),
        seeds=("seed", "nunique"),
    )
    return out.reset_index().fillna({"success_std": 0.0})


def members_star(cm: CriticalMass | None, n_train: int | None) -> dict[str, float | None]:
    """The training-set size and members* = alpha* x n_train (the critical mass as a count of examples)
    with its interval; Nones where alpha* or a bound, or the records' training-set size, is unknown."""
    known = n_train is not None and n_train == n_train  # NaN: records without n_train
    values = (cm.value, cm.low, cm.high) if known and cm is not None else (None, None, None)
    scaled = [None if v is None else v * int(n_train) for v in values]
    keys = ("members_star", "members_star_low", "members_star_high")
    return {"n_train": int(n_train) if known else None, **dict(zip(keys, scaled, strict=True))}


CONFIG_KEYS = ["task", "config", "config_id"]  # the columns of runs_frame that name one configuration


def seed_grid(df: pd.DataFrame, values: str = "success") -> pd.DataFrame:
    """One configuration's runs as seeds x alphas of `values`, over the alphas every seed ran (alphas
    fewer seeds ran, an adaptive search's scouts, are left out): the grid alpha* is read from."""
    wide = df.pivot_table(index="seed", columns="alpha", values="success")
    ran = wide.notna().sum()
    grid = wide.loc[:, ran == ran.max()].dropna()
    return (
        grid
        if values == "success"
        else df.pivot_table(index="seed", columns="alpha", values=values).loc[grid.index, grid.columns]
    )


def critical_table(runs: pd.DataFrame, target: float = TARGET) -> pd.DataFrame:
    """alpha* (interval, status) per configuration, beside S at alpha 0 and accuracies at alpha 0.

    The column `critical` holds each configuration's `CriticalMass`, the one value every renderer
    formats; the other alpha* columns are read from it. A configuration whose model did not learn the
    task at alpha 0 or at an alpha that decides alpha* (`critical.deciding_alphas`) is degenerate: no
    alpha*, no interval, and its reason in `degenerate_reason` and the text.
    """
    rows = []
    for (task, config, config_id), df in runs.groupby(CONFIG_KEYS, sort=True):
        cm = _critical(df, target)
        base = df[df["alpha"] == 0.0]
        rows.append(
            {
                "task": task,
                "config": config,
                "config_id": config_id,
                "algorithm": df["algorithm"].iloc[0],
                "critical": cm,
                "alpha_star": cm.value if cm else None,
                "status": cm.status if cm else NO_COMPLETE_SEED,
                "alpha_star_low": cm.low if cm else None,
                "alpha_star_high": cm.high if cm else None,
                "alpha_star_text": cm.text() if cm else NO_COMPLETE_SEED,
                "degenerate_reason": cm.reason if cm else None,
                **members_star(cm, df["n_train"].iloc[0]),
                "target": target,
                "success_at_0": base["success"].mean() if len(base) else None,
                "clean_y_star_rate_at_0": _mean(base["clean_y_star_rate"]),
                "clean_accuracy_at_0": base["clean_accuracy"].mean() if len(base) else None,
                "worst_group_accuracy_at_0": base["worst_group_accuracy"].mean() if len(base) else None,
                "epsilon": df["epsilon"].dropna().max() if df["epsilon"].notna().any() else None,
                "sigma": _mean(df["sigma"]),
                "clipped_fraction_at_0": _mean(base["clipped_fraction"]),
                "seeds": int(df["seed"].nunique()),
                "runs": len(df),
                "alpha_max": float(df["alpha"].max()),
                "non_monotone": non_monotone(df),
                **_provenance(df),
            }
        )
    return pd.DataFrame(rows)


NO_COMPLETE_SEED = "no complete seed"


def plain(crit: pd.DataFrame) -> pd.DataFrame:
    """The critical table without its `critical` objects: the columns CSV and JSON exports write."""
    return crit.drop(columns="critical")


def _critical(df: pd.DataFrame, target: float) -> CriticalMass | None:
    """One configuration's alpha* from its runs (`critical.judged`: degenerate where its model did not
    learn at alpha 0 or at an alpha that decides alpha*); None when no seed ran every alpha."""
    wide = seed_grid(df)
    if not len(wide):
        return None
    alphas = wide.columns.to_numpy(dtype=float)
    means = df[df["seed"].isin(wide.index)].groupby("alpha")[["clean_accuracy", "clean_y_star_rate"]].mean()
    means = means.astype(float).reindex(alphas)
    return judged(
        critical_mass(alphas, wide.to_numpy(), target),
        alphas,
        means["clean_accuracy"].to_numpy(),
        means["clean_y_star_rate"].to_numpy(),
        _first(df["n_classes"]),
    )


def _mean(column: pd.Series) -> float | None:
    known = column.dropna()
    return float(known.mean()) if len(known) else None


def _first(column: pd.Series) -> int | None:
    known = column.dropna()
    return int(known.iloc[0]) if len(known) else None


# ------------------------------------------------------------------ additions: bounds, provenance, tables
def _extra_columns(r: dict) -> dict:
    """Per-run columns beyond the metrics: full hparams, groups, privacy record and provenance."""
    env = r.get("environment") if isinstance(r.get("environment"), dict) else {}
    extra = r.get("algorithm_record") or {}
    groups = r["metrics"].get("group_accuracy")
    return {
        "hparams": r["algorithm"]["hparams"],
        "group_accuracy": groups if isinstance(groups, dict) else None,
        "delta": extra.get("delta"),
        "noise_multiplier": extra.get("noise_multiplier"),
        "accountant": extra.get("accountant"),
        "finished_at": r.get("finished_at"),
        "device": env.get("device_name") or env.get("device"),
        "git_commit": env.get("git_commit"),
    }


def _joined(values: pd.Series) -> str | None:
    """The distinct non-empty values, sorted and joined with ', ' (None when there are none)."""
    distinct = sorted({str(v) for v in values if isinstance(v, str) and v})
    return ", ".join(distinct) or None


def _provenance(df: pd.DataFrame) -> dict:
    """When (latest finish, ISO date), where (device names) and from which commit(s) the runs came."""
    finished = [str(v) for v in df.get("finished_at", pd.Series(dtype=object)) if isinstance(v, str)]
    return {
        "finished_at": max(finished) if finished else None,
        "device": _joined(df.get("device", pd.Series(dtype=object))),
        "git_commit": _joined(df.get("git_commit", pd.Series(dtype=object))),
    }


def non_monotone(df: pd.DataFrame) -> bool:
    """True when the mean success falls from a smaller alpha to a larger one by more than twice the
    standard error of the difference (seed spread). Needs 2 seeds at both alphas to judge."""
    g = df.groupby("alpha", sort=True)["success"]
    mean, sd, n = g.mean().to_numpy(), g.std().to_numpy(), g.count().to_numpy()
    se2 = np.where(n > 1, np.nan_to_num(sd) ** 2 / np.maximum(n, 1), math.nan)
    for i in range(len(mean)):
        for j in range(i + 1, len(mean)):
            spread = 2 * math.sqrt(se2[i] + se2[j])
            if not math.isnan(spread) and mean[i] - mean[j] > spread:
                return True
    return False


def group_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean accuracy of each group at alpha = 0 per configuration (task, config, config_id, group,
    accuracy, seeds); empty when no run recorded per-group accuracy."""
    rows = []
    base = (
        runs[(runs["alpha"] == 0.0) & runs["group_accuracy"].notna()]
        if "group_accuracy" in runs
        else runs[:0]
    )
    for (task, config, config_id), df in base.groupby(["task", "config", "config_id"], sort=True):
        per: dict[str, list[float]] = {}
        for groups in df["group_accuracy"]:
            for name, value in groups.items():
                per.setdefault(str(name), []).append(float(value))
        for name, values in sorted(per.items()):
            rows.append(
                {
                    "task": task,
                    "config": config,
                    "config_id": config_id,
                    "group": name,
                    "accuracy": sum(values) / len(values),
                    "seeds": len(values),
                }
            )
    return pd.DataFrame(rows, columns=["task", "config", "config_id", "group", "accuracy", "seeds"])


PRIVACY_COLUMNS = ["task", "config", "config_id", "epsilon", "delta", "noise_multiplier", "accountant"]


def privacy_table(runs: pd.DataFrame) -> pd.DataFrame:
    """What private configurations recorded: epsilon spent (max over runs), delta, the largest noise
    multiplier and the accountant; one row per configuration that recorded any of them."""
    rows = []
    cols = [c for c in ("epsilon", "delta", "noise_multiplier") if c in runs]
    for (task, config, config_id), df in runs.groupby(["task", "config", "config_id"], sort=True):
        if not cols or not df[cols].notna().to_numpy().any():
            continue
        accountants = df["accountant"] if "accountant" in df else pd.Series(dtype=object)
        rows.append(
            {
                "task": task,
                "config": config,
                "config_id": config_id,
                "epsilon": df["epsilon"].dropna().max() if df["epsilon"].notna().any() else None,
                "delta": df["delta"].dropna().max() if df["delta"].notna().any() else None,
                "noise_multiplier": df["noise_multiplier"].dropna().max()
                if df["noise_multiplier"].notna().any()
                else None,
                "accountant": _joined(accountants),
            }
        )
    return pd.DataFrame(rows, columns=PRIVACY_COLUMNS)
