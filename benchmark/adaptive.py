"""Adaptive alpha placement: where to train next to find alpha* of one configuration.

The placement is a pure function of the results seen so far for that configuration (success per
(alpha, seed)), so rerunning the same command places the same alphas and a crashed search resumes
where it stopped. It replays the search from round 1: a round's alphas follow from the results of the
rounds before it; the first round with untrained cells is the current one. Results at alphas the search
did not place (a fixed-grid run into the same store) are ignored, so they cannot change its alphas.

- Round 1 scouts: alpha 0 at every seed, and a coarse log grid over `alpha_range` (at most half a
  decade between neighbours) at the first seed only.
- Every later round trains one to three new alphas at every seed, chosen from the seed-mean curve.
  Inside the bracket where it crosses the target: one or two alphas that split it evenly in log alpha
  when two or three closed parts fill it (the coarse grid's brackets do at rel_width 0.5), so the
  round closes it whichever part the crossing falls in; a wider bracket gets two alphas
  `1 + rel_width` apart around the crossing estimated by a secant in (log alpha, logit S), as a
  sigmoid rises. When the crossing falls between an end only the scout seed has tried and the alphas
  placed inside, that end runs at every seed, alone when that closes the bracket. A bracket is closed
  when its width is at most `rel_width` times its geometric centre (the default 0.4: neighbours at
  most 1.49x apart, the spacing the interval needs, docs/coverage.md); then, if the interval
  reaches past it, an alpha inside each wider gap between the bracket and the interval's ends. A
  curve whose crossing lies below every alpha tried extends down to the bottom of `alpha_range`
  (then alpha* is reported as `<=` that bound); one that never reaches the target is confirmed at
  the top of the range at every seed (then `not reached`).
- It stops when alpha* over the alphas every seed ran (`aca_bench.benchmark.critical`) has a closed
  bracket and an interval no wider than it (its bounds are grid alphas, so the interval is then the
  bracket); or when `max_rounds` rounds are spent; or when no new alpha could narrow it.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from aca_bench.benchmark.critical import REACHED, CriticalMass, critical_mass
from aca_bench.benchmark.critical import logit_secant as _secant
from aca_bench.benchmark.errors import BenchError

DEFAULT_RANGE = (0.001, 0.5)
DEFAULT_REL_WIDTH = 0.4  # closed brackets at most 1.49x apart
DEFAULT_MAX_ROUNDS = 5
SCOUT_SPACING = math.sqrt(10.0)  # the coarse grid's largest ratio between neighbouring alphas
SCOUT_SEEDS = 1  # seeds of the coarse grid (alpha 0 always runs at every seed)
DIGITS = 3  # placed alphas are rounded to this many significant digits
ROUNDING_MARGIN = 1.01  # parts of a split bracket stay this far inside closed, whatever the rounding

CONVERGED = "interval is the bracket, within rel_width"
AT_ZERO = "target reached at alpha 0"
AT_BOTTOM = "crossing below the bottom of alpha_range"
NOT_REACHED_TOP = "target not reached at the top of alpha_range"
SEED_SPREAD = "bracket within rel_width; the interval is the seeds' spread"
BUDGET = "max_rounds spent"
NO_ROOM = "no untried alpha left to narrow it"


@dataclass(frozen=True)
class Search:
    """How an `alphas: auto` experiment searches: range of alphas, precision, round budget."""

    alpha_range: tuple[float, float] = DEFAULT_RANGE
    rel_width: float = DEFAULT_REL_WIDTH
    max_rounds: int = DEFAULT_MAX_ROUNDS


@dataclass(frozen=True)
class SearchState:
    """Where one configuration's search stands, replayed from its results."""

    rounds: tuple[tuple[tuple[float, tuple[int, ...]], ...], ...]  # per round: (alpha, seeds) placed
    todo: tuple[tuple[float, int], ...]  # (alpha, seed) cells of the current round without a result
    done: bool
    reason: str  # why it stopped; '' while it runs
    estimate: CriticalMass | None  # alpha* over the alphas every seed ran

    @property
    def cells(self) -> int:
        """Cells placed so far that have a result."""
        return sum(len(seeds) for rnd in self.rounds for _, seeds in rnd) - len(self.todo)


