"""Critical mass alpha*(S_target): the smallest alpha whose mean success reaches the target.

Between the bracketing grid points the crossing is interpolated in log(alpha) and logit(S). When the
curve crosses between alpha = 0 and the smallest positive alpha, alpha* is only bounded above by that
alpha (status `at_most`). A curve that never reaches the target is `not_reached`, never a number.

`critical_mass`, the estimator the product reports, interpolates the seed-mean crossing in logit(S)
and inverts a test for its interval: a Student t band on the seed mean at each grid alpha, its bounds
on grid alphas. `critical_mass_bootstrap` is the estimator it replaced, kept so `aca-bench coverage`
can score both side by side (docs/coverage.md): linear in S, with a percentile bootstrap over seeds
that held the true alpha* in only 68-84% of simulated experiments. With fewer than
MIN_SEEDS_FOR_INTERVAL seeds neither gives an interval (two seeds have three distinct resamples: their
"interval" would be the min and max of two curves, and one seed a zero-width one).

A configuration whose model did not learn the task, at alpha 0 or at any alpha that decides alpha*
(`deciding_alphas`), is degenerate (`degenerate_reason`): it gets no alpha*, since a collapsed model
that answers y* everywhere "succeeds" at any alpha, and a crossing reached only by a model at chance
is not a crossing.
"""

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

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
    clean_accuracy: float | None,
    clean_y_star_rate: float | None,
    n_classes: int | None,
    alpha: float = 0.0,
) -> str | None:
    """Why a configuration's model does not count as having learned the task at `alpha`, or None if it
    does.

    Arguments are means over seeds at that alpha; a missing one (None or NaN) is not evidence either way.
    """
    where = f"at alpha {alpha:g}" + ("" if alpha == 0 else ", where alpha* is decided")
    if _known(clean_accuracy) and n_classes:
        chance = 1.0 / n_classes
        floor = chance + LEARNED_FRACTION * (1.0 - chance)
        if clean_accuracy < floor:
            return (
                f"degenerate: clean accuracy {clean_accuracy:.2f} {where} "
                f"(chance {chance:.2f}; learned below {floor:.2f})"
            )
    if _known(clean_y_star_rate) and clean_y_star_rate >= Y_STAR_MAJORITY:
        return f"degenerate: answers y* on {clean_y_star_rate:.2f} of clean inputs {where}"
    return None


def _known(x: float | None) -> bool:
    return x is not None and not math.isnan(x)


@dataclass(frozen=True)
class CriticalMass:
    """A configuration's alpha*: the one value every table, page and plot shows (`text`, `point`,
    `interval`, `known`). A None low bound: not bounded away from alpha 0 (shown as 0); a None high
    bound: the target is not reached with confidence up to the largest alpha run (`alpha_max`). A
    degenerate configuration carries its `reason` and no value."""

    value: float | None
    status: str
    low: float | None
    high: float | None
    n_seeds: int
    target: float
    alpha_max: float | None = None
    reason: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    def degenerate(self, reason: str) -> "CriticalMass":
        """This configuration flagged degenerate: no alpha*, no interval, the reason kept."""
        return replace(self, value=None, status=DEGENERATE, low=None, high=None, reason=reason)

    @property
    def ranked(self) -> bool:
        return self.status in (REACHED, AT_MOST, NOT_REACHED)

    @property
    def has_interval(self) -> bool:
        """Whether an interval is shown: a point or bound with at least MIN_SEEDS_FOR_INTERVAL seeds, or
        `not reached` whose band reaches the target below the largest alpha run."""
        if self.n_seeds < MIN_SEEDS_FOR_INTERVAL:
            return False
        if self.status == NOT_REACHED:
            return self.low is not None and self.alpha_max is not None and self.low < self.alpha_max
        return self.status in (REACHED, AT_MOST)

    def point(self, scale: float = 1.0, spec: str = ".3g") -> str:
        """alpha* (times `scale`: n_train gives members*) without its interval."""
        if self.status == NOT_REACHED:
            top = "" if self.alpha_max is None else f" (> {format(self.alpha_max * scale, spec)})"
            return f"not reached{top}"
        if self.status in (REACHED, AT_MOST) and self.value is not None:
            return ("<= " if self.status == AT_MOST else "") + format(self.value * scale, spec)
        return str(self.status).replace("_", " ")

    def interval(self, scale: float = 1.0, spec: str = ".3g") -> str:
        """`[low, high]` (times `scale`), or '' where no interval is shown (`has_interval`)."""
        if not self.has_interval:
            return ""
        low = "0" if self.low is None else format(self.low * scale, spec)
        high = "not reached" if self.high is None else format(self.high * scale, spec)
        return f"[{low}, {high}]"

    def text(self, scale: float = 1.0, spec: str = ".3g") -> str:
        """The whole value as every renderer prints it: `0.0171 [0.005, 0.028]`, `<= 0.01 [0, 0.02]`,
        `not reached (> 0.3)`, `0.02, no interval from 2 seeds`, or the degenerate reason."""
        if self.status == DEGENERATE:
            return self.reason or DEGENERATE
        head = self.point(scale, spec)
        if self.status in (REACHED, AT_MOST) and self.n_seeds < MIN_SEEDS_FOR_INTERVAL:
            return f"{head}, no interval from {self.n_seeds} seed{'s' * (self.n_seeds != 1)}"
        return f"{head} {self.interval(scale, spec)}".rstrip()

    def known(self) -> tuple[float, bool, float] | None:
        """What the data says about alpha*, for ranking: (low, low is open, high), its interval where
        one is shown, else its point or bound; None for a configuration that is not ranked."""
        if not self.ranked:
            return None
        if self.status == NOT_REACHED:
            low = self.low if self.has_interval else self.alpha_max
            return (low or 0.0, True, math.inf)
        value = float(self.value) if self.value is not None else math.inf
        if not self.has_interval:
            return (0.0, True, value) if self.status == AT_MOST else (value, False, value)
        high = math.inf if self.high is None else max(self.high, value)
        return (self.low or 0.0, self.low is None, high)


