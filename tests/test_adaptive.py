"""Adaptive alpha placement: synthetic S(alpha) curves of known shape, resume after a crash, the same
alphas on every rerun, and a real `--alphas auto` sweep on the embedded digits."""

import math
import re

import numpy as np
import pytest
import torch

from aca_bench.benchmark import adaptive, runner, sweep
from aca_bench.benchmark.adaptive import Search, coarse_grid, state
from aca_bench.benchmark.critical import AT_MOST, NOT_REACHED, REACHED, CriticalMass
from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.executors import local
from aca_bench.benchmark.plan import AUTO, Experiment
from aca_bench.benchmark.store import Store
from aca_bench.benchmark.suite import parse_suite, with_alphas
from aca_bench.benchmark.sweep import run_sweep

pytestmark = pytest.mark.trains

SEEDS = (0, 1, 2, 3, 4)
TARGET = 0.9
SEARCH = Search((0.001, 0.05), 0.5, 6)


def logistic(alpha_star: float, width: float):
    """S(alpha) rising in log alpha, crossing TARGET exactly at alpha_star; S(0) = 0."""
    shift = math.log(TARGET / (1 - TARGET))
    return lambda a: 0.0 if a == 0 else 1 / (1 + math.exp(-(math.log(a / alpha_star)) / width - shift))


def simulate(curve, search=SEARCH, seeds=SEEDS, noise=0.0, results=None):
    """Run a search to its end on `curve` (+ per-(alpha, seed) noise); returns (state, results)."""
    results = {} if results is None else results
    for _ in range(search.max_rounds + 1):
        st = state(results, seeds, search, TARGET)
        if st.done:
            return st, results
        for a, s in st.todo:
            rng = np.random.default_rng([int(a * 1e6), s])
            results[(a, s)] = float(np.clip(curve(a) + noise * rng.standard_normal(), 0, 1))
    raise AssertionError("the search ran past max_rounds")


def test_round_one_scouts_alpha_0_at_every_seed_and_the_coarse_grid_at_one():
    st = state({}, SEEDS, SEARCH, TARGET)
    grid = coarse_grid(0.001, 0.05)
    assert grid[0] == 0.001 and grid[-1] == 0.05
    assert all(b / a <= adaptive.SCOUT_SPACING * 1.01 for a, b in zip(grid, grid[1:], strict=False))
    assert st.rounds == (((0.0, SEEDS), *((a, SEEDS[:1]) for a in grid)),)
    assert len(st.todo) == len(SEEDS) + len(grid) and not st.done


@pytest.mark.parametrize("alpha_star", [0.0023, 0.0081, 0.031])
@pytest.mark.parametrize("width", [0.1, 0.4])
def test_monotone_curve_converges_near_the_true_crossing(alpha_star, width):
    st, results = simulate(logistic(alpha_star, width))
    est = st.estimate
    assert st.reason == adaptive.CONVERGED and est.status == REACHED
    assert abs(math.log(est.value / alpha_star)) < math.log(1 + SEARCH.rel_width) / 2
    assert (est.high - est.low) / est.value <= SEARCH.rel_width
    # Every round after the first trains its alphas at every seed.
    for rnd in st.rounds[1:]:
        assert all(set(seeds) | {s for (a2, s) in results if a2 == a} == set(SEEDS) for a, seeds in rnd)
    # Alpha 0 and the scouts, then at most three alphas at every seed (25: under half a 12-point grid).
    assert st.cells <= len(SEEDS) + len(coarse_grid(0.001, 0.05)) + 3 * len(SEEDS)


@pytest.mark.parametrize("target", [0.01, 0.99])
def test_a_target_near_0_or_1_converges_and_its_secant_estimate_stays_inside_the_bracket(target):
    """The logit secant clips S nearer 0 and 1 for a target there, so a bracket whose end sits at 0 or
    1 still puts the crossing strictly inside it. rel_width 0.2: brackets too wide for an even split,
    so the secant places the alphas."""
    lo_s, hi_s = (0.0, 0.5) if target < 0.5 else (0.5, 1.0)
    assert 0 < adaptive._secant(lo_s, hi_s, target) < 1
    search = Search((0.001, 0.05), 0.2, 8)
    alpha_star, shift = 0.008, math.log(target / (1 - target))
    curve = lambda a: 0.0 if a == 0 else 1 / (1 + math.exp(-math.log(a / alpha_star) / 0.2 - shift))  # noqa: E731
    results: dict = {}
    for _ in range(search.max_rounds):
        st = state(results, SEEDS, search, target)
        if st.done:
            break
        results |= {(a, s): curve(a) for a, s in st.todo}
    assert st.reason == adaptive.CONVERGED
    assert abs(math.log(st.estimate.value / alpha_star)) < math.log(1 + search.rel_width)


