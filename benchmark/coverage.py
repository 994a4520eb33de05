"""Coverage study of alpha* estimators: how often an interval holds the true alpha*, fitted to records.

Per configuration a generative model of its records is fitted by maximum likelihood, and experiments
drawn from it on the configuration's own alpha grid score an estimator (`critical_mass`'s signature).

The model. Each seed's success curve is, on the logit scale, a population mean m(log alpha) plus a
seed's own line u_s + v_s * (log alpha - c) (c: the mean log alpha of the grid; (u_s, v_s) bivariate
normal with mean 0, so each seed has its own location and scale). The mean is either saturated, a free
mean logit at each alpha run, linear between them in log alpha and flat beyond (the judge the product
uses: it follows the records' seed mean wherever the curve bends), or logistic, one line a + b *
(log alpha - c) (fewer parameters, but it misses curves that sit flat and then jump, as DP-SGD's at
epsilon 1 does, by up to 0.25 in S). Each (seed, alpha) cell adds normal
noise of sd `sd_cell` on the logit scale; the measured S is then binomial over the record's
`n_success_eval` test points. The fit is maximum likelihood on the cells' empirical logits
(log((k + 1/2) / (n - k + 1/2)), the binomial entering through its variance 1/(k + 1/2) +
1/(n - k + 1/2)), where the model is Gaussian and its likelihood exact; alpha 0 (log 0) is left out
of the fit, and simulated at the records' mean S at alpha 0. The simulation draws the binomial itself.

The truth. alpha* is read from the population mean curve, E[S(alpha)] over seeds, cells and test
points: the smallest alpha where it reaches the target (inf where it never does up to alpha 1).

The score of an estimator over simulated experiments: coverage (the share whose interval holds the
true alpha*; a missing bound is open), the median interval width over the true alpha* (inf where the
upper bound is missing), and the median point bias (value / true alpha* - 1; a `not reached` point is
inf).
"""

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize

from aca_bench.benchmark.aggregate import CONFIG_KEYS, critical_table, seed_grid
from aca_bench.benchmark.critical import DEGENERATE, NOT_REACHED, CriticalMass
from aca_bench.benchmark.errors import BenchError

Estimator = Callable[[np.ndarray, np.ndarray, float], CriticalMass]
HERMITE_NODES = 64  # Gauss-Hermite nodes of the population mean curve's integral over logit noise
SCAN = 4000  # log-spaced alphas the true crossing is first bracketed on, from ALPHA_FLOOR to 1
ALPHA_FLOOR = 1e-7
# log sd of the seed intercept and slope, atanh of their correlation, log sd of the cell noise: where
# the first fit starts
NOISE_START = np.array([math.log(0.5), math.log(0.5), 0.0, math.log(0.5)])
PROFILE_STEPS = 40  # likelihood fits the profile over (power, ceiling) may take


@dataclass(frozen=True)
class Cells:
    """One configuration's records on the grid alpha* is read from: S and test points per (seed, alpha)."""

    alphas: np.ndarray  # sorted, alpha 0 included where it ran
    success: np.ndarray  # seeds x alphas
    n_eval: np.ndarray  # seeds x alphas, test points each S was measured on