def check_search(alpha_range: object, rel_width: object, max_rounds: object, where: str = "") -> Search:
    """The settings as a Search, or a one-line BenchError naming the field (prefixed by `where`)."""
    lo_hi = list(alpha_range) if isinstance(alpha_range, list | tuple) else None
    if (
        lo_hi is None
        or len(lo_hi) != 2
        or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in lo_hi)
        or not 0 < lo_hi[0] < lo_hi[1] <= 1
    ):
        raise BenchError(f"{where}alpha_range: must be [lo, hi] with 0 < lo < hi <= 1, got {alpha_range!r}")
    if isinstance(rel_width, bool) or not isinstance(rel_width, int | float) or not 0 < rel_width < 10:
        raise BenchError(f"{where}rel_width: must be a number in (0, 10), got {rel_width!r}")
    if isinstance(max_rounds, bool) or not isinstance(max_rounds, int) or max_rounds < 1:
        raise BenchError(f"{where}max_rounds: must be a positive int, got {max_rounds!r}")
    return Search((float(lo_hi[0]), float(lo_hi[1])), float(rel_width), max_rounds)


def rounded(alpha: float) -> float:
    """`alpha` to DIGITS significant digits."""
    return float(f"{alpha:.{DIGITS}g}")


def coarse_grid(lo: float, hi: float) -> tuple[float, ...]:
    """Log-spaced alphas from `lo` to `hi`, neighbours at most SCOUT_SPACING apart."""
    n = max(2, math.ceil(math.log(hi / lo) / math.log(SCOUT_SPACING) - 1e-9) + 1)
    return tuple(sorted({rounded(lo * (hi / lo) ** (i / (n - 1))) for i in range(n)}))


def state(
    results: Mapping[tuple[float, int], float], seeds: tuple[int, ...], search: Search, target: float
) -> SearchState:
    """The search of one configuration given `results` ((alpha, seed) -> success)."""
    lo, hi = search.alpha_range
    plan = ((0.0, tuple(seeds)), *((a, tuple(seeds[:SCOUT_SEEDS])) for a in coarse_grid(lo, hi)))
    rounds: list[tuple[tuple[float, tuple[int, ...]], ...]] = []
    seen: dict[float, dict[int, float]] = {}
    while True:
        rounds.append(plan)
        todo = tuple((a, s) for a, ss in plan for s in ss if (a, s) not in results)
        for a, ss in plan:
            seen.setdefault(a, {}).update({s: results[(a, s)] for s in ss if (a, s) in results})
        estimate = _estimate(seen, seeds, target)
        if todo:
            return SearchState(tuple(rounds), todo, False, "", estimate)
        alphas, reason = _next(seen, seeds, search, target, estimate)
        if reason is None and not alphas:
            reason = NO_ROOM
        if reason is None and len(rounds) >= search.max_rounds:
            reason = BUDGET
        if reason is not None:
            return SearchState(tuple(rounds), (), True, reason, estimate)
        plan = tuple((a, tuple(s for s in seeds if s not in seen.get(a, {}))) for a in alphas)


def _full(seen: dict[float, dict[int, float]], seeds: tuple[int, ...]) -> list[float]:
    return sorted(a for a, per in seen.items() if len(per) == len(seeds))


def _estimate(seen: dict[float, dict[int, float]], seeds: tuple[int, ...], target: float):
    full = _full(seen, seeds)
    if len(full) < 2:
        return None
    per_seed = np.array([[seen[a][s] for a in full] for s in seeds])
    return critical_mass(np.array(full), per_seed, target)


def _next(
    seen: dict[float, dict[int, float]],
    seeds: tuple[int, ...],
    search: Search,
    target: float,
    estimate: CriticalMass | None,
) -> tuple[list[float], str | None]:
    """The next round's alphas (each to run at every seed), or a reason to stop."""
    lo, hi = search.alpha_range
    full = _full(seen, seeds)
    mean = {a: float(np.mean(list(per.values()))) for a, per in seen.items() if per}
    tried = sorted(mean)
    if mean[0.0] >= target:
        return [], AT_ZERO
    hits = [a for a in full if mean[a] >= target]
    if hits:
        b = hits[0]
        a = max(x for x in full if x < b)
        if a > 0:  # bracketed by alphas every seed ran
            assert estimate is not None and estimate.value is not None
            return _refine(a, b, estimate, full, search, mean, target)
        if b <= lo:
            return [], AT_BOTTOM
        below = [x for x in tried if 0 < x < b and mean[x] < target]
        if not below:  # nothing tried under the crossing: extend down to the bottom of the range
            return _new([lo, math.sqrt(lo * b)], full), None
        a = below[-1]  # only the scout seed ran it
        return _new(_end_or_inside(a, a, b, mean, target, search), full), None
    top = full[-1]
    above = [x for x in tried if x > top and mean[x] >= target]
    if not above:
        if top >= hi:
            return [], NOT_REACHED_TOP
        return _new([hi], full), None
    b = above[0]
    a = max(x for x in tried if x < b and mean[x] < target)
    if a == 0.0:
        return _new([b, *([math.sqrt(lo * b)] if b > lo else [])], full), None
    # Alphas around the estimate; once earlier ones fell short (a ran at every seed), b alone when
    # completing it closes the bracket.
    if a not in full:
        return _new(_around(a, b, mean, target, search), full), None
    return _new(_end_or_inside(b, a, b, mean, target, search), full), None