def test_round_two_splits_the_scout_bracket_in_three_closed_parts_and_an_outer_crossing_closes_on_its_scout():
    closed = ((SEARCH.rel_width + math.sqrt(SEARCH.rel_width**2 + 4)) / 2) ** 2  # (b - a) / sqrt(ab) = w
    grid = coarse_grid(0.001, 0.05)
    for alpha_star, width in [(0.0023, 0.1), (0.0081, 0.4), (0.031, 0.4), (0.0081, 0.1), (0.0052, 0.2)]:
        st, _ = simulate(logistic(alpha_star, width))
        (lo, s_lo), (hi, s_hi) = st.rounds[1]
        a = max(x for x in grid if x < lo)
        b = min(x for x in grid if x > hi)
        assert s_lo == s_hi == SEEDS and a < alpha_star <= b
        assert lo / a == pytest.approx(hi / lo, rel=0.01) == pytest.approx(b / hi, rel=0.01)
        assert max(lo / a, hi / lo, b / hi) < closed
        if lo < alpha_star <= hi:  # the middle part: closed by round 2's own alphas
            assert len(st.rounds) == 2
        else:  # an outer part: the scout end on its side runs at the other seeds, alone
            end = a if alpha_star <= lo else b
            assert st.rounds[2] == ((end, SEEDS[1:]),) and len(st.rounds) == 3
    # Both alphas of round 2 fall short and the scout above closes the bracket: it alone runs next.
    results = {(0.0, s): 0.0 for s in SEEDS}
    results |= {(a, 0): 0.0 if a < 0.005 else 0.5 if a < 0.01 else 0.95 for a in grid}
    round2 = state(results, SEEDS, SEARCH, TARGET).todo
    assert {a for a, _ in round2} == {0.00979, 0.0136}  # (0.00707, 0.0188) in thirds
    results |= {cell: 0.85 for cell in round2}
    assert state(results, SEEDS, SEARCH, TARGET).rounds[2] == ((0.0188, SEEDS[1:]),)


def test_a_scout_end_too_far_to_close_the_bracket_waits_while_alphas_inside_it_run():
    # Round 2 lands just under the target near the lower scout: the bracket up to the scout at 0.0188
    # is still wider than rel_width closes, so round 3 runs only alphas inside it, at every seed.
    search = Search((0.001, 0.05), 0.2, 8)
    results = {(0.0, s): 0.0 for s in SEEDS}
    results |= {(a, 0): 0.0 if a < 0.005 else 0.89 if a < 0.01 else 0.95 for a in coarse_grid(0.001, 0.05)}
    round2 = state(results, SEEDS, search, TARGET).rounds[1]
    assert [a for a, _ in round2] == [0.00799, 0.00959]
    results |= {(a, s): 0.89 for a, _ in round2 for s in SEEDS}
    round3 = state(results, SEEDS, search, TARGET).rounds[2]
    assert all(0.00959 < a < 0.0188 and seeds == SEEDS for a, seeds in round3) and len(round3) == 2


def test_a_bracket_too_wide_for_three_closed_parts_gets_two_alphas_a_step_apart_around_the_secant():
    # Closed brackets are at most 1.22 wide at rel_width 0.2: a scout bracket would take 6 parts.
    search = Search((0.001, 0.05), 0.2, 8)
    st, _ = simulate(logistic(0.0081, 0.3), search=search)
    (lo, _), (hi, _) = st.rounds[1]
    assert hi / lo == pytest.approx(1.2, rel=0.01)
    assert lo < 0.0081 * 1.2 and hi > 0.0081 / 1.2  # around the crossing, not an even split
    assert st.reason == adaptive.CONVERGED
    assert abs(math.log(st.estimate.value / 0.0081)) < math.log(1.2)