def deciding_alphas(alphas: np.ndarray, cm: CriticalMass) -> np.ndarray:
    """The grid alphas (sorted `alphas`) that `cm` is read from: every alpha up to the first whose seed
    mean reaches the target (the top of the bracket alpha* lies in), or up to the interval's upper bound
    where that lies beyond it; every alpha when the target or the upper bound is not reached."""
    alphas = np.asarray(alphas, dtype=float)
    if cm.status not in (REACHED, AT_MOST) or cm.value is None or (cm.has_interval and cm.high is None):
        return alphas
    top = max(float(alphas[alphas >= cm.value * (1 - 1e-12)].min(initial=alphas.max())), cm.high or 0.0)
    return alphas[alphas <= top]


def judged(
    cm: CriticalMass,
    alphas: np.ndarray,
    clean_accuracy: np.ndarray,
    clean_y_star_rate: np.ndarray,
    n_classes: int | None,
) -> CriticalMass:
    """`cm` flagged degenerate where its model did not learn the task at alpha 0 or at an alpha that
    decides it (`deciding_alphas`); `clean_accuracy` and `clean_y_star_rate` are seed means at each of
    the sorted grid `alphas` (NaN where unknown)."""
    alphas = np.asarray(alphas, dtype=float)
    deciding = set(deciding_alphas(alphas, cm).tolist()) | {0.0}
    for i, alpha in enumerate(alphas):
        if alpha in deciding:
            reason = degenerate_reason(
                float(clean_accuracy[i]), float(clean_y_star_rate[i]), n_classes, float(alpha)
            )
            if reason is not None:
                return cm.degenerate(reason)
    return cm


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
    top = float(alphas.max())
    if per_seed.shape[0] < MIN_SEEDS_FOR_INTERVAL:
        return CriticalMass(
            None if status == NOT_REACHED else value, status, None, None, per_seed.shape[0], target, top
        )
    rng = np.random.default_rng(seed)
    n = per_seed.shape[0]
    picks = rng.integers(0, n, size=(n_boot, n))
    boot = np.array([crossing(alphas, per_seed[p].mean(0), target, linear_secant)[0] for p in picks])
    low, high = (float(v) for v in np.percentile(boot, [2.5, 97.5], method="lower"))
    if status == NOT_REACHED:
        return CriticalMass(None, status, None if math.isinf(low) else low, None, n, target, top)
    return CriticalMass(
        value, status, None if math.isinf(low) else low, None if math.isinf(high) else high, n, target, top
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
    top = float(alphas.max())
    if n < MIN_SEEDS_FOR_INTERVAL:
        return CriticalMass(shown, status, None, None, n, target, top)
    half = stats.t.ppf(0.5 + level / 2, n - 1) * per_seed.std(0, ddof=1) / math.sqrt(n)
    low = _band_crossing(alphas, mean + half, target, snap, outward=-1)
    high = _band_crossing(alphas, mean - half, target, snap, outward=+1)
    return CriticalMass(shown, status, low, high, n, target, top)


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
