"""Records -> tables: S(alpha) per configuration (mean, std over seeds) and alpha* per configuration."""

import pandas as pd

from benchmark.critical import CriticalMass, critical_mass
from benchmark.plan import canonical

TARGET = 0.9


def runs_frame(records: list[dict]) -> pd.DataFrame:
    """One row per run with its configuration id, label, alpha, seed and metrics."""
    rows = []
    varying = _varying_hparams(records)
    for r in records:
        task, algo, m = r["task"], r["algorithm"], r["metrics"]
        config = {"task": task, "algorithm": algo}
        shown = {k: algo["hparams"][k] for k in sorted(varying.get((task["name"], algo["name"]), ()))}
        label = algo["name"] + ("(" + ", ".join(f"{k}={v}" for k, v in shown.items()) + ")" if shown else "")
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
                "clean_accuracy": m["clean_accuracy"],
                "worst_group_accuracy": m.get("worst_group_accuracy"),
                "epsilon": r.get("algorithm_record", {}).get("epsilon_spent"),
                "wall_time_s": r["wall_time_s"],
            }
        )
    return pd.DataFrame(rows)


def _varying_hparams(records: list[dict]) -> dict[tuple[str, str], set[str]]:
    seen: dict[tuple[str, str], dict[str, set]] = {}
    for r in records:
        per = seen.setdefault((r["task"]["name"], r["algorithm"]["name"]), {})
        for k, v in r["algorithm"]["hparams"].items():
            per.setdefault(k, set()).add(canonical(v))
    return {key: {k for k, vals in per.items() if len(vals) > 1} for key, per in seen.items()}


def curves(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and std of success and clean accuracy over seeds at each (configuration, alpha)."""
    g = runs.groupby(["task", "config", "config_id", "alpha"], sort=True)
    out = g.agg(
        success_mean=("success", "mean"),
        success_std=("success", "std"),
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


def critical_table(runs: pd.DataFrame, target: float = TARGET) -> pd.DataFrame:
    """alpha* (interval, status) per configuration, beside S at alpha 0 and accuracies at alpha 0."""
    rows = []
    for (task, config, config_id), df in runs.groupby(["task", "config", "config_id"], sort=True):
        wide = df.pivot_table(index="seed", columns="alpha", values="success").dropna()
        base = df[df["alpha"] == 0.0]
        cm = critical_mass(wide.columns.to_numpy(), wide.to_numpy(), target) if len(wide) else None
        rows.append(
            {
                "task": task,
                "config": config,
                "config_id": config_id,
                "algorithm": df["algorithm"].iloc[0],
                "alpha_star": cm.value if cm else None,
                "status": cm.status if cm else "no complete seed",
                "alpha_star_low": cm.low if cm else None,
                "alpha_star_high": cm.high if cm else None,
                "alpha_star_text": cm.text() if cm else "no complete seed",
                **members_star(cm, df["n_train"].iloc[0]),
                "target": target,
                "success_at_0": base["success"].mean() if len(base) else None,
                "clean_accuracy_at_0": base["clean_accuracy"].mean() if len(base) else None,
                "worst_group_accuracy_at_0": base["worst_group_accuracy"].mean() if len(base) else None,
                "epsilon": df["epsilon"].dropna().max() if df["epsilon"].notna().any() else None,
                "seeds": int(df["seed"].nunique()),
                "runs": len(df),
            }
        )
    return pd.DataFrame(rows)