@pytest.mark.parametrize(
    ("low", "high", "alphas", "reason"),
    [
        (0.01, 0.012, [], adaptive.CONVERGED),  # the interval is the closed bracket
        (0.005, 0.02, [0.00707, 0.0155], None),  # both gaps to the ends wider than closed: split each
        (0.008, 0.016, [], adaptive.SEED_SPREAD),  # gaps already closed: the seeds' spread sets it
        (None, None, [0.00714, 0.0168], None),  # no ends: a step of 1 + rel_width out on each side
    ],
)
def test_an_interval_past_a_closed_bracket_measures_inside_each_gap_still_open(low, high, alphas, reason):
    """The t-band interval's bounds are alphas run, so past a closed bracket it narrows only where an
    alpha lands between the bracket and a bound more than a closed bracket away."""
    search = Search((0.001, 0.05), 0.4, 6)
    full = sorted({0.0, 0.01, 0.012, *(x for x in (low, high) if x is not None)})
    estimate = CriticalMass(0.011, REACHED, low, high, 5, 0.9)
    assert adaptive._refine(0.01, 0.012, estimate, full, search, {}, 0.9) == (alphas, reason)


def test_noisy_seeds_still_bracket_the_crossing_within_the_budget():
    alpha_star = 0.006
    st, _ = simulate(logistic(alpha_star, 0.3), noise=0.05)
    est = st.estimate
    assert est.status == REACHED and len(st.rounds) <= SEARCH.max_rounds
    assert est.low <= alpha_star * (1 + SEARCH.rel_width) and est.high >= alpha_star / (1 + SEARCH.rel_width)


@pytest.mark.parametrize("level", [0.0, 0.3, 0.85])
def test_flat_curve_below_the_target_is_confirmed_at_the_top_then_not_reached(level):
    st, results = simulate(lambda a: level)
    assert st.reason == adaptive.NOT_REACHED_TOP and st.estimate.status == NOT_REACHED
    assert all((0.05, s) in results for s in SEEDS)  # the top of the range ran at every seed
    assert len(st.rounds) == 2


def test_rising_curve_that_never_reaches_the_target_is_not_reached():
    st, results = simulate(lambda a: 0.8 * min(1.0, a / 0.05))
    assert st.reason == adaptive.NOT_REACHED_TOP and st.estimate.value is None
    assert max(a for a, _ in results) == 0.05


def test_target_reached_only_above_the_scouts_extends_to_the_top_before_stopping():
    # The scout seed never reaches the target; the mean over every seed does at the top.
    st, _ = simulate(lambda a: 0.95 if a >= 0.05 else 0.2 * a / 0.05)
    assert st.estimate.status == REACHED and st.estimate.value <= 0.05


def test_crossing_below_the_smallest_alpha_is_an_upper_bound_at_the_bottom_of_the_range():
    st, results = simulate(lambda a: 0.02 if a == 0 else 0.97)
    assert st.reason == adaptive.AT_BOTTOM
    assert st.estimate.status == AT_MOST and st.estimate.value == SEARCH.alpha_range[0]
    assert all((0.001, s) in results for s in SEEDS)


def test_crossing_below_the_bracket_extends_downward_to_the_range_bottom():
    # S reaches the target at 0.0012: below the second scout alpha, above the first.
    st, results = simulate(logistic(0.0012, 0.05))
    assert st.estimate.status == REACHED and 0.001 <= st.estimate.value < 0.00266
    assert min(a for a, _ in results if a > 0) == 0.001


def test_already_steered_at_alpha_0_stops_after_round_one():
    st, _ = simulate(lambda a: 0.95)
    assert st.reason == adaptive.AT_ZERO and len(st.rounds) == 1


def test_max_rounds_caps_the_search():
    tight = Search((0.001, 0.05), 0.001, 3)
    st, _ = simulate(logistic(0.004, 0.3), search=tight, noise=0.05)
    assert st.reason in (adaptive.BUDGET, adaptive.SEED_SPREAD, adaptive.NO_ROOM) and len(st.rounds) <= 3


