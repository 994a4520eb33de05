"""Registry entries and the submission flow: `aca-bench validate`, `run SUITE --algorithm`, and the
newcomer's walk from an algorithm module in a temp folder to its page on the leaderboard."""

import json

import pytest
import torch

from aca_bench.benchmark import runner
from aca_bench.tasks.base import TaskData

pytestmark = pytest.mark.trains

ENTRY = """\
name: {name}
implementation: {module}:{cls}
description: {description}
authors: [A. Newcomer]
paper: https://example.org/paper
code: https://example.org/code
license: MIT
needs: []
stackable: true
{extra}"""

CLIPPED_SGD = '''
"""Clipped SGD: minibatch SGD whose whole-batch gradient is rescaled to norm at most `clip`."""

import torch
from torch.func import grad

from aca_bench.api import SGD_HPARAMS, Algorithm, Param, masked_mean, sgd_momentum


class ClippedSGD(Algorithm):
    name = "{name}"
    hparams = {{**SGD_HPARAMS, "clip": Param(1.0, float, "largest gradient norm")}}
    per_model = ("lr", "momentum", "weight_decay", "clip")

    def update(self, model, params, state, batch, values, step):
        def objective(p):
            return masked_mean(model.losses(p, batch["x"], batch["y"]), batch["mask"])

        g = grad(objective)(params)
        norm = torch.sqrt(sum((v * v).sum() for v in g.values()))
        scale = torch.clamp(values["clip"] / (norm + 1e-12), max=1.0)
        return sgd_momentum(params, {{k: v * scale for k, v in g.items()}}, state, values)
'''


def write_algorithm(
    folder,
    name,
    module,
    body,
    cls="ClippedSGD",
    extra="grid: {clip: [0.5, 5.0]}\n",
    description="Minibatch SGD with the batch gradient clipped to norm clip.",
):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{module}.py").write_text(body.format(name=name) if "{name}" in body else body)
    (folder / f"{name}.yaml").write_text(
        ENTRY.format(name=name, module=module, cls=cls, description=description, extra=extra)
    )
    return folder


@pytest.fixture(autouse=True)
def registry_env(monkeypatch):
    """No extra registry folders from the environment: each test names its own (`--registry` or setenv)."""
    monkeypatch.setenv("ACA_BENCH_REGISTRY", "")


def _problem_lines(result):
    return [ln for ln in result.output.splitlines() if ": " in ln and not ln.startswith("ok: ")]


def test_builtin_entries_validate(cli):
    result = cli("validate")
    assert result.exit_code == 0, result.output
    assert "ok: erm (" in result.output


def test_schema_problems_name_file_and_field(cli, tmp_path):
    (tmp_path / "bad.yaml").write_text("name: bad\nimplementation: nowhere\nstackable: maybe\ncolour: red\n")
    result = cli("validate", tmp_path)
    assert result.exit_code == 1 and "Traceback" not in result.output
    lines = _problem_lines(result)
    bad = str(tmp_path / "bad.yaml")
    for fragment in (
        "description: required field is missing",
        "stackable: must be a bool",
        "colour: unknown field",
        "license: required field is missing",
    ):
        assert any(ln.startswith(bad) and fragment in ln for ln in lines), (fragment, result.output)


def test_import_failure_duplicate_name_and_bad_grid_are_refused(cli, tmp_path):
    write_algorithm(tmp_path / "a", "erm", "dup_erm_impl", CLIPPED_SGD)
    write_algorithm(tmp_path / "b", "ghost", "no_such_module_xyz", "", extra="")
    write_algorithm(tmp_path / "c", "gridbad", "gridbad_impl", CLIPPED_SGD, extra="grid: {speed: [1]}\n")
    result = cli("validate", tmp_path / "a", tmp_path / "b", tmp_path / "c")
    assert result.exit_code == 1
    out = result.output
    assert f"{tmp_path / 'a' / 'erm.yaml'}: name: duplicate name 'erm'" in out
    assert (
        f"{tmp_path / 'b' / 'ghost.yaml'}: implementation: cannot import no_such_module_xyz:ClippedSGD" in out
    )
    assert f"{tmp_path / 'c' / 'gridbad.yaml'}: grid.speed: not a hyperparameter of the algorithm" in out


def test_tradeoff_axes_must_name_hyperparameters_with_labels(cli, tmp_path):
    """A card's trade-off axes are what the site plots alpha* against: each must be a declared
    hyperparameter with a non-empty label."""
    extra = "tradeoff_axes: {clip: '', speed: fast}\n"
    write_algorithm(tmp_path / "d", "axesbad", "axesbad_impl", CLIPPED_SGD, extra=extra)
    result = cli("validate", tmp_path / "d")
    entry = tmp_path / "d" / "axesbad.yaml"
    assert result.exit_code == 1
    assert f"{entry}: tradeoff_axes.clip: the axis label must be a non-empty string" in result.output
    assert f"{entry}: tradeoff_axes.speed: not a hyperparameter of the algorithm" in result.output
    write_algorithm(tmp_path / "e", "axesok", "axesok_impl", CLIPPED_SGD, extra="tradeoff_axes: {clip: C}\n")
    assert cli("validate", tmp_path / "e").exit_code == 0


