"""Property-based tests (Hypothesis) of the parsers of user input: --alphas, --set and suite YAML.

Whatever the input, parsing and planning either succeed with values in range or stop with one
BenchError; no other exception (a traceback for the user) escapes.
"""

import string

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aca_bench.benchmark.commands.options import apply_sets, parse_alphas, parse_list, parse_sets
from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.preflight import check_cells
from aca_bench.benchmark.suite import parse_suite
from aca_bench.benchmark.sweep import plan_cells

SETTINGS = settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
NUMBERISH = st.text(alphabet=string.digits + ",.-+eE naifNI ", max_size=30)


@SETTINGS
@given(st.one_of(NUMBERISH, st.text(max_size=30)))
def test_alphas_parse_to_fractions_or_one_error(text):
    try:
        alphas = parse_alphas(text)
    except BenchError as exc:
        assert "\n" not in exc.message
        return
    assert alphas and all(0.0 <= a <= 1.0 for a in alphas)
    assert len(alphas) == text.count(",") + 1  # no item is dropped


@SETTINGS
@given(st.lists(st.floats(0, 1), min_size=1, max_size=6))
def test_alphas_round_trip(values):
    assert parse_alphas(",".join(map(repr, values))) == tuple(values)


@SETTINGS
@given(st.text(max_size=20))
def test_every_list_option_refuses_empty_items(text):
    items = text.split(",")
    if any(not item.strip() for item in items):
        with pytest.raises(BenchError):
            parse_list(text, "--algorithms")
    else:
        assert parse_list(text, "--algorithms") == tuple(item.strip() for item in items)


KEYS = st.sampled_from(
    ["lr", "epochs", "batch_size", "momentum", "patch_size", "y_star", "task.y_star", "algorithm.lr", "bogus"]
)
VALUES = st.one_of(
    st.text(max_size=12),
    st.integers(-(10**6), 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.lists(st.one_of(st.integers(-5, 300), st.floats(-1, 2), st.none()), max_size=3).map(yaml.safe_dump),
)
PAIRS = st.one_of(st.tuples(KEYS, VALUES).map(lambda kv: f"{kv[0]}={kv[1].strip()}"), st.text(max_size=20))


@SETTINGS
@given(st.lists(PAIRS, max_size=3), st.sampled_from(["erm", "dpsgd"]))
def test_set_pairs_plan_or_stop_with_one_error(pairs, algorithm):
    from aca_bench.benchmark.plan import Experiment

    try:
        task_params, hparams = parse_sets(tuple(pairs), "mnist_patch", algorithm)
        exp = Experiment("e", "mnist_patch", algorithm, (0.1,), (0,), task_params, hparams)
        (exp,) = apply_sets((exp,), ())
        cells = plan_cells([exp])
        check_cells(cells[:8])
    except BenchError as exc:
        assert "\n" not in exc.message
        return
    for cell in cells:
        assert cell.hparams["epochs"] >= 1 and 1 <= cell.hparams["batch_size"] <= 4000


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 300),
    st.floats(-2, 2),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["mnist_patch", "waterbirds_feature_flip", "erm", "dpsgd", "groupdro", "fp32"]),
)
FIELDS = st.sampled_from(
    ["name", "task", "algorithm", "alphas", "seeds", "task_params", "hparams", "target", "executor", "kind"]
    + ["lr", "epochs", "batch_size", "delta", "eta_q", "patch_size", "y_star", "m", "experiments", "targt"]
)
TREES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.one_of(FIELDS, st.integers(0, 3)), inner, max_size=5)
    ),
    max_leaves=25,
)


PARAMS = st.dictionaries(st.one_of(FIELDS, st.integers(0, 3), st.none()), SCALARS, max_size=3)


def _experiment():
    base = st.fixed_dictionaries(
        {
            "task": st.sampled_from(["mnist_patch", "waterbirds_feature_flip", "nope"]),
            "algorithm": st.sampled_from(["erm", "dpsgd", "groupdro"]),
            "alphas": st.one_of(st.lists(st.floats(0, 1), max_size=3), st.lists(SCALARS, max_size=3), TREES),
        },
        optional={
            "seeds": st.one_of(st.integers(-2, 3), TREES),
            "hparams": st.one_of(PARAMS, TREES),
            "task_params": st.one_of(PARAMS, TREES),
        },
    )
    return st.one_of(base, TREES)


DOCS = st.one_of(
    TREES,
    st.fixed_dictionaries(
        {"experiments": st.lists(_experiment(), min_size=1, max_size=2)},
        optional={"target": SCALARS, "executor": TREES, "name": SCALARS, "targt": SCALARS},
    ),
)


def _parse_and_plan(doc):
    suite = parse_suite(doc, "s.yaml")
    cells = plan_cells(suite.experiments)
    check_cells(cells[:8])
    return suite


@SETTINGS
@given(DOCS)
def test_suite_documents_plan_or_stop_with_one_error(doc):
    try:
        suite = _parse_and_plan(doc)
    except BenchError as exc:
        assert "\n" not in exc.message
        return
    assert 0 < suite.target <= 1 and suite.experiments


@SETTINGS
@given(st.text(alphabet=string.printable, max_size=120))
def test_suite_text_plans_or_stops_with_one_error(tmp_path_factory, text):
    from aca_bench.benchmark.suite import load_suite

    path = tmp_path_factory.mktemp("suite") / "s.yaml"
    path.write_text(text)
    try:
        suite = load_suite(str(path))
        plan_cells(suite.experiments)
    except BenchError as exc:
        assert "\n" not in exc.message
