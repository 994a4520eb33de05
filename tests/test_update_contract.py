"""`validate` checks the update contract it can check, per parameter name and in the contract's words,
and a plugin that fails at sweep time ends the sweep in one line pointing at its file and line (issue 35
case 8: torch's 'Shape mismatch ... mm(a, b)', an in-place update that passed, a 49-line traceback)."""

import textwrap

import pytest

ENTRY = """\
name: {name}
implementation: {module}:Plugin
description: A plugin that breaks one rule of the update contract.
authors: [A. Submitter]
license: MIT
stackable: true
"""

HEAD = """
import torch
from aca_bench.algorithms.erm import ERM


class Plugin(ERM):
    name = "{name}"

    def update(self, model, params, state, batch, values, step):
"""

BODIES = {
    "transposed": (
        "new, st = super().update(model, params, state, batch, values, step)\n"
        "return {k: (v.T.contiguous() if k == '0.weight' else v) for k, v in new.items()}, st",
        "update returned params['0.weight'] with shape (8, 16) and dtype float32; it must keep the shape "
        "(16, 8) and dtype float32 it was given",
    ),
    "doubled": (
        "new, st = super().update(model, params, state, batch, values, step)\n"
        "return {k: (v.double() if k == '2.bias' else v) for k, v in new.items()}, st",
        "update returned params['2.bias'] with shape (3,) and dtype float64; it must keep the shape (3,) "
        "and dtype float32 it was given",
    ),
    "in_place": (
        "new, st = super().update(model, params, state, batch, values, step)\n"
        "for k, v in params.items():\n    v.copy_(new[k])\n"
        "return dict(params), st",
        "update changed its input params['0.weight'] in place; it must return new tensors and leave its "
        "inputs as they were",
    ),
    "dropped": (
        "new, st = super().update(model, params, state, batch, values, step)\n"
        "return {k: v for k, v in new.items() if k != '2.weight'}, st",
        "update returned no params['2.weight']; it must return every one it was given",
    ),
    "params_only": (
        "return super().update(model, params, state, batch, values, step)[0]",
        "update must return (params, state), two dicts of tensors; got dict",
    ),
}


def _plugin(folder, name: str, body: str):
    module = f"contract_{name}_plugin"
    folder.mkdir(parents=True, exist_ok=True)
    source = HEAD.format(name=name) + textwrap.indent(body, " " * 8) + "\n"
    (folder / f"{module}.py").write_text(source)
    (folder / f"{name}.yaml").write_text(ENTRY.format(name=name, module=module))
    return folder, folder / f"{module}.py"


@pytest.fixture(autouse=True)
def registry_env(monkeypatch):
    monkeypatch.setenv("ACA_BENCH_REGISTRY", "")


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("name", sorted(BODIES))
def test_validate_names_the_rule_and_the_parameter(cli, tmp_path, name):
    body, words = BODIES[name]
    folder, source = _plugin(tmp_path / "reg", name, body)
    result = cli("validate", folder)
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    lines = [ln for ln in result.output.splitlines() if ln.startswith(str(folder / f"{name}.yaml"))]
    # the pointer is the line of `def update`
    assert lines == [f"{folder / f'{name}.yaml'}: implementation: {words} ({source}:9)"], result.output


@pytest.mark.usefixtures("one_thread")
def test_the_built_in_algorithms_keep_the_contract():
    from aca_bench.algorithms import registry
    from aca_bench.benchmark.commands.validate import ContractTask, _breach
    from aca_bench.benchmark.params import resolve

    for name in ("erm", "groupdro", "reweight", "dpsgd"):
        entry = registry.get(name)
        task = ContractTask(entry.cls.needs_groups)
        hp = resolve(entry.cls.hparams, {"epochs": 1}, owner=name)
        assert _breach(entry, task, task.data(), hp) is None, name


@pytest.mark.usefixtures("one_thread")
def test_a_plugin_that_raises_at_sweep_time_ends_in_one_line(cli, tmp_path):
    body = "raise ValueError('the plugin gave up')"
    folder, source = _plugin(tmp_path / "reg", "gives_up", body)
    result = cli(
        "sweep", "--task", "mnist_patch", "--algorithm", "gives_up", "--seeds", "1", "--alphas", "0.1",
        "--set", "epochs=1", "--set", "n_train=200", "--registry", folder, "--out", tmp_path / "out",
        "--device", "cpu",
    )  # fmt: skip
    assert result.exit_code != 0 and "Traceback" not in result.output, result.output
    errors = [ln for ln in result.output.splitlines() if ln.startswith("Error:")]
    assert errors == [
        f"Error: algorithm 'gives_up' failed while training ({source}:10): ValueError: the plugin gave up"
    ], result.output