NAN = """
from aca_bench.algorithms.erm import ERM


class Nan(ERM):
    name = "nan"

    def update(self, model, params, state, batch, values, step):
        new, st = super().update(model, params, state, batch, values, step)
        return {k: v * float("nan") for k, v in new.items()}, st
"""

RAISES = """
from aca_bench.algorithms.erm import ERM


class Raises(ERM):
    name = "raises"

    def update(self, model, params, state, batch, values, step):
        if batch["y"].sum() > 0:  # Python branching on a tensor value: not allowed under vmap
            pass
        return super().update(model, params, state, batch, values, step)
"""

FROZEN = """
from aca_bench.algorithms.erm import ERM


class Frozen(ERM):
    name = "frozen"

    def update(self, model, params, state, batch, values, step):
        return dict(params), state
"""


@pytest.mark.parametrize(
    ("name", "body", "cls", "fragment"),
    [
        ("nan", NAN, "Nan", "update produced non-finite parameters"),
        ("raises", RAISES, "Raises", "one epoch on a 2-model stack of a tiny model failed:"),
        ("frozen", FROZEN, "Frozen", "update left the parameters unchanged"),
    ],
)
def test_contract_violations_are_one_line(cli, tmp_path, name, body, cls, fragment):
    folder = write_algorithm(tmp_path, name, f"contract_{name}_impl", body, cls=cls, extra="")
    result = cli("validate", folder)
    assert result.exit_code == 1, result.output
    lines = _problem_lines(result)
    assert len(lines) == 1 and lines[0].startswith(f"{folder / (name + '.yaml')}: implementation: "), (
        result.output
    )
    assert fragment in lines[0]


def test_contract_check_catches_a_model_trained_in_a_stack_differing_from_alone():
    from aca_bench.algorithms import registry
    from aca_bench.algorithms.erm import ERM
    from aca_bench.benchmark.commands.validate import contract_problems

    class Counting(ERM):
        """Not stackable, and keeps a hidden class-level counter: its models influence each other."""

        name = "counting"
        stackable = False
        calls = 0

        def update(self, model, params, state, batch, values, step):
            Counting.calls += 1
            new, st = super().update(model, params, state, batch, values, step)
            return {k: v * (1.0 + 1e-2 * (Counting.calls % 2)) for k, v in new.items()}, st

    problems = contract_problems(registry.Entry("counting", "counting.yaml", {}, Counting))
    assert len(problems) == 1 and problems[0].startswith("counting.yaml: implementation: ")
    assert "differs from the same model trained alone" in problems[0]
    assert contract_problems(registry.get("erm")) == []


def test_with_algorithms_substitutes_and_applies_the_grid(tmp_path, monkeypatch):
    from aca_bench.benchmark.errors import BenchError
    from aca_bench.benchmark.suite import load_suite, parse_suite, with_algorithms

    monkeypatch.setenv(
        "ACA_BENCH_REGISTRY", str(write_algorithm(tmp_path, "gridded", "gridded_impl", CLIPPED_SGD))
    )
    suite = parse_suite(
        {
            "experiments": [
                {
                    "name": "m",
                    "task": "mnist_patch",
                    "algorithm": "erm",
                    "alphas": [0.1],
                    "hparams": {"epochs": 1, "target_epsilon": 3.0},
                }
            ]
        },
        "s.yaml",
    )
    out = with_algorithms(suite, ["erm", "gridded"])
    assert [(e.name, e.algorithm) for e in out.experiments] == [
        ("m", "erm"),
        ("mnist_patch/gridded", "gridded"),
    ]
    assert out.experiments[1].hparams == {"epochs": 1, "clip": [0.5, 5.0]}  # undeclared dropped, grid added
    with pytest.raises(BenchError, match="unknown algorithm 'nope'"):
        with_algorithms(suite, ["nope"])
    standard = load_suite("standard")
    assert standard.name == "standard" and standard.experiments


NEWCOMER_SUITE = """\
name: tiny
description: one task, two alphas, one seed, one epoch
experiments:
  - name: tiny-mnist
    task: mnist_patch
    algorithm: erm
    alphas: [0.05]
    seeds: 1
    hparams: {epochs: 1, batch_size: 64}
"""


def _noise_digits():
    """256 + 64 random 28x28 'digits': the walk tests the flow, not what the model learns."""
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (320, 1, 28, 28), dtype=torch.uint8, generator=g)
    y = torch.randint(0, 10, (320,), generator=g)
    return TaskData(x[:256], y[:256], x[256:], y[256:])


