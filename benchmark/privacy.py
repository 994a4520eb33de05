"""Privacy accounting for DP-SGD: sigma calibrated and epsilon spent, both by Opacus's accountants.

Everything here is a pure function of (epsilon or sigma, delta, sample rate q, steps, accountant), so
the stacked engine and the Opacus reference path record the same numbers for the same run. The
accountant is Opacus's RDP accountant by default; `prv` (the PRV accountant, tighter) is selectable.
"""

import math
import warnings
from dataclasses import asdict, dataclass
from functools import lru_cache

from opacus.accountants import create_accountant
from opacus.accountants.utils import get_noise_multiplier

from aca_bench.benchmark.errors import BenchError

ACCOUNTANTS = ("rdp", "prv")
EPSILON_TOLERANCE = 0.01  # Opacus's default precision for the sigma binary search
# Opacus's RDP warns when the best Renyi order is its largest default one: the bound is then valid but
# a little loose. We keep Opacus's default orders so both engines and PrivacyEngine agree exactly.
_LOOSE_ORDER = "Optimal order is the largest alpha"


@dataclass(frozen=True)
class PrivacySpend:
    """What one DP-SGD run spends: its noise multiplier and the (epsilon, delta) its accountant gives."""

    noise_multiplier: float
    accountant: str
    epsilon_spent: float
    delta: float
    sample_rate: float
    steps: int
    target_epsilon: float | None

    def record(self) -> dict:
        return asdict(self)


def default_delta(n: int) -> float:
    """The largest power of ten strictly below 1/n (1e-5 for 60,000 digits, 1e-4 for 4,000)."""
    return 10.0 ** -math.floor(math.log10(n) + 1.0)


def _check(accountant: str) -> None:
    if accountant not in ACCOUNTANTS:
        raise BenchError(f"unknown accountant '{accountant}' (known: {', '.join(ACCOUNTANTS)})")


@lru_cache(maxsize=4096)
def calibrate(
    target_epsilon: float, delta: float, sample_rate: float, steps: int, accountant: str = "rdp"
) -> float:
    """sigma for (epsilon, delta) after `steps` Poisson-subsampled steps at rate q; 0 for epsilon inf."""
    _check(accountant)
    if math.isinf(target_epsilon):
        return 0.0
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_LOOSE_ORDER)
            sigma = get_noise_multiplier(
                target_epsilon=target_epsilon,
                target_delta=delta,
                sample_rate=sample_rate,
                steps=steps,
                accountant=accountant,
                epsilon_tolerance=EPSILON_TOLERANCE,
            )
        return float(sigma)
    except ValueError as exc:  # Opacus: "The privacy budget is too low."
        raise BenchError(
            f"cannot reach epsilon {target_epsilon} at delta {delta} with q {sample_rate:g} "
            f"and {steps} steps: {exc}"
        ) from None


@lru_cache(maxsize=4096)
def epsilon_spent(
    noise_multiplier: float, delta: float, sample_rate: float, steps: int, accountant: str = "rdp"
) -> float:
    """epsilon the accountant gives for `steps` steps at noise sigma and rate q (inf without noise)."""
    _check(accountant)
    if noise_multiplier <= 0.0:
        return math.inf
    acc = create_accountant(mechanism=accountant)
    acc.history = [(noise_multiplier, sample_rate, steps)]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_LOOSE_ORDER)
        return float(acc.get_epsilon(delta=delta))


def spend(
    target_epsilon: float | None,
    noise_multiplier: float | None,
    delta: float,
    sample_rate: float,
    steps: int,
    accountant: str = "rdp",
) -> PrivacySpend:
    """A run's privacy: sigma given directly or calibrated from `target_epsilon`, and epsilon spent."""
    if noise_multiplier is None:
        if target_epsilon is None:
            raise BenchError("DP-SGD needs target_epsilon or noise_multiplier")
        noise_multiplier = calibrate(float(target_epsilon), delta, sample_rate, steps, accountant)
        target = float(target_epsilon)
    else:
        if noise_multiplier < 0:
            raise BenchError(f"noise_multiplier must be >= 0, got {noise_multiplier}")
        target = None
    eps = epsilon_spent(float(noise_multiplier), delta, sample_rate, steps, accountant)
    return PrivacySpend(float(noise_multiplier), accountant, eps, delta, sample_rate, steps, target)