def test_placement_is_a_pure_function_of_the_results():
    curve = logistic(0.0047, 0.25)
    first, results = simulate(curve, noise=0.04)
    again, _ = simulate(curve, noise=0.04)
    assert first == again
    # Results at alphas the search never placed (a fixed grid in the same store) change nothing.
    extra = {**results, **{(0.0042, s): 0.5 for s in SEEDS}, **{(0.02, s): 0.0 for s in SEEDS}}
    assert state(extra, SEEDS, SEARCH, TARGET) == first
    # Replaying from round 1 alone gives round 2 exactly as the full search placed it.
    round1 = {(a, s): results[(a, s)] for a, seeds in first.rounds[0] for s in seeds}
    resumed = state(round1, SEEDS, SEARCH, TARGET)
    assert resumed.rounds == first.rounds[:2]
    assert set(resumed.todo) == {(a, s) for a, seeds in first.rounds[1] for s in seeds}


# --- the sweep loop: a crashed search resumes and trains nothing twice --------------------------


CURVE = logistic(0.0062, 0.2)


def fake_records(cells, device, on_progress=None):
    """Records of a known S(alpha) instead of training (the loop, the store and resume are real)."""
    return [
        {
            "run_id": c.run_id,
            **c.config(),
            "n_collective": round(c.alpha * 4000),
            "metrics": {"success": CURVE(c.alpha), "clean_accuracy": 0.9},
            "wall_time_s": 0.0,  # with n_collective, a field the store's record schema requires
        }
        for c in cells
    ]


def _auto(**kw):
    hp = {"epochs": 2, "batch_size": 32, "lr": [0.02, 0.05]}
    return Experiment("auto", "mnist_patch", "erm", AUTO, SEEDS, {}, hp, (0.001, 0.05), 0.5, 6, **kw)


def test_crashed_search_resumes_with_the_next_round_and_trains_nothing_twice(tmp_path, monkeypatch):
    round_one = {0.0, *coarse_grid(0.001, 0.05)}
    trained: list[str] = []
    crash = [True]

    def crash_in_round_two(cells, device, on_progress=None):
        if crash[0] and any(c.alpha not in round_one for c in cells):
            raise KeyboardInterrupt
        trained.extend(c.run_id for c in cells)
        return fake_records(cells, device)

    monkeypatch.setattr(local, "run_cells", crash_in_round_two)
    monkeypatch.setattr(local, "progress_bar", _Bar)
    store, cpu = Store(tmp_path / "crashed"), torch.device("cpu")
    with pytest.raises(KeyboardInterrupt):
        run_sweep([_auto()], store, cpu)
    after_crash = {r["run_id"] for r in store.read()[0]}
    # Round 1 of both configurations (lr 0.02 and 0.05): alpha 0 x 5 seeds + the scouts at one seed.
    assert len(after_crash) == 2 * (len(SEEDS) + len(round_one) - 1)
    crash[0] = False
    trained.clear()
    resumed = run_sweep([_auto()], store, cpu)
    assert trained and len(trained) == len(set(trained)) and not after_crash & set(trained)
    assert resumed.skipped == len(after_crash) and resumed.written == len(trained)
    trained.clear()
    fresh = Store(tmp_path / "fresh")
    uninterrupted = run_sweep([_auto()], fresh, cpu)
    assert {r["run_id"] for r in store.read()[0]} == {r["run_id"] for r in fresh.read()[0]}
    assert [r.state for r in resumed.searches] == [r.state for r in uninterrupted.searches]
    for r in resumed.searches:
        assert r.state.done and r.state.estimate.status == REACHED and r.rounds >= 2
        assert r.model_epochs == 2 * r.cells
    assert resumed.planned == uninterrupted.planned == len(fresh.read()[0])


class _Bar:
    """A silent progress bar (the loop under test, not tqdm)."""

    def __init__(self, total, desc):
        self.n = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, k):
        self.n += k

    def refresh(self):
        pass


def test_all_configurations_advance_together_in_shared_stacks(tmp_path, monkeypatch):
    stacks_per_pass = []
    monkeypatch.setattr(local, "run_cells", fake_records)
    monkeypatch.setattr(local, "progress_bar", _Bar)
    real_local = local.run_local

    def record(stacks, store, device, desc="sweep"):
        stacks_per_pass.append([len(s) for s in stacks])
        return real_local(stacks, store, device, desc)

    import aca_bench.benchmark.sweep as sweep_mod

    monkeypatch.setattr(sweep_mod, "run_local", record)
    result = run_sweep([_auto()], Store(tmp_path), torch.device("cpu"), max_stack=64)
    # lr is per-model for ERM: both configurations' cells of a round share one stack.
    assert all(len(p) == 1 for p in stacks_per_pass)
    assert len(stacks_per_pass) == max(r.rounds for r in result.searches)


