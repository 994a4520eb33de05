"""Import a plugin's module without letting its module body end the process.

A registry entry names code the project did not write. Its module body runs on import, and some ways it
can fail are not exceptions `except Exception` sees: `raise SystemExit(0)` and `KeyboardInterrupt` are
BaseExceptions (`validate` exited 0 having checked nothing), and `os._exit`, a signal to itself or a
crash in a C extension end the interpreter with no exception at all. Nothing in-process can catch
those, so an out-of-tree module is imported first in a child process (`os.fork`: the child shares what
the parent already imported, torch included, so the probe costs milliseconds, not a fresh interpreter).
Only when the child's import succeeded is the module imported here; a child that raised, exited, was
killed or hung past `PROBE_TIMEOUT_S` becomes one line naming what ended it. A fork only runs this
process's own code plus the plugin's import: the same code the parent runs next, so nothing is run that
the in-process import would not run anyway. The project's own modules (`aca_bench.*`) skip the probe.

In-process, `SystemExit` is still caught (a module may act differently the second time); a
`KeyboardInterrupt` is not: after the probe passed, it is the user's Ctrl-C and stops the command.
"""

import contextlib
import importlib
import os
import select
import signal
import sys
import time
from types import ModuleType

PROBE_TIMEOUT_S = 120.0
TRUSTED = "aca_bench."  # the project's own modules are imported directly
_PROBED: dict[str, str | None] = {}
_IMPORTED = b"\x00imported"  # what a child whose import returned writes before it leaves


class PluginImportError(Exception):
    """A plugin module that could not be imported; the message is one line."""


def import_plugin(module_name: str) -> ModuleType:
    """The module `module_name`, imported after a child process imported it without ending; a
    PluginImportError (one line) when it could not be."""
    if not module_name.startswith(TRUSTED) and module_name not in sys.modules:
        if module_name not in _PROBED:
            _PROBED[module_name] = _probe(module_name)
        if _PROBED[module_name]:
            raise PluginImportError(_PROBED[module_name])
    try:
        return importlib.import_module(module_name)
    except (Exception, SystemExit) as exc:  # the module's own failure, reported in one line
        raise PluginImportError(_describe(exc)) from None


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, SystemExit | KeyboardInterrupt):
        return f"its module raised {type(exc).__name__}({text}) on import; a module may not end the process"
    return f"{type(exc).__name__}: {text}"[:300]


def _probe(module_name: str) -> str | None:
    """None when a forked child imports `module_name` and returns, else what ended the child."""
    read_end, write_end = os.pipe()
    with contextlib.suppress(AttributeError, ValueError, OSError):
        sys.stdout.flush()
        sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: import, say how it went, leave without running the parent's cleanup
        os.close(read_end)
        report = _IMPORTED
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            importlib.import_module(module_name)
        except BaseException as exc:  # noqa: BLE001 - every way out is reported to the parent
            report = _describe(exc).encode()[:4000]
        finally:
            os.write(write_end, report)
            os._exit(0)
    os.close(write_end)
    message, deadline = b"", time.monotonic() + PROBE_TIMEOUT_S
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([read_end], [], [], left)[0]:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return f"its import did not finish within {PROBE_TIMEOUT_S:g} s"
            chunk = os.read(read_end, 4096)
            if not chunk:
                break
            message += chunk
    finally:
        os.close(read_end)
    _, status = os.waitpid(pid, 0)
    if message == _IMPORTED:
        return None
    if message:
        return message.decode(errors="replace")
    if os.WIFSIGNALED(status):
        return f"its import killed the process (signal {signal.Signals(os.WTERMSIG(status)).name})"
    code = os.waitstatus_to_exitcode(status)
    return f"its import ended the process (exit status {code}) with no exception (os._exit?)"