def test_newcomer_walk_from_module_to_leaderboard(cli, tmp_path, monkeypatch):
    """What CONTRIBUTING describes: write a module + entry, validate, run the suite with it, build."""
    data = _noise_digits()
    monkeypatch.setattr(runner, "task_data", lambda cell, device: data)
    mine = write_algorithm(tmp_path / "my_algorithms", "clipped_sgd", "clipped_sgd_impl", CLIPPED_SGD)

    result = cli("validate", mine)
    assert result.exit_code == 0, result.output
    assert f"ok: clipped_sgd ({mine / 'clipped_sgd.yaml'})" in result.output

    suite = tmp_path / "tiny.yaml"
    suite.write_text(NEWCOMER_SUITE)
    store = tmp_path / "results"
    result = cli(
        "run",
        suite,
        "--algorithm",
        "erm",
        "--algorithm",
        "clipped_sgd",
        "--registry",
        mine,
        "--out",
        store,
        "--device",
        "cpu",
    )
    assert result.exit_code == 0, result.output
    assert "6 cells: 0 already done, 6 trained" in result.output  # erm 2 + clipped_sgd 2 alphas x 2 clips
    assert "mnist_patch / clipped_sgd(clip=0.5)" in result.output

    site = tmp_path / "site"
    result = cli("leaderboard", "build", "--out", site, "--results", store, "--registry", mine)
    assert result.exit_code == 0, result.output
    index = (site / "index.html").read_text()
    assert 'data-config="clipped_sgd(clip=0.5)"' in index and 'data-config="clipped_sgd(clip=5.0)"' in index
    assert 'data-config="erm"' in index
    card = (site / "algorithms" / "clipped_sgd.html").read_text()
    assert "Minibatch SGD with the batch gradient clipped to norm clip." in card
    assert (
        "A. Newcomer" in card and "<code>clip</code>" in card and 'href="../tasks/mnist_patch.html"' in card
    )


def test_registry_option_paths_must_exist(cli, tmp_path):
    result = cli("validate", tmp_path / "missing")
    assert result.exit_code != 0 and "does not exist" in result.output
    (tmp_path / "empty").mkdir()
    result = cli("validate", tmp_path / "empty")
    assert result.exit_code == 1 and "no *.yaml registry entries" in result.output


def test_description_is_free_text(tmp_path):
    """Descriptions may hold any characters; escaping happens on the site (see test_leaderboard)."""
    from aca_bench.algorithms import registry

    folder = write_algorithm(
        tmp_path, "texty", "texty_impl", CLIPPED_SGD, description='"<script>alert(1)</script> & more"'
    )
    entries, problems = registry.validate([folder])
    assert problems == [] and entries["texty"].card["description"].startswith("<script>")


def _tutorial_module() -> str:
    """The per-example plugin's code, as docs/contributing.md's tutorial gives it."""
    from pathlib import Path

    text = (Path(__file__).parents[1] / "docs" / "contributing.md").read_text()
    section = text.split("## A per-example method, end to end")[1]
    return section.split("```python\n")[1].split("```")[0]


def test_the_per_example_tutorial_validates_and_trains_at_the_task_budget(cli, tmp_path, monkeypatch):
    """The docs' per-example method, as written there: it reads `batch["index"]` and sizes its state
    from `setting.n_train`; `validate` passes it, and `run` compares it with ERM at one budget."""
    data = _noise_digits()
    monkeypatch.setattr(runner, "task_data", lambda cell, device: data)
    mine = write_algorithm(
        tmp_path / "my_algos",
        "hard_examples",
        "hard_examples",
        _tutorial_module(),
        cls="HardExamples",
        extra="grid: {boost: [1.0, 4.0]}\n",
        description="Hard-example weighting.",
    )
    result = cli("validate", mine)
    assert result.exit_code == 0, result.output
    suite = tmp_path / "tiny.yaml"
    suite.write_text(NEWCOMER_SUITE)
    store = tmp_path / "results"
    args = ["--algorithm", "erm", "--algorithm", "hard_examples", "--registry", mine, "--device", "cpu"]
    result = cli("run", suite, "--out", store, *args)
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output  # both at mnist_patch's budget, one epoch as the suite says
    records = [json.loads(line) for line in (store / "records.jsonl").read_text().splitlines()]
    mine_records = [r for r in records if r["algorithm"]["name"] == "hard_examples"]
    assert len(mine_records) == 4  # 2 alphas x 2 boosts
    for r in mine_records:
        assert r["algorithm"]["hparams"]["lr"] == 0.02 and r["algorithm"]["hparams"]["epochs"] == 1
        assert r["algorithm_record"]["mean_seen_loss"] > 0  # the per-example table was written