# --- suites and the CLI -------------------------------------------------------------------------


def test_suite_auto_fields_parse_and_bad_ones_are_one_line():
    doc = {
        "experiments": [
            {
                "task": "mnist_patch",
                "algorithm": "erm",
                "alphas": "auto",
                "alpha_range": [0.002, 0.2],
                "rel_width": 0.3,
                "max_rounds": 4,
            }
        ]
    }
    exp = parse_suite(doc, "s.yaml").experiments[0]
    assert exp.search == Search((0.002, 0.2), 0.3, 4)
    plain = {"task": "mnist_patch", "algorithm": "erm", "alphas": "auto"}
    defaults = parse_suite({"experiments": [plain]}, "s")
    assert defaults.experiments[0].search == Search()
    bad = [
        ({"alpha_range": [0.2, 0.1]}, "experiments[0]: alpha_range: must be [lo, hi]"),
        ({"alpha_range": [0, 0.1]}, "alpha_range: must be [lo, hi] with 0 < lo < hi <= 1"),
        ({"rel_width": -1}, "experiments[0]: rel_width: must be a number"),
        ({"max_rounds": 0}, "experiments[0]: max_rounds: must be a positive int"),
        ({"alphas": [0.1], "alpha_range": None}, "experiments[0]: alpha_range: only with alphas: auto"),
        ({"alphas": "some"}, "alphas: must be a list of numbers or 'auto'"),
    ]
    for change, message in bad:
        e = {**doc["experiments"][0], **change}
        with pytest.raises(BenchError, match=re.escape(message)):
            parse_suite({"experiments": [e]}, "s.yaml")


@pytest.mark.parametrize(
    "args, fragment",
    [
        (("--alpha-range", "0.1"), "--alpha_range: must be [lo, hi]"),
        (("--alpha-range", "a,b"), "--alpha-range expects comma-separated numbers LO,HI"),
        (("--rel-width", "0"), "--rel_width: must be a number in (0, 10)"),
        (("--max-rounds", "0"), "--max_rounds: must be a positive int"),
    ],
)
@pytest.mark.parametrize(
    "command",
    [("sweep", "--task", "mnist_patch", "--algorithm", "erm"), ("run", "quick")],
    ids=["sweep", "run"],
)
def test_cli_auto_options_are_checked_in_one_line(cli, tmp_path, command, args, fragment):
    result = cli(*command, "--alphas", "auto", *args, "--out", tmp_path)
    assert result.exit_code != 0 and fragment in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "records.jsonl").exists()


def test_with_alphas_searches_each_grid_range_or_the_range_given():
    grid = Experiment("e", "mnist_patch", "erm", (0, 0.002, 0.05, 0.01), (0, 1), {}, {})
    searched = with_alphas([grid], AUTO, search=Search(rel_width=0.3, max_rounds=4))[0]
    assert searched.alphas == AUTO and searched.search == Search((0.002, 0.05), 0.3, 4)
    assert with_alphas([grid], AUTO, (0.01, 0.2))[0].search == Search((0.01, 0.2))
    already = with_alphas([grid], AUTO, (0.01, 0.2), Search(rel_width=0.3))
    assert with_alphas(already, AUTO, search=Search()) == already  # an auto experiment keeps its search
    assert with_alphas([grid], (0.0, 0.1))[0].alphas == (0.0, 0.1) and grid.search is None
    with pytest.raises(BenchError, match="experiment 'e': --alphas auto needs two positive alphas"):
        with_alphas([Experiment("e", "mnist_patch", "erm", (0, 0.01), (0,), {}, {})], AUTO)


def test_run_alphas_auto_trains_the_cells_perf_adaptive_trains(monkeypatch, tmp_path, cli):
    """`run SUITE --alphas auto` and perf-adaptive's auto arm hand the sweep the same experiments."""
    from aca_bench.benchmark.commands import perf_adaptive, run
    from aca_bench.benchmark.sweep import SweepResult

    searched = []

    def fake_sweep(experiments, *args, **kwargs):
        if experiments[0].search is None:  # perf-adaptive's fixed arm
            return SweepResult(0, 0, 0)
        searched.append(tuple(experiments))
        raise BenchError("stop before training")

    monkeypatch.setattr(run, "run_sweep", fake_sweep)
    monkeypatch.setattr(perf_adaptive, "run_sweep", fake_sweep)
    assert (
        "stop before training" in cli("run", "standard", "--alphas", "auto", "--out", tmp_path / "r").output
    )
    assert "stop before training" in cli("perf-adaptive", "standard", "--out", tmp_path / "p").output
    from_run, from_perf = searched
    assert from_run == from_perf and len(from_run) == 8 and all(e.search is not None for e in from_run)


