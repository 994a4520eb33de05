"""Critical mass alpha*(S_target): the smallest alpha whose mean success reaches the target.

Between the bracketing grid points the crossing is interpolated linearly in log(alpha). When the
curve crosses between alpha = 0 and the smallest positive alpha, alpha* is only bounded above by that
alpha (status `at_most`). A curve that never reaches the target is `not_reached`, never a number.
The interval is a percentile bootstrap over seeds of the same estimator.
"""

import math
from dataclasses import asdict, dataclass

import numpy as np

REACHED, AT_MOST, NOT_REACHED = "reached", "at_most", "not_reached"


@dataclass(frozen=True)
class CriticalMass:
    """alpha* with its status and a bootstrap interval (None bound: not reached in the resamples)."""

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
        high = "not reached" if self.high is None else f"{self.high:.3g}"
        low = "n/a" if self.low is None else f"{self.low:.3g}"
        return f"{head} [{low}, {high}]"


def crossing(alphas: np.ndarray, success: np.ndarray, target: float) -> tuple[float, str]:
    """(alpha*, status) of one curve on a sorted alpha grid; (inf, not_reached) if never reached."""
    hits = np.flatnonzero(success >= target)
    if hits.size == 0:
        return math.inf, NOT_REACHED
    i = int(hits[0])
    if i == 0:
        return float(alphas[0]), REACHED
    lo, hi = float(alphas[i - 1]), float(alphas[i])
    if lo <= 0.0:
        return hi, AT_MOST
    s_lo, s_hi = float(success[i - 1]), float(success[i])
    t = (target - s_lo) / (s_hi - s_lo)
    return float(math.exp(math.log(lo) + t * (math.log(hi) - math.log(lo)))), REACHED


def critical_mass(
    alphas: np.ndarray, per_seed: np.ndarray, target: float = 0.9, n_boot: int = 2000, seed: int = 0
) -> CriticalMass:
    """alpha* of the mean curve over seeds (rows of `per_seed`, columns = sorted `alphas`)."""
    alphas = np.asarray(alphas, dtype=float)
    per_seed = np.atleast_2d(np.asarray(per_seed, dtype=float))
    value, status = crossing(alphas, per_seed.mean(0), target)
    rng = np.random.default_rng(seed)
    n = per_seed.shape[0]
    picks = rng.integers(0, n, size=(n_boot, n))
    boot = np.array([crossing(alphas, per_seed[p].mean(0), target)[0] for p in picks])
    low, high = (float(v) for v in np.percentile(boot, [2.5, 97.5], method="lower"))
    if status == NOT_REACHED:
        return CriticalMass(None, status, None if math.isinf(low) else low, None, n, target)
    return CriticalMass(
        value, status, None if math.isinf(low) else low, None if math.isinf(high) else high, n, target
    )
