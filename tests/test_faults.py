"""Faults: a sweep killed with SIGKILL resumes with no duplicate, lost or corrupt records."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from aca_bench.benchmark.store import Store

SUITE = """
name: tiny
experiments:
  - name: tiny-erm
    task: mnist_patch
    algorithm: erm
    alphas: [0.01, 0.05]
    seeds: 2
    hparams: {epochs: 1, batch_size: 500}
"""


def _run(suite, out, *extra):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aca_bench.benchmark",
            "run",
            str(suite),
            "--out",
            str(out),
            "--max-stack",
            "1",
            "--device",
            "cpu",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


@pytest.mark.slow
def test_sigkill_mid_sweep_then_rerun_resumes(tmp_path):
    suite = tmp_path / "tiny.yaml"
    suite.write_text(SUITE)
    out = tmp_path / "out"
    store = Store(out)
    proc = _run(suite, out)
    deadline = time.time() + 240
    while time.time() < deadline and len(store.read()[0]) < 2:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = {r["run_id"] for r in store.read()[0]}
    assert 2 <= len(before) < 6, "the kill should land mid-sweep"
    rerun = _run(suite, out)
    output, _ = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, output
    assert f"6 cells: {len(before)} already done, {6 - len(before)} trained" in output
    records, problems = store.read()
    ids = [r["run_id"] for r in records]
    assert problems == [] and len(ids) == len(set(ids)) == 6 and before <= set(ids)
    for line in store.path.read_text().splitlines():
        json.loads(line)  # every line intact


@pytest.mark.slow
def test_two_concurrent_sweeps_on_one_folder_split_the_cells(tmp_path):
    import re

    suite = tmp_path / "tiny.yaml"
    suite.write_text(SUITE)
    out = tmp_path / "out"
    procs = [_run(suite, out), _run(suite, out)]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    trained = []
    for proc, output in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, output
        # The later of the two may start after the other has stored a cell or two: already done.
        found = re.search(r"6 cells: (\d+) already done, (\d+) trained", output)
        assert found, output
        done, trained_here = int(found.group(1)), int(found.group(2))
        shared = re.search(r"(\d+) cell\(s\) were trained by another sweep", output)
        assert done + trained_here + (int(shared.group(1)) if shared else 0) == 6, output
        trained.append(trained_here)
    assert sum(trained) == 6 and min(trained) >= 1, trained  # each cell trained once, by one of them
    records, problems = Store(out).read()
    ids = [r["run_id"] for r in records]
    assert problems == [] and len(ids) == len(set(ids)) == 6
    assert not (out / "leases.json").exists()  # every lease released on exit
