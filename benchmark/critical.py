"""Critical mass alpha*(S_target): the smallest alpha whose mean success reaches the target.

Between the bracketing grid points the crossing is interpolated linearly in log(alpha). When the
curve crosses between alpha = 0 and the smallest positive alpha, alpha* is only bounded above by that
alpha (status `at_most`). A curve that never reaches the target is `not_reached`, never a number.

`critical_mass`, the estimator the product reports, interpolates the seed-mean crossing in logit(S)
and inverts a test for its interval: a Student t band on the seed mean at each grid alpha, its bounds
on grid alphas. `critical_mass_bootstrap` is the estimator it replaced, kept so `aca-bench coverage`
can score both side by side (docs/coverage.md): linear in S, with a percentile bootstrap over seeds
that held the true alpha* in only 68-84% of simulated experiments. With fewer than
MIN_SEEDS_FOR_INTERVAL seeds neither gives an interval (two seeds have three distinct resamples: their
"interval" would be the min and max of two curves, and one seed a zero-width one).

A configuration whose model did not learn the task is degenerate (`degenerate_reason`): it gets no
alpha*, since a collapsed model that answers y* everywhere "succeeds" at any alpha.
"""

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

TARGET = 0.9  # the success level S alpha* is read at, unless a suite or --target says otherwise

REACHED, AT_MOST, NOT_REACHED = "reached", "at_most", "not_reached"
DEGENERATE = "degenerate"
MIN_SEEDS_FOR_INTERVAL = 3
LEVEL = 0.95  # two-sided confidence of critical_mass's t band
# What critical_mass's interval is, in the words every renderer uses
INTERVAL_NAME = "95% t-band test-inversion interval over seeds, bounds on grid alphas"
SNAP_RATIO = (
    1.0  # bracket ratio above which a bound moves out to the grid alpha: 1.0, always (docs/coverage.md)
)
# The degenerate rule, on the mean over seeds at alpha 0 (no collective): a model is degenerate if its
# clean accuracy closes less than LEARNED_FRACTION of the gap from chance (1 / n_classes) to 1, or if
# it answers y* on at least Y_STAR_MAJORITY of the clean test points whose label is not y*.
LEARNED_FRACTION = 0.5
Y_STAR_MAJORITY = 0.5
LOGIT_FLOOR = 0.02  # success is clipped to [LOGIT_FLOOR, 1 - LOGIT_FLOOR] before its logit (`logit_secant`)


def degenerate_reason(
    clean_accuracy: float | None, clean_y_star_rate: float | None, n_classes: int | None
) -> str | None:
    """Why a configuration's model does not count as having learned the task, or None if it does.

    Arguments are at alpha 0 (means over seeds); a missing one (None or NaN) is not evidence either way.
    """
    if _known(clean_accuracy) and n_classes:
        chance = 1.0 / n_classes
        floor = chance + LEARNED_FRACTION * (1.0 - chance)
        if clean_accuracy < floor:
            return (
                f"degenerate: clean accuracy {clean_accuracy:.2f} at alpha 0 "
                f"(chance {chance:.2f}; learned below {floor:.2f})"
            )
    if _known(clean_y_star_rate) and clean_y_star_rate >= Y_STAR_MAJORITY:
        return f"degenerate: answers y* on {clean_y_star_rate:.2f} of clean inputs at alpha 0"
    return None


def _known(x: float | None) -> bool:
    return x is not None and not math.isnan(x)


@dataclass(frozen=True)
class CriticalMass:
    """alpha* with its status and interval. A None low bound: not bounded away from alpha 0 (shown as
    0); a None high bound: the target is not reached with confidence up to the largest alpha."""

    value: float | None
    status: str
    low: float | None
    high: float | None
    n_seeds: int
    target: float

    def as_dict(self) -> dict:
        return asdict(self)

    def text(self) -> str:
        if self.status == NOT_REACHED:
            return f"not reached (S < {self.target:g} up to the largest alpha)"
        head = f"<= {self.value:.3g}" if self.status == AT_MOST else f"{self.value:.3g}"
        if self.n_seeds < MIN_SEEDS_FOR_INTERVAL:
            return f"{head}, no interval from {self.n_seeds} seed{'s' * (self.n_seeds != 1)}"
        high = "not reached" if self.high is None else f"{self.high:.3g}"
        low = "0" if self.low is None else f"{self.low:.3g}"
        return f"{head} [{low}, {high}]"


def linear_secant(s_a: float, s_b: float, target: float) -> float:
    """Where in [0, 1] between two alphas the target falls, linear in S."""
    return (target - s_a) / (s_b - s_a)


def logit_secant(s_a: float, s_b: float, target: float) -> float:
    """Where in [0, 1] between two alphas the target falls, linear in logit(S): S(alpha) is a sigmoid in
    log alpha, so this is nearer the crossing than linear in S when the bracket spans much of it.
    Success is clipped LOGIT_FLOOR from 0 and 1 (nearer for a target closer to either); at a target of 1
    the secant is linear in S."""
    floor = min(LOGIT_FLOOR, target / 2, (1 - target) / 2)

    def scale(s: float) -> float:
        return s if floor <= 0 else math.log((c := min(max(s, floor), 1 - floor)) / (1 - c))

    la, lb, lt = scale(s_a), scale(s_b), scale(target)
    return min(max((lt - la) / (lb - la), 0.0), 1.0) if lb > la else 0.5


