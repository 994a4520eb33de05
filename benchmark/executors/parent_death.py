"""Worker processes that end with their parent, however the parent ends.

A driver killed with `kill -9` runs no cleanup, so the workers of `--workers N` (about 900 MB each) were
left training for nobody. `end_with_parent` is each worker's initializer: on Linux it asks the kernel to
SIGKILL the worker when its parent dies (`prctl(PR_SET_PDEATHSIG)`, through ctypes); elsewhere a daemon
thread watches the parent's pid. A worker writes nothing (the driver stores every record), so killing one
loses only the stack it was training. The kernel ties the signal to the thread that spawned the worker:
`ProcessPoolExecutor` spawns from the thread that submits, the driver's main thread.

Torch-free on purpose: a spawned worker imports this module to run its initializer before anything else.
"""

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # linux/prctl.h
PARENT_POLL_S = 1.0


def end_with_parent(parent: int) -> None:
    """Run in a worker as it starts: the worker is killed when process `parent` (the driver that spawned
    it, from its main thread) ends. A parent already gone by now ends the worker at once."""
    armed = False
    if sys.platform.startswith("linux"):
        prctl = getattr(ctypes.CDLL(None, use_errno=True), "prctl", None)  # libc, linked into python
        armed = prctl is not None and prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)
    if not armed:
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int) -> None:
    """Where prctl is missing: end this process once its parent is no longer `parent`."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os._exit(1)