def _end_or_inside(
    end: float, a: float, b: float, mean: dict[float, float], target: float, search: Search
) -> list[float]:
    """`end` of bracket (a, b), which only the scout seed ran, to run at every seed when that alone
    closes the bracket; alphas inside the bracket otherwise (the end waits until they need it)."""
    return [end] if _narrow(a, b, search) else _around(a, b, mean, target, search)


def _refine(
    a: float,
    b: float,
    estimate: CriticalMass,
    full: list[float],
    search: Search,
    mean: dict[float, float],
    target: float,
) -> tuple[list[float], str | None]:
    """Bracket (a, b) of alphas every seed ran: stop, or place alphas that narrow alpha*."""
    if not _narrow(a, b, search):
        return _new(_around(a, b, mean, target, search), full), None
    low, high = estimate.low, estimate.high
    if estimate.status == REACHED and low is not None and high is not None and a <= low and high <= b:
        return [], CONVERGED
    # The interval reaches past the bracket: an alpha inside each gap to its ends that is not closed,
    # one a step of 1 + rel_width out where it has no end.
    step = 1 + search.rel_width
    ends = []
    if low is None:
        ends.append(a / step)
    elif low < a and not _narrow(low, a, search):
        ends.append(math.sqrt(low * a))
    if high is None:  # the band's lower edge stays below the target at every alpha tried
        ends.append(full[-1] * step)
    elif high > b and not _narrow(b, high, search):
        ends.append(math.sqrt(b * high))
    new = _new([min(x, search.alpha_range[1]) for x in ends], full, apart=1 + search.rel_width / 4)
    return (new, None) if new else ([], SEED_SPREAD)


def _around(a: float, b: float, mean: dict[float, float], target: float, search: Search) -> list[float]:
    """Where to train inside bracket (a, b). One or two alphas that split it evenly in log alpha when
    two or three closed parts (`_narrow`) fill it: whichever part the crossing falls in, the bracket
    closes this round, or next round by completing an end only the scout seed ran. A wider bracket gets
    two alphas `1 + rel_width` apart around the crossing estimated by `_secant` (kept inside)."""
    la, lb = math.log(a), math.log(b)
    parts = max(2, math.ceil((lb - la) / math.log(_closed_ratio(search.rel_width) / ROUNDING_MARGIN)))
    if parts <= 3:
        return [math.exp(la + i * (lb - la) / parts) for i in range(1, parts)]
    step = math.log(1 + search.rel_width)
    centre = la + _secant(mean[a], mean[b], target) * (lb - la)
    margin = (lb - la) / 8
    centre = min(max(centre, la + margin + step / 2), lb - margin - step / 2)
    return [math.exp(centre - step / 2), math.exp(centre + step / 2)]


def _closed_ratio(rel_width: float) -> float:
    """The largest b / a of a closed bracket (a, b): (b - a) / sqrt(ab) = rel_width."""
    return ((rel_width + math.sqrt(rel_width**2 + 4)) / 2) ** 2


def _narrow(a: float, b: float, search: Search) -> bool:
    """Whether bracket (a, b) is within rel_width of its geometric centre (alpha*, inside it, is near)."""
    return b / a <= _closed_ratio(search.rel_width)


def _new(alphas: list[float], full: list[float], apart: float = 1.0) -> list[float]:
    """`alphas` rounded, without repeats, without those every seed already ran (within `apart`)."""
    out: list[float] = []
    for x in sorted({rounded(x) for x in alphas}):
        if 0 < x <= 1 and all(max(x, f) / min(x, f) > apart for f in full if f > 0) and x not in full:
            out.append(x)
    return out