@dataclass(frozen=True)
class Model:
    """Fitted generative model of one configuration (see the module docstring)."""

    centre: float  # c: mean log alpha of the positive grid
    intercept: float
    slope: float
    sd_intercept: float
    sd_slope: float
    corr: float
    sd_cell: float
    floor: float  # S as the logit goes to -inf: the mean S at alpha 0 (0 where alpha 0 did not run)
    ceiling: float  # S as the logit goes to +inf
    power: float  # S = floor + (ceiling - floor) * sigmoid(logit) ** power: above 1 the foot is steeper
    # The saturated mean: the mean logit `levels` at each alpha run (at `knots`, log alpha - centre),
    # linear between them in log alpha and flat beyond; empty: the line intercept + slope * x
    knots: tuple[float, ...] = ()
    levels: tuple[float, ...] = ()

    @property
    def seed_cov(self) -> np.ndarray:
        c = self.corr * self.sd_intercept * self.sd_slope
        return np.array([[self.sd_intercept**2, c], [c, self.sd_slope**2]])

    def mean_logit(self, x: np.ndarray) -> np.ndarray:
        """The population's mean logit at log alpha - centre `x`."""
        if not self.levels:
            return self.intercept + self.slope * x
        return np.interp(x, self.knots, self.levels)

    def mean_curve(self, alphas: np.ndarray) -> np.ndarray:
        """E[S] at each alpha > 0: the mean of a logistic of a normal logit, by Gauss-Hermite."""
        x = np.log(np.asarray(alphas, dtype=float)) - self.centre
        mean = self.mean_logit(x)
        var = (
            self.sd_intercept**2
            + 2 * self.corr * self.sd_intercept * self.sd_slope * x
            + self.sd_slope**2 * x**2
            + self.sd_cell**2
        )
        nodes, weights = np.polynomial.hermite_e.hermegauss(HERMITE_NODES)
        eta = mean[..., None] + np.sqrt(var)[..., None] * nodes
        return (self.success(eta) * weights).sum(-1) / weights.sum()

    def grid_mean(self, alphas: np.ndarray) -> np.ndarray:
        """E[S] at each alpha of a grid that may hold alpha 0 (where it is the floor)."""
        alphas = np.asarray(alphas, dtype=float)
        out = np.full(alphas.shape, self.floor)
        out[alphas > 0] = self.mean_curve(alphas[alphas > 0])
        return out

    def success(self, eta: np.ndarray) -> np.ndarray:
        """S of a cell whose logit is `eta`."""
        return self.floor + (self.ceiling - self.floor) * _sigmoid(eta) ** self.power

    def alpha_star(self, target: float) -> float:
        """The smallest alpha whose mean curve reaches `target`; inf if none up to alpha 1."""
        grid = np.geomspace(ALPHA_FLOOR, 1.0, SCAN)
        hits = np.flatnonzero(self.mean_curve(grid) >= target)
        if hits.size == 0:
            return math.inf
        i = int(hits[0])
        if i == 0:
            return ALPHA_FLOOR
        lo, hi = math.log(grid[i - 1]), math.log(grid[i])
        root = optimize.brentq(lambda x: float(self.mean_curve(np.exp(x))) - target, lo, hi, xtol=1e-10)
        return math.exp(root)

    def simulate(
        self, alphas: np.ndarray, n_eval: np.ndarray, seeds: int, sims: int, rng: np.random.Generator
    ) -> np.ndarray:
        """sims x seeds x alphas of simulated S on grid `alphas` (n_eval: test points per alpha)."""
        alphas = np.asarray(alphas, dtype=float)
        effects = rng.multivariate_normal([0.0, 0.0], self.seed_cov, size=(sims, seeds))
        positive = alphas > 0
        x = np.zeros_like(alphas)
        x[positive] = np.log(alphas[positive]) - self.centre
        eta = self.mean_logit(x) + effects[..., :1] + effects[..., 1:] * x
        p = self.success(eta + self.sd_cell * rng.standard_normal(eta.shape))
        p[..., ~positive] = self.floor
        n = np.broadcast_to(np.asarray(n_eval, dtype=int), p.shape)
        return rng.binomial(n, p) / n


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def cells(df: pd.DataFrame) -> Cells:
    """The cells of one configuration's runs (rows of `aggregate.runs_frame`), on `seed_grid`'s alphas."""
    if df["n_success_eval"].isna().any():
        raise BenchError("records without metrics.n_success_eval: the test-set noise is unknown")
    success = seed_grid(df)
    n_eval = seed_grid(df, "n_success_eval")
    return Cells(success.columns.to_numpy(dtype=float), success.to_numpy(), n_eval.to_numpy(dtype=int))


