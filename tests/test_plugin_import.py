"""A registry module whose body ends the process (SystemExit, KeyboardInterrupt, os._exit, a signal to
itself) is a failed import in one line for `validate` and `sweep` (issue 35 case 3: `raise SystemExit(0)`
made validate exit 0 having checked nothing)."""

import os
import textwrap

import pytest

from aca_bench.algorithms.plugin_import import PluginImportError, import_plugin

ENTRY = """\
name: {name}
implementation: {module}:Plugin
description: A plugin whose module body misbehaves.
authors: [A. Submitter]
license: MIT
stackable: true
"""

BODIES = {
    "system_exit": ("raise SystemExit(0)", "its module raised SystemExit(0) on import"),
    "keyboard": ("raise KeyboardInterrupt", "its module raised KeyboardInterrupt() on import"),
    "os_exit": ("import os\nos._exit(0)", "ended the process (exit status 0) with no exception (os._exit?)"),
    "os_exit_3": ("import os\nos._exit(3)", "ended the process (exit status 3) with no exception"),
    "sigkill": (
        "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
        "its import killed the process (signal SIGKILL)",
    ),
}


def _plugin(folder, name: str, body: str):
    module = f"hostile_{name}_{os.getpid()}_{abs(hash(str(folder))) % 10**8}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{module}.py").write_text(textwrap.dedent(body) + "\n")
    (folder / f"{name}.yaml").write_text(ENTRY.format(name=name, module=module))
    return folder, module


@pytest.fixture(autouse=True)
def registry_env(monkeypatch):
    monkeypatch.setenv("ACA_BENCH_REGISTRY", "")


@pytest.mark.parametrize("kind", sorted(BODIES))
def test_validate_reports_a_module_that_ends_the_process(cli, tmp_path, kind):
    body, words = BODIES[kind]
    folder, module = _plugin(tmp_path / "reg", kind, body)
    result = cli("validate", "--schema-only", folder)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    line = f"{folder / f'{kind}.yaml'}: implementation: cannot import {module}:Plugin: "
    problems = [ln for ln in result.output.splitlines() if ln.startswith(line)]
    assert len(problems) == 1 and words in problems[0], result.output


def test_sweep_reports_a_module_that_exits_in_one_line(cli, tmp_path):
    folder, module = _plugin(tmp_path / "reg", "quitter", "raise SystemExit(0)")
    result = cli(
        "sweep", "--task", "mnist_patch", "--algorithm", "quitter", "--seeds", "1", "--alphas", "0.1",
        "--registry", folder, "--out", tmp_path / "out",
    )  # fmt: skip
    assert result.exit_code != 0 and "Traceback" not in result.output, result.output
    errors = [ln for ln in result.output.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1 and f"cannot import {module}:Plugin: its module raised SystemExit(0)" in errors[0]


def test_a_module_that_imports_cleanly_is_imported_once_here(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "calm_plugin_mod.py").write_text("import os\nLOADED_IN = os.getpid()\n")
    module = import_plugin("calm_plugin_mod")
    assert os.getpid() == module.LOADED_IN


def test_a_module_that_hangs_is_stopped(tmp_path, monkeypatch):
    import aca_bench.algorithms.plugin_import as plugin_import

    monkeypatch.setattr(plugin_import, "PROBE_TIMEOUT_S", 0.5)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "hanging_plugin_mod.py").write_text("import time\ntime.sleep(60)\n")
    with pytest.raises(PluginImportError, match="did not finish within 0.5 s"):
        import_plugin("hanging_plugin_mod")
