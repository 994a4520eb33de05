"""How the critical mass scales with the training-set size n: alpha* and members* = alpha* x n per n, and a
least-squares line through (log n, log alpha*) with a bootstrap interval on its slope and on its
extrapolation to a larger n.

A *series* is a set of configurations that differ only in `n_train` and in the training budget, held
fixed one of two ways: the same number of epochs at every n, or (about) the same number of optimisation
steps (epochs x steps per epoch, equal within `STEPS_TOLERANCE`). A slope of -1 means a constant count
of members whatever n is; 0 a constant fraction.

The interval comes from one bootstrap over seeds, resampled within each n: each resample recomputes
alpha* at every n from its resampled mean curve (the estimator of `aca_bench.benchmark.critical`), refits the
line,
and extrapolates it. Only n whose alpha* is reached (a crossing inside the grid) enter the fit; a
resample in which one of them is not reached is dropped and counted.

Torch-free: works on run records (dicts) alone.
"""

import json
import math
from dataclasses import dataclass, replace

import numpy as np

from aca_bench.benchmark.critical import (
    REACHED,
    CriticalMass,
    critical_mass,
    crossing,
    judged,
)
from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.ids import canonical
from aca_bench.benchmark.markdown import markdown_table

PUBLISHED_N = 60_000  # full MNIST training set
PUBLISHED_ALPHA = 0.001  # "SGD needs ~0.1% of MNIST" (Solanki, Bhange, Aivodji, Creager)
STEPS_TOLERANCE = 0.03  # budgets within 3% count as the same number of steps
_SUBSET_PARAMS = ("n_train", "subset_seed")
N_BOOT = 2000


@dataclass(frozen=True)
class Curve:
    """One configuration at one n: success per (seed, alpha) and what the series grouping needs."""

    config_id: str
    n_train: int
    epochs: int | None
    steps: int | None
    alphas: np.ndarray  # sorted, alpha 0 included
    per_seed: np.ndarray  # seeds x alphas; seeds missing an alpha are dropped
    clean_accuracy: float | None  # mean over seeds at alpha 0
    # seed means at each alpha, what `critical.judged` reads (NaN where unknown), and the class count
    clean_by_alpha: np.ndarray | None = None
    y_star_by_alpha: np.ndarray | None = None
    n_classes: int | None = None

    def critical(self, target: float) -> CriticalMass:
        """alpha* at this n, degenerate where the model did not learn at an alpha that decides it."""
        unknown = np.full(len(self.alphas), np.nan)
        return judged(
            critical_mass(self.alphas, self.per_seed, target),
            self.alphas,
            unknown if self.clean_by_alpha is None else self.clean_by_alpha,
            unknown if self.y_star_by_alpha is None else self.y_star_by_alpha,
            self.n_classes,
        )


@dataclass(frozen=True)
class Point:
    """alpha* at one n of a series, and the same as a count of members."""

    n_train: int
    epochs: int | None
    steps: int | None
    critical: CriticalMass
    clean_accuracy: float | None

    def members(self, v: float | None) -> float | None:
        return None if v is None else v * self.n_train


@dataclass(frozen=True)
class Fit:
    """log alpha* = intercept + slope log n, its 95% bootstrap interval, and alpha* extrapolated to `at_n`."""

    slope: float
    slope_low: float
    slope_high: float
    intercept: float
    n_points: int
    at_n: int
    alpha_at_n: float
    alpha_at_n_low: float
    alpha_at_n_high: float
    n_boot: int
    n_boot_used: int  # resamples in which every fitted n reached the target

    @property
    def members_at_n(self) -> tuple[float, float, float]:
        return self.alpha_at_n * self.at_n, self.alpha_at_n_low * self.at_n, self.alpha_at_n_high * self.at_n


@dataclass(frozen=True)
class Series:
    """Configurations that differ only in n (and a budget held fixed), their alpha* and the fit."""

    task: str
    label: str
    budget: str  # "10 epochs" or "620 steps"
    points: tuple[Point, ...]
    fit: Fit | None  # None with fewer than two reached n
    identity: str = ""  # task, algorithm and hyperparameters but epochs (`_identity`)
    measured: Point | None = None  # alpha* measured at the fit's n, on any data source (`with_measured`)