def fit(data: Cells, saturated: bool = False) -> Model:
    """The maximum-likelihood model of `data` (at least two positive alphas): the power and the ceiling
    profiled (Nelder-Mead), the seed and cell parameters fitted at each (L-BFGS-B); `saturated`: a free
    mean logit at each alpha run instead of a line in log alpha."""
    if (data.alphas > 0).sum() < 2:
        raise BenchError("fewer than two positive alphas: no curve to fit")
    zero = data.alphas == 0
    positive = ~zero
    p = _empirical(data.success[:, positive], data.n_eval[:, positive])
    edge = 1 / (data.n_eval.max() + 1)
    # floor and ceiling bound every cell's empirical S, so the transform is one to one on the data
    floor = max(0.0, min(float(data.success[:, zero].mean()) if zero.any() else 0.0, float(p.min())) - edge)
    top = min(float(p.max()) + edge, 1.0)

    warm = {"nll": math.inf, "noise": NOISE_START}  # each fit starts where the best fit so far ended

    def profile(u: np.ndarray) -> tuple[Model, float]:
        ceiling = top + (1 - top) * float(_sigmoid(u[1]))
        model, nll, noise = _fit_at(data, floor, ceiling, math.exp(u[0]), warm["noise"], saturated)
        if nll < warm["nll"]:
            warm.update(nll=nll, noise=noise)
        return model, nll

    best = optimize.minimize(
        lambda u: profile(u)[1],
        np.zeros(2),
        method="Nelder-Mead",
        bounds=[(-3.0, 3.0), (-8.0, 8.0)],  # power from e^-3 to e^3
        options={
            "xatol": 0.05,
            "fatol": 0.05,
            "maxfev": PROFILE_STEPS,
            "initial_simplex": [[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]],
        },
    )
    return profile(best.x)[0]


def _empirical(success: np.ndarray, n: np.ndarray) -> np.ndarray:
    """(k + 1/2) / (n + 1): S of each cell kept off 0 and 1."""
    return (np.rint(success * n) + 0.5) / (n + 1)


def _fit_at(
    data: Cells, floor: float, ceiling: float, power: float, noise: np.ndarray, saturated: bool
) -> tuple[Model, float, np.ndarray]:
    """The maximum-likelihood model with this floor, ceiling and power, its negative log-likelihood of
    the cells' S (the Gaussian likelihood of y = logit(((S - floor) / (ceiling - floor)) ** (1 / power)),
    with the Jacobian dy/dS) and its noise parameters; the fit starts them at `noise`."""
    positive = data.alphas > 0
    x_raw = np.log(data.alphas[positive])
    centre = float(x_raw.mean())
    x = x_raw - centre
    n = data.n_eval[:, positive]
    p = _empirical(data.success[:, positive], n)
    q = (p - floor) / (ceiling - floor)
    r = q ** (1 / power)
    y = np.log(r) - np.log1p(-r)
    slope = 1 / (power * q * -np.expm1(np.log(q) / power) * (ceiling - floor))  # dy/dS
    v = p * (1 - p) / (n + 1) * slope**2
    design = np.stack([np.ones_like(x), x], axis=1)  # of the seed effects
    fixed = np.eye(len(x)) if saturated else design  # of the mean
    m = fixed.shape[1]

    def negative_log_likelihood(theta: np.ndarray) -> float:
        coef, (log_sa, log_sb, z_corr, log_cell) = theta[:m], theta[m:]
        sa, sb, rho = math.exp(log_sa), math.exp(log_sb), math.tanh(z_corr)
        shared = design @ np.array([[sa * sa, rho * sa * sb], [rho * sa * sb, sb * sb]]) @ design.T
        cov = shared + np.einsum("sj,jk->sjk", v + math.exp(2 * log_cell), np.eye(len(x)))
        chol = np.linalg.cholesky(cov)
        z = np.linalg.solve(chol, (y - fixed @ coef)[..., None])
        return float(0.5 * (z**2).sum() + np.log(np.diagonal(chol, axis1=1, axis2=2)).sum())

    rows = np.tile(fixed, (len(y), 1)) / np.sqrt(v.ravel())[:, None]  # pooled weighted least squares
    coef = np.linalg.lstsq(rows, y.ravel() / np.sqrt(v.ravel()), rcond=None)[0]
    start = np.concatenate([coef, noise])
    bounds = [(None, None)] * m + [(-7, 3), (-7, 3), (-3, 3), (-7, 3)]
    best = optimize.minimize(negative_log_likelihood, start, method="L-BFGS-B", bounds=bounds)
    coef, (log_sa, log_sb, z_corr, log_cell) = best.x[:m], best.x[m:]
    b, a = np.polyfit(x, fixed @ coef, 1)  # the line through the mean logits (itself, unsaturated)
    model = Model(
        centre,
        a,
        b,
        math.exp(log_sa),
        math.exp(log_sb),
        math.tanh(z_corr),
        math.exp(log_cell),
        floor,
        ceiling,
        power,
        tuple(x.tolist()) if saturated else (),
        tuple(coef.tolist()) if saturated else (),
    )
    return model, float(best.fun) - float(np.log(slope).sum()), best.x[m:]


