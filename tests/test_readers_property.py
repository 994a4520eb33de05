"""Property tests (Hypothesis, derandomized: the same examples on every run) of the readers of files a
user or a submitter writes: the record reader, the suite reader and the registry-card reader.

Whatever the document, each reader gives a value or the project's one-line error (a BenchError, or one
line per skipped record or card); no other exception escapes. A record the store accepts can be
aggregated (no KeyError, no non-finite success reaching alpha*).
"""

import json
import math
import string

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.record_schema import record_problem
from aca_bench.benchmark.store import Store

SETTINGS = settings(
    max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
)
TREES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
RECORD = {
    "run_id": "r0",
    "task": {"name": "mnist_patch", "version": "1", "params": {}},
    "algorithm": {"name": "erm", "hparams": {"lr": 0.1}},
    "alpha": 0.05,
    "seed": 0,
    "n_train": 100,
    "n_collective": 5,
    "metrics": {"success": 0.5, "clean_accuracy": 0.9, "clean_y_star_rate": 0.01},
    "wall_time_s": 1.0,
}
PATHS = st.sampled_from(
    [
        ("run_id",),
        ("task",),
        ("task", "name"),
        ("task", "params"),
        ("algorithm",),
        ("algorithm", "name"),
        ("algorithm", "hparams"),
        ("alpha",),
        ("seed",),
        ("n_train",),
        ("n_collective",),
        ("metrics",),
        ("metrics", "success"),
        ("metrics", "clean_accuracy"),
        ("metrics", "clean_y_star_rate"),
        ("metrics", "worst_group_accuracy"),
        ("metrics", "group_accuracy"),
        ("wall_time_s",),
        ("environment",),
        ("algorithm_record",),
    ]
)
DELETE = object()


def _mutated(changes: list[tuple[tuple[str, ...], object]]) -> dict:
    """RECORD with each path set to a value (or deleted)."""
    rec = json.loads(json.dumps(RECORD))
    for path, value in changes:
        node = rec
        for key in path[:-1]:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        if value is DELETE:
            node.pop(path[-1], None)
        else:
            node[path[-1]] = value
    return rec


LINES = st.one_of(
    st.lists(st.tuples(PATHS, st.one_of(st.just(DELETE), TREES)), min_size=1, max_size=3)
    .map(_mutated)
    .map(json.dumps),
    TREES.map(json.dumps),
    st.text(max_size=40).filter(lambda t: "\n" not in t),
)


@SETTINGS
@given(st.lists(LINES, min_size=1, max_size=4))
def test_the_record_reader_keeps_valid_records_and_reports_the_rest_in_one_line(tmp_path_factory, lines):
    from aca_bench.benchmark.aggregate import curves, runs_frame

    store = Store(tmp_path_factory.mktemp("store"))
    store.path.write_text("\n".join(lines) + "\n")
    records, problems = store.read()
    assert len(records) + len(problems) == sum(
        1 for ln in lines if ln.encode().strip()
    )  # as bytes: "\x1f" is a line
    assert all("\n" not in p for p in problems)
    for r in records:
        assert record_problem(r) == ""
        assert math.isfinite(r["metrics"]["success"]) and 0 <= r["metrics"]["success"] <= 1
    if records:
        runs = runs_frame(records)  # the fields every reader takes for granted are there
        assert runs["success"].between(0, 1).all()
        curves(runs)
    moved = store.check()  # the next writer moves every wrong line aside, nothing else
    assert len(moved) == len(problems) and store.read() == (records, [])


# YAML text with anchors, aliases, merges, flow and block nesting: what a hostile file is made of
YAML_PIECES = st.sampled_from(
    [
        "&a ", "*a", "&b ", "*b", "<<: ", "[", "]", "{", "}", ", ", ": ", "- ", "\n", "\n  ", "\n    ",
        "name", "experiments", "task", "algorithm", "alphas", "seeds", "hparams", "target", "mnist_patch",
        "erm", "0.1", ".inf", ".nan", "1e400", "-1", "!!python/object:os.system", "'x'", '"y"', "#",
        "implementation", "description", "authors", "license", "stackable", "true", "grid", "lr",
    ]
)  # fmt: skip
YAML_TEXT = st.one_of(
    st.lists(YAML_PIECES, max_size=40).map("".join),
    st.text(alphabet=string.printable, max_size=80),
)


def _one_line(exc: BenchError) -> None:
    assert "\n" not in exc.message and exc.message


@SETTINGS
@given(YAML_TEXT)
def test_the_suite_reader_gives_a_suite_or_one_line(tmp_path_factory, text):
    from aca_bench.benchmark.suite import load_suite

    path = tmp_path_factory.mktemp("suite") / "s.yaml"
    path.write_text(text)
    try:
        suite = load_suite(str(path))
    except BenchError as exc:
        _one_line(exc)
        return
    assert 0 < suite.target <= 1


CARD = st.fixed_dictionaries(
    {
        "name": st.one_of(st.just("prop_card"), SCALARS),
        # a module name that is no module: nothing outside the project is imported
        "implementation": st.one_of(
            st.sampled_from(["aca_bench.algorithms.erm:ERM", "zz_no_such_module:X", "x", ""]), SCALARS
        ),
    },
    optional={
        "description": SCALARS,
        "authors": st.one_of(st.lists(st.text(max_size=5), max_size=2), SCALARS),
        "license": SCALARS,
        "stackable": SCALARS,
        "grid": st.one_of(
            st.dictionaries(st.sampled_from(["lr", "epochs", "nope"]), TREES, max_size=2), TREES
        ),
        "tradeoff_axes": TREES,
        "needs": TREES,
        "extra": TREES,
    },
)


@SETTINGS
@given(st.one_of(CARD.map(lambda card: json.dumps(card, allow_nan=True)), YAML_TEXT))
@example('{"name": "prop_card", "implementation": null, "needs": 1}')  # found by a longer run: TypeError
def test_the_card_reader_gives_cards_or_one_line_each(tmp_path_factory, text):
    from aca_bench.algorithms import registry
    from aca_bench.leaderboard.sources import read_cards

    path = tmp_path_factory.mktemp("cards") / "card.yaml"
    path.write_text(text.replace("NaN", ".nan").replace("-Infinity", "-.inf").replace("Infinity", ".inf"))
    for read in (lambda: read_cards([path]), lambda: registry.validate([path])):
        try:
            found, problems = read()
        except BenchError as exc:
            _one_line(exc)
            continue
        assert isinstance(found, dict) and all("\n" not in p for p in problems)