def loglog_line(n: np.ndarray, alpha: np.ndarray) -> tuple[float, float]:
    """(slope, intercept) of the least-squares line through (log n, log alpha)."""
    x, y = np.log(np.asarray(n, dtype=float)), np.log(np.asarray(alpha, dtype=float))
    if x.size < 2 or np.ptp(x) == 0:
        raise BenchError("a log-log fit needs alpha* at two or more different n")
    slope, intercept = np.polyfit(x, y, 1)
    return float(slope), float(intercept)


def fit_curves(
    curves: list[Curve], target: float, at_n: int = PUBLISHED_N, n_boot: int = N_BOOT, seed: int = 0
) -> Fit | None:
    """The log-log fit through the curves whose alpha* is reached (degenerate models never count),
    with its seed bootstrap; None if fewer than two different n reach the target."""
    used = [c for c in curves if c.critical(target).status == REACHED]  # degenerate: not REACHED
    if len({c.n_train for c in used}) < 2:
        return None
    n = np.array([c.n_train for c in used], dtype=float)
    alpha = np.array([crossing(c.alphas, c.per_seed.mean(0), target)[0] for c in used])
    slope, intercept = loglog_line(n, alpha)
    rng = np.random.default_rng(seed)
    slopes, extrapolated = [], []
    for _ in range(n_boot):
        boot = []
        for c in used:
            rows = rng.integers(0, c.per_seed.shape[0], size=c.per_seed.shape[0])
            value, status = crossing(c.alphas, c.per_seed[rows].mean(0), target)
            boot.append(value if status == REACHED else math.nan)
        if not all(math.isfinite(v) for v in boot):
            continue
        s, i = loglog_line(n, np.array(boot))
        slopes.append(s)
        extrapolated.append(math.exp(i + s * math.log(at_n)))
    if not slopes:
        raise BenchError("no bootstrap resample reached the target at every n; no interval for the fit")
    s_lo, s_hi = np.percentile(slopes, [2.5, 97.5])
    a_lo, a_hi = np.percentile(extrapolated, [2.5, 97.5])
    return Fit(
        slope,
        float(s_lo),
        float(s_hi),
        intercept,
        len(used),
        int(at_n),
        math.exp(intercept + slope * math.log(at_n)),
        float(a_lo),
        float(a_hi),
        n_boot,
        len(slopes),
    )