def crossing(
    alphas: np.ndarray,
    success: np.ndarray,
    target: float,
    secant: Callable[[float, float, float], float] = logit_secant,
) -> tuple[float, str]:
    """(alpha*, status) of one curve on a sorted alpha grid, between the bracketing alphas at `secant`'s
    fraction of the way in log alpha (by default linear in logit S, the product's point); (inf,
    not_reached) if never reached."""
    hits = np.flatnonzero(success >= target)
    if hits.size == 0:
        return math.inf, NOT_REACHED
    i = int(hits[0])
    if i == 0:
        return float(alphas[0]), REACHED
    lo, hi = float(alphas[i - 1]), float(alphas[i])
    if lo <= 0.0:
        return hi, AT_MOST
    t = secant(float(success[i - 1]), float(success[i]), target)
    return float(math.exp(math.log(lo) + t * (math.log(hi) - math.log(lo)))), REACHED


def critical_mass_bootstrap(
    alphas: np.ndarray, per_seed: np.ndarray, target: float = TARGET, n_boot: int = 2000, seed: int = 0
) -> CriticalMass:
    """The replaced estimator: alpha* of the mean curve over seeds (rows of `per_seed`, columns = sorted
    `alphas`) linear in S, with a percentile bootstrap interval over seeds; no interval (None bounds)
    with fewer than MIN_SEEDS_FOR_INTERVAL seeds."""
    alphas = np.asarray(alphas, dtype=float)
    per_seed = np.atleast_2d(np.asarray(per_seed, dtype=float))
    value, status = crossing(alphas, per_seed.mean(0), target, linear_secant)
    if per_seed.shape[0] < MIN_SEEDS_FOR_INTERVAL:
        return CriticalMass(
            None if status == NOT_REACHED else value, status, None, None, per_seed.shape[0], target
        )
    rng = np.random.default_rng(seed)
    n = per_seed.shape[0]
    picks = rng.integers(0, n, size=(n_boot, n))
    boot = np.array([crossing(alphas, per_seed[p].mean(0), target, linear_secant)[0] for p in picks])
    low, high = (float(v) for v in np.percentile(boot, [2.5, 97.5], method="lower"))
    if status == NOT_REACHED:
        return CriticalMass(None, status, None if math.isinf(low) else low, None, n, target)
    return CriticalMass(
        value, status, None if math.isinf(low) else low, None if math.isinf(high) else high, n, target
    )


def critical_mass(
    alphas: np.ndarray,
    per_seed: np.ndarray,
    target: float = TARGET,
    level: float = LEVEL,
    snap: float = SNAP_RATIO,
) -> CriticalMass:
    """alpha* of the seed-mean curve interpolated in logit(S) (`logit_secant`), with a test-inversion
    interval: a Student t band (seeds - 1 degrees of freedom, two-sided `level`) on the seed mean at each
    alpha; the lower bound is where the band's upper edge first reaches the target, the upper bound where
    its lower edge does. A bound between two alphas more than `snap` times apart is not interpolated but
    moved out to the grid alpha beyond it (by default always: the band holds at the grid alphas, and an
    edge interpolated between them covered less, docs/coverage.md). No interval (None bounds) with fewer than
    MIN_SEEDS_FOR_INTERVAL seeds."""
    alphas = np.asarray(alphas, dtype=float)
    per_seed = np.atleast_2d(np.asarray(per_seed, dtype=float))
    n = per_seed.shape[0]
    mean = per_seed.mean(0)
    value, status = crossing(alphas, mean, target)
    shown = None if status == NOT_REACHED else value
    if n < MIN_SEEDS_FOR_INTERVAL:
        return CriticalMass(shown, status, None, None, n, target)
    half = stats.t.ppf(0.5 + level / 2, n - 1) * per_seed.std(0, ddof=1) / math.sqrt(n)
    low = _band_crossing(alphas, mean + half, target, snap, outward=-1)
    high = _band_crossing(alphas, mean - half, target, snap, outward=+1)
    return CriticalMass(shown, status, low, high, n, target)


def _band_crossing(
    alphas: np.ndarray, edge: np.ndarray, target: float, snap: float, outward: int
) -> float | None:
    """Where a band edge first reaches the target (logit-interpolated, or the bracket's lower end for
    outward -1 and upper end for +1 when its alphas are more than `snap` apart); None where the edge
    never reaches it (outward +1: no upper bound) or reaches it at the first alpha or between alpha 0
    and the first positive one (outward -1: no lower bound above 0)."""
    value, status = crossing(alphas, edge, target)
    if status == NOT_REACHED:
        return None if outward > 0 else float(alphas[-1])
    i = int(np.flatnonzero(edge >= target)[0])
    if i == 0 or status == AT_MOST:
        return None if outward < 0 else float(alphas[i])
    if alphas[i] / alphas[i - 1] > snap:
        return float(alphas[i] if outward > 0 else alphas[i - 1])
    return value