@dataclass(frozen=True)
class Score:
    """An estimator over simulated experiments: coverage of the true alpha*, median interval width and
    median point bias (both relative to the true alpha*); and its grid bias: the error of its point on the
    population mean curve itself measured at the grid alphas, what interpolation alone costs."""

    coverage: float
    width: float
    bias: float
    grid_bias: float
    sims: int


def score(
    estimator: Estimator, samples: np.ndarray, alphas: np.ndarray, target: float, model: Model
) -> Score:
    """`estimator` run on every simulated experiment of `samples` (sims x seeds x alphas) of `model`."""
    truth = model.alpha_star(target)
    covered, widths, errors = [], [], []
    for per_seed in samples:
        cm = estimator(alphas, per_seed, target)
        low = 0.0 if cm.low is None else cm.low
        high = math.inf if cm.high is None else cm.high
        covered.append(low <= truth <= high)
        widths.append((high - low) / truth)
        errors.append(_error(cm, truth))
    exact = _error(estimator(alphas, model.grid_mean(alphas)[None], target), truth)
    return Score(
        float(np.mean(covered)), float(np.median(widths)), float(np.median(errors)), exact, len(samples)
    )


def _error(cm: CriticalMass, truth: float) -> float:
    """The relative error of a point estimate (inf where it is `not reached`)."""
    value = math.inf if cm.status == NOT_REACHED or cm.value is None else cm.value
    return value / truth - 1


@dataclass(frozen=True)
class Study:
    """One configuration's study: its grid, the fitted model, the true alpha* and each estimator's score."""

    task: str
    config: str
    alphas: np.ndarray
    seeds: int
    model: Model
    truth: float
    fit_gap: float  # largest |fitted mean curve - records' seed mean| over the positive grid alphas
    scores: dict[str, Score]


def study(
    runs: pd.DataFrame,
    estimators: dict[str, Estimator],
    target: float,
    sims: int,
    seeds: int | None = None,
    seed: int = 0,
    saturated: bool = False,
) -> list[Study]:
    """The study of every configuration of `runs` (`aggregate.runs_frame`) that is not degenerate and ran
    at least two positive alphas at every seed, `sims` simulated experiments each with `seeds` seeds (its
    records' own count by default) on its records' grid; random draws seeded by `seed` and the
    configuration."""
    crit = critical_table(runs, target).set_index("config_id")
    out = []
    for (task, config, config_id), df in runs.groupby(CONFIG_KEYS, sort=True):
        if crit.loc[config_id, "status"] == DEGENERATE:
            continue
        data = cells(df)
        positive = data.alphas > 0
        if positive.sum() < 2 or len(data.success) < 2:
            continue
        model = fit(data, saturated)
        truth = model.alpha_star(target)
        gap = float(np.abs(model.mean_curve(data.alphas[positive]) - data.success[:, positive].mean(0)).max())
        rng = np.random.default_rng([seed, zlib.crc32(config_id.encode())])
        k = seeds or len(data.success)
        samples = model.simulate(data.alphas, np.median(data.n_eval, 0), k, sims, rng)
        scores = {name: score(est, samples, data.alphas, target, model) for name, est in estimators.items()}
        out.append(Study(task, config, data.alphas, k, model, truth, gap, scores))
    return out