def test_real_auto_sweep_on_tiny_digits_finds_alpha_star_and_reruns_to_the_same_alphas(
    cli, tmp_path, monkeypatch, tiny_mnist
):
    monkeypatch.setattr(runner, "task_data", lambda cell, device: tiny_mnist[1])
    args = (
        "sweep", "--task", "mnist_patch", "--algorithm", "erm", "--alphas", "auto",
        "--alpha-range", "0.01,0.5", "--max-rounds", "2", "--seeds", "2",
        "--set", "epochs=3", "--set", "batch_size=32", "--set", "lr=0.05",
        "--device", "cpu", "--out", tmp_path,
    )  # fmt: skip
    first = cli(*args)
    assert first.exit_code == 0, first.output
    records = Store(tmp_path).read()[0]
    alphas = {(r["alpha"], r["seed"]) for r in records}
    grid = coarse_grid(0.01, 0.5)
    assert {(0.0, 0), (0.0, 1)} | {(a, 0) for a in grid} <= alphas
    success = {(r["alpha"], r["seed"]): r["metrics"]["success"] for r in records}
    assert success[(0.5, 0)] > success[(0.0, 0)] + 0.5  # the collective steers the model
    line = next(ln for ln in first.output.splitlines() if ln.startswith("  mnist_patch-erm: alpha*"))
    assert f"{len(records)} cells, {3 * len(records)} model-epochs" in line
    again = cli(*args)
    n = len(records)
    assert again.exit_code == 0 and f"{n} cells: {n} already done, 0 trained" in again.output
    assert {(r["alpha"], r["seed"]) for r in Store(tmp_path).read()[0]} == alphas


def test_perf_adaptive_trains_the_fixed_grids_a_seed_at_a_time_between_the_search_rounds(
    cli, tmp_path, monkeypatch, tiny_mnist
):
    """The arms take turns, so a drift in the machine's speed weighs on both; each arm's store ends
    with exactly its own cells, and a rerun trains nothing."""
    monkeypatch.setattr(runner, "task_data", lambda cell, device: tiny_mnist[1])
    labels = []
    real_train = sweep._train
    monkeypatch.setattr(sweep, "_train", lambda stacks, *a: labels.append(a[-1]) or real_train(stacks, *a))
    suite = tmp_path / "tiny.yaml"
    suite.write_text(
        "name: tiny\nexperiments:\n  - name: digits\n    task: mnist_patch\n    algorithm: erm\n"
        "    alphas: [0, 0.02, 0.1, 0.5]\n    seeds: 3\n"
        "    hparams: {epochs: 2, batch_size: 32, lr: 0.05}\n"
    )
    args = ("perf-adaptive", suite, "--max-rounds", "2", "--device", "cpu", "--out", tmp_path / "p")
    first = cli(*args)
    assert first.exit_code == 0, first.output
    fixed = [f"tiny fixed seed {s}" for s in range(3)]
    rounds = [x for x in labels if x.startswith("tiny auto round")]
    assert len(rounds) >= 2
    expected, rest = [fixed[0]], fixed[1:]
    for r in rounds:
        expected += [r] + rest[:1]
        rest = rest[1:]
    assert labels == expected + rest
    grid = {(a, s) for a in (0.0, 0.02, 0.1, 0.5) for s in range(3)}
    assert {(r["alpha"], r["seed"]) for r in Store(tmp_path / "p" / "fixed").read()[0]} == grid
    auto = {(r["alpha"], r["seed"]) for r in Store(tmp_path / "p" / "auto").read()[0]}
    assert {(0.0, s) for s in range(3)} <= auto and auto != grid
    assert "| mnist_patch / erm |" in first.output and "**all configurations in both**" in first.output
    labels.clear()
    again = cli(*args)
    assert again.exit_code == 0 and labels == []
    assert "fixed: 0 cells trained" in again.output and "auto: 0 cells trained" in again.output