def curves_from_records(records: list[dict]) -> dict[str, list[Curve]]:
    """Curves grouped by everything but n and the budget (task, its other parameters, the algorithm and
    its hyperparameters other than epochs): the key is canonical JSON of those."""
    by_config: dict[str, list[dict]] = {}
    for r in records:
        by_config.setdefault(canonical({"task": r["task"], "algorithm": r["algorithm"]}), []).append(r)
    groups: dict[str, list[Curve]] = {}
    for config_id, recs in sorted(by_config.items()):
        first = recs[0]
        task, hp = first["task"], first["algorithm"]["hparams"]
        n = first.get("n_train")
        if n is None:
            continue
        table = {(r["seed"], float(r["alpha"])): r["metrics"]["success"] for r in recs}
        # the alphas every seed ran, as `aggregate.seed_grid` reads them (an adaptive search's scouts,
        # run at one seed, are left out)
        ran = {a: sum(1 for s, b in table if b == a) for a in {a for _, a in table}}
        alphas = sorted(a for a, k in ran.items() if k == max(ran.values()))
        seeds = sorted({r["seed"] for r in recs})
        complete = [s for s in seeds if all((s, a) in table for a in alphas)]
        if not complete:
            continue
        at_zero = [r["metrics"] for r in recs if float(r["alpha"]) == 0.0]
        clean = float(np.mean([m["clean_accuracy"] for m in at_zero])) if at_zero else None
        epochs, batch = hp.get("epochs"), hp.get("batch_size")
        steps = int(epochs) * (int(n) // min(int(batch), int(n))) if epochs and batch else None
        key = canonical(
            [
                task["name"],
                task.get("version"),
                {k: v for k, v in task.get("params", {}).items() if k not in _SUBSET_PARAMS},
                first["algorithm"]["name"],
                {k: v for k, v in hp.items() if k != "epochs"},
            ]
        )
        groups.setdefault(key, []).append(
            Curve(
                config_id,
                int(n),
                None if epochs is None else int(epochs),
                steps,
                np.array(alphas),
                np.array([[table[(s, a)] for a in alphas] for s in complete], dtype=float),
                clean,
                _seed_means(recs, complete, alphas, "clean_accuracy"),
                _seed_means(recs, complete, alphas, "clean_y_star_rate"),
                first.get("n_classes"),
            )
        )
    return groups


def _seed_means(recs: list[dict], seeds: list, alphas: list[float], metric: str) -> np.ndarray:
    """The mean of a metric over `seeds` at each alpha (NaN where no record has it)."""
    out = []
    for a in alphas:
        values = [
            r["metrics"][metric]
            for r in recs
            if float(r["alpha"]) == a and r["seed"] in seeds and r["metrics"].get(metric) is not None
        ]
        out.append(float(np.mean(values)) if values else math.nan)
    return np.array(out)


def budget_series(curves: list[Curve]) -> list[tuple[str, list[Curve]]]:
    """The series among one group's curves: per epoch count, and per step count (within the tolerance,
    the closest curve at each n) where the epochs differ; each with curves at two or more n, by n."""
    out: list[tuple[str, list[Curve]]] = []
    for epochs in sorted({c.epochs for c in curves if c.epochs is not None}):
        mine = sorted((c for c in curves if c.epochs == epochs), key=lambda c: c.n_train)
        if len(mine) == len({c.n_train for c in mine}):  # one curve per n, else not a series
            out.append((f"{epochs} epochs", mine))
    seen: set[tuple[str, ...]] = set()
    for ref in sorted((c for c in curves if c.steps), key=lambda c: (-c.n_train, c.steps)):
        pick: dict[int, Curve] = {}
        for c in curves:
            if c.steps and abs(c.steps - ref.steps) <= STEPS_TOLERANCE * ref.steps:
                best = pick.get(c.n_train)
                if best is None or abs(c.steps - ref.steps) < abs(best.steps - ref.steps):
                    pick[c.n_train] = c
        mine = [pick[n] for n in sorted(pick)]
        ids = tuple(c.config_id for c in mine)
        if ids in seen or len({c.epochs for c in mine}) < 2:
            continue
        seen.add(ids)
        out.append((f"{ref.steps} steps", mine))
    return [(b, m) for b, m in out if len({c.n_train for c in m}) >= 2]


def _labels(groups: dict[str, list[Curve]]) -> dict[str, str]:
    """A short label per group: task / algorithm, plus the hyperparameters that tell its groups apart."""
    parsed = {k: json.loads(k) for k in groups}
    labels = {}
    for key, (task, _, _, algo, hp) in parsed.items():
        twins = [p for p in parsed.values() if p[0] == task and p[3] == algo]
        differ = sorted(k for k in hp if any(t[4].get(k) != hp[k] for t in twins))
        shown = ", ".join(f"{k}={hp[k]}" for k in differ)
        labels[key] = f"{algo}({shown})" if shown else algo
    return labels


def scaling_series(
    records: list[dict], target: float, at_n: int = PUBLISHED_N, n_boot: int = N_BOOT
) -> list[Series]:
    """Every series in the records with alpha* per n and the log-log fit (see the module docstring)."""
    groups = curves_from_records(records)
    labels = _labels(groups)
    out = []
    for key, curves in groups.items():
        task = json.loads(key)[0]
        for budget, mine in budget_series(curves):
            points = tuple(
                Point(
                    c.n_train,
                    c.epochs,
                    c.steps,
                    c.critical(target),
                    c.clean_accuracy,
                )
                for c in mine
            )
            fit = fit_curves(mine, target, at_n, n_boot)
            out.append(Series(task, labels[key], budget, points, fit, _identity(key)))
    return sorted(out, key=lambda s: (s.task, s.label, s.budget))


def _identity(key: str) -> str:
    """What a measurement at another n must share with a series (a group key of `curves_from_records`):
    the task, the algorithm and its hyperparameters but epochs; not the task's parameters, so full
    MNIST (`source: mnist`) measures the series of its embedded subsets."""
    task, _, _, algorithm, hparams = json.loads(key)
    return canonical([task, algorithm, hparams])


def with_measured(
    series: list[Series], records: list[dict], target: float, at_n: int = PUBLISHED_N
) -> list[Series]:
    """Each series with alpha* measured at `at_n` where `records` hold its configuration there: the same
    `identity` and the series' budget (the same epochs, or steps within STEPS_TOLERANCE), whatever the
    data source. The measurement tests the series' extrapolation; it never enters the fit."""
    at = [
        (_identity(key), c)
        for key, cs in curves_from_records(records).items()
        for c in cs
        if c.n_train == at_n
    ]
    out = []
    for s in series:
        fixed_epochs = s.budget.endswith("epochs")
        ref = s.points[-1]
        hits = [
            c
            for identity, c in at
            if identity == s.identity
            and (
                c.epochs == ref.epochs
                if fixed_epochs
                else c.steps is not None and abs(c.steps - ref.steps) <= STEPS_TOLERANCE * ref.steps
            )
        ]
        if len(hits) == 1:
            c = hits[0]
            s = replace(s, measured=Point(c.n_train, c.epochs, c.steps, c.critical(target), c.clean_accuracy))
        out.append(s)
    return out


def fraction(x: float) -> str:
    """An extrapolated alpha* as a fraction, like every alpha* the product shows, to the two
    significant digits its bootstrap supports: 0.00093 -> '0.00093'."""
    return f"{x:.2g}"


PUBLISHED = f"~{PUBLISHED_ALPHA:g} (the poster's {PUBLISHED_ALPHA:.1%})"


def _num(v: float | None, spec: str) -> str:
    return "n/a" if v is None else format(v, spec)


def _members(p: Point) -> str:
    """members* of a point with its interval, in the one alpha* formatter's words."""
    return p.critical.text(p.n_train, ".0f") if p.critical.ranked else "not ranked"


def format_series(series: list[Series]) -> str:
    """The text report: per series a row per n, then the fit and its extrapolation."""
    if not series:
        return "no series: the records hold no configuration run at two or more n_train"
    lines = []
    for s in series:
        lines.append(f"\n{s.task} / {s.label}, {s.budget}")
        lines.append(
            f"  {'n_train':>7} {'epochs':>6} {'steps':>6}  {'alpha* [95%]':<28} {'members* [95%]':<24} "
            f"{'clean acc':>9} {'seeds':>5}"
        )
        for p in s.points:
            lines.append(
                f"  {p.n_train:>7d} {_num(p.epochs, 'd'):>6} {_num(p.steps, 'd'):>6}  "
                f"{p.critical.text():<28} {_members(p):<24} "
                f"{_num(p.clean_accuracy, '.3f'):>9} {p.critical.n_seeds:>5d}"
            )
        f = s.fit
        if f is None:
            lines.append("  fit: needs alpha* reached at two or more n")
            continue
        m, m_lo, m_hi = f.members_at_n
        lines.append(
            f"  fit of log alpha* on log n ({f.n_points} n): slope {f.slope:.2f} [{f.slope_low:.2f}, "
            f"{f.slope_high:.2f}] (-1: a constant count of members; 0: a constant fraction); "
            f"{f.n_boot_used}/{f.n_boot} resamples"
        )
        lines.append(
            f"  extrapolated to n = {f.at_n:,}: alpha* {fraction(f.alpha_at_n)} "
            f"[{fraction(f.alpha_at_n_low)}, {fraction(f.alpha_at_n_high)}] = "
            f"{m:.0f} [{m_lo:.0f}, {m_hi:.0f}] members "
            f"(published for SGD on {PUBLISHED_N:,} MNIST digits: {PUBLISHED})"
        )
        if s.measured is not None:
            lines.append(f"  measured at n = {s.measured.n_train:,}: alpha* {_measured(s)}")
    return "\n".join(lines)


def _point_dict(p: Point) -> dict:
    cm = p.critical
    return {
        "n_train": p.n_train,
        "epochs": p.epochs,
        "steps": p.steps,
        "alpha_star": cm.value,
        "alpha_star_low": cm.low,
        "alpha_star_high": cm.high,
        "status": cm.status,
        "members_star": p.members(cm.value),
        "members_star_low": p.members(cm.low),
        "members_star_high": p.members(cm.high),
        "clean_accuracy_at_0": p.clean_accuracy,
        "seeds": cm.n_seeds,
    }


def series_dict(s: Series) -> dict:
    """One series as plain JSON-ready data (numbers as numbers, None for unknowns)."""
    points = [_point_dict(p) for p in s.points]
    fit = None
    if s.fit is not None:
        f = s.fit
        m = f.members_at_n
        fit = {
            "slope": f.slope,
            "slope_low": f.slope_low,
            "slope_high": f.slope_high,
            "intercept": f.intercept,
            "n_points": f.n_points,
            "at_n": f.at_n,
            "alpha_at_n": f.alpha_at_n,
            "alpha_at_n_low": f.alpha_at_n_low,
            "alpha_at_n_high": f.alpha_at_n_high,
            "members_at_n": m[0],
            "members_at_n_low": m[1],
            "members_at_n_high": m[2],
            "n_boot": f.n_boot,
            "n_boot_used": f.n_boot_used,
        }
    measured = None if s.measured is None else _point_dict(s.measured)
    return {
        "task": s.task,
        "series": s.label,
        "budget": s.budget,
        "points": points,
        "fit": fit,
        "measured": measured,
    }


def _measured(s: Series) -> str:
    """alpha* measured at the fit's n, in the one formatter's words, with members*; or 'not measured'."""
    if s.measured is None:
        return "not measured"
    cm = s.measured.critical
    members = f"; members* {cm.text(s.measured.n_train, '.0f')}" if cm.ranked else ""
    return cm.text() + members


def markdown(series: list[Series], fits_only: bool = False) -> str:
    """Markdown tables for the docs (`aca_bench.benchmark.commands.doc_tables`, view=scaling): alpha* and
    members* per n of every series, then each series' fit and its extrapolation beside the published
    figure."""
    rows, fits = [], []
    for s in series:
        name = f"{s.label}, {s.budget}"
        for p in s.points:
            rows.append(
                [
                    name,
                    p.n_train,
                    _num(p.epochs, "d"),
                    _num(p.steps, "d"),
                    p.critical.text(),
                    _members(p),
                    _num(p.clean_accuracy, ".3f"),
                    p.critical.n_seeds,
                ]
            )
        f = s.fit
        if f is None:
            fits.append([name, "no fit (alpha* reached at fewer than two n)", "", "", "", _measured(s), ""])
            continue
        m, m_lo, m_hi = f.members_at_n
        fits.append(
            [
                name,
                f"{f.slope:.2f} [{f.slope_low:.2f}, {f.slope_high:.2f}]",
                f.n_points,
                f"{fraction(f.alpha_at_n)} [{fraction(f.alpha_at_n_low)}, {fraction(f.alpha_at_n_high)}]",
                f"{m:.0f} [{m_lo:.0f}, {m_hi:.0f}]",
                _measured(s),
                PUBLISHED,
            ]
        )
    fit_table = markdown_table(
        [
            "series",
            "slope [95%]",
            "n fitted",
            f"alpha* at n = {PUBLISHED_N:,} [95%]",
            "members* there [95%]",
            "measured there [95%]",
            "published",
        ],
        fits,
    )
    if fits_only:
        return fit_table
    heads = ["series", "n", "epochs", "steps", "alpha* [95%]", "members* [95%]", "clean acc (α=0)", "seeds"]
    return markdown_table(heads, rows) + "\n\n" + fit_table
