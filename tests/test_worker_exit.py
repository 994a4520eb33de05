"""Worker processes of `--workers N` end with their driver, `kill -9` included (issue 35 case 6: they
were left alive, about 885 MB each)."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from aca_bench.benchmark.executors import parent_death
from aca_bench.benchmark.executors.parent_death import end_with_parent
from aca_bench.benchmark.executors.pool import worker_pool

# A driver that starts a pool configured as `worker_pool`'s (spawned workers, `end_with_parent` as their
# initializer) without importing torch, so the test takes about a second, not the ten that two torch
# imports take on a busy 2-core machine; `test_worker_pool_arms_every_worker` ties the two together.
DRIVER = textwrap.dedent(
    """
    import concurrent.futures as cf, multiprocessing, os, time
    from aca_bench.benchmark.executors.parent_death import end_with_parent

    spawn = multiprocessing.get_context("spawn")
    arm = dict(initializer=end_with_parent, initargs=(os.getpid(),))
    with cf.ProcessPoolExecutor(2, mp_context=spawn, **arm) as p:
        pids = {f.result() for f in [p.submit(os.getpid) for _ in range(8)]}
        print(" ".join(map(str, sorted(pids))), flush=True)
        time.sleep(120)
    """
)


def _gone(pid: int) -> bool:
    """No such process, or a zombie nobody reaped yet (it runs nothing and holds no memory)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in {"Z", "X"}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and prctl are Linux's")
def test_kill_9_of_the_driver_ends_its_workers():
    driver = subprocess.Popen([sys.executable, "-c", DRIVER], stdout=subprocess.PIPE, text=True)
    try:
        workers = [int(p) for p in driver.stdout.readline().split()]
        assert workers and driver.pid not in workers
        assert not any(_gone(w) for w in workers)
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(_gone(w) for w in workers):
            time.sleep(0.05)
        left = [w for w in workers if not _gone(w)]
        for w in left:  # do not leave them behind if the test fails
            os.kill(w, signal.SIGKILL)
        assert left == []
    finally:
        driver.kill()
        driver.wait()


def test_worker_pool_arms_every_worker():
    with worker_pool(2) as p:  # no process is started before the first submit
        assert p._initializer is end_with_parent and p._initargs == (os.getpid(),)


def test_a_worker_whose_parent_is_already_gone_ends_at_once(monkeypatch):
    exits = []
    monkeypatch.setattr(parent_death.os, "_exit", lambda code: exits.append(code))
    end_with_parent(os.getppid() + 1)
    assert exits == [1]


def test_without_prctl_a_thread_watches_the_parent(monkeypatch):
    started = []
    monkeypatch.setattr(parent_death.sys, "platform", "darwin")
    monkeypatch.setattr(parent_death.threading.Thread, "start", lambda self: started.append(self))
    end_with_parent(os.getppid())
    assert len(started) == 1 and started[0].daemon
