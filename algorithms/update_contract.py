"""The rules of `Algorithm.update` that can be checked by running it, in the contract's own words, and a
plugin's failure at sweep time as one line pointing at its file and line.

`checked(algo)` returns the algorithm with its `update` wrapped: each call must return `(params, state)`,
two dicts of tensors; the params must carry every parameter name it was given and no other, each with the
shape and dtype it came in with (state entries it was given keep theirs too); and no input (params,
state, batch, values) may be changed in place. A breach raises `ContractBreach`, whose message says
which rule and which parameter. `aca-bench validate` steps a model through the engine with the wrapped
update, one model at a time so each call sees plain tensors.

`plugin_failure` turns an exception raised while an out-of-tree algorithm trains into one line naming
the algorithm, its file and line, and the exception: a sweep then ends in that line instead of the
engine's traceback.
"""

import inspect
import sys
import traceback
from functools import wraps
from pathlib import Path
from typing import Any

import torch

from aca_bench.algorithms.base import Algorithm
from aca_bench.algorithms.plugin_import import TRUSTED


class ContractBreach(Exception):
    """An update that broke a rule of the contract; the message is one line."""


def checked(algo: Algorithm) -> Algorithm:
    """`algo` with its update checked on every call (see the module docstring); returns `algo`."""
    update = algo.update

    @wraps(update)
    def checked_update(model: Any, params: dict, state: dict, batch: dict, values: dict, step: int) -> Any:
        inputs = {"params": params, "state": state, "batch": batch, "values": values}
        before = {(group, k): v.clone() for group, d in inputs.items() for k, v in d.items() if _is_tensor(v)}
        out = update(model, params, state, batch, values, step)
        for (group, k), old in before.items():
            now = inputs[group][k]
            if now.shape != old.shape or not torch.equal(now, old) and not _same_nan(now, old):
                raise ContractBreach(
                    f"update changed its input {group}[{k!r}] in place; it must return new tensors and "
                    "leave its inputs as they were"
                )
        if not (isinstance(out, tuple) and len(out) == 2 and all(isinstance(d, dict) for d in out)):
            raise ContractBreach(
                f"update must return (params, state), two dicts of tensors; got {_kind(out)}"
            )
        new_params, new_state = out
        _same_layout("params", params, new_params, exact=True)
        _same_layout("state", state, new_state, exact=False)
        return out

    algo.update = checked_update  # type: ignore[method-assign]
    return algo


def _same_layout(group: str, given: dict, returned: dict, exact: bool) -> None:
    """Every name of `given` comes back with its shape and dtype (and, when `exact`, no other name)."""
    missing = sorted(set(given) - set(returned))
    if missing:
        raise ContractBreach(
            f"update returned no {group}[{missing[0]!r}]; it must return every one it was given"
        )
    extra = sorted(set(returned) - set(given)) if exact else []
    if extra:
        raise ContractBreach(f"update returned {group}[{extra[0]!r}], which the model does not have")
    for k, old in given.items():
        new = returned[k]
        if not _is_tensor(old):
            continue
        if not _is_tensor(new):
            raise ContractBreach(f"update returned {group}[{k!r}] as {_kind(new)}, not a tensor")
        if new.shape != old.shape or new.dtype != old.dtype:
            raise ContractBreach(
                f"update returned {group}[{k!r}] with shape {_layout(new)}; it must keep the shape "
                f"{_layout(old)} it was given"
            )


def _layout(t: torch.Tensor) -> str:
    return f"{tuple(t.shape)} and dtype {str(t.dtype).removeprefix('torch.')}"


def _is_tensor(value: Any) -> bool:
    return isinstance(value, torch.Tensor)


def _same_nan(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.is_floating_point() and bool(torch.equal(torch.nan_to_num(a), torch.nan_to_num(b)))


def _kind(value: Any) -> str:
    return type(value).__name__ + (f" of {len(value)}" if isinstance(value, tuple | list) else "")


def where(cls: type) -> str:
    """'FILE:LINE' of `cls.update`'s definition, or the class's module name when its source is unknown."""
    try:
        return f"{inspect.getsourcefile(cls.update)}:{inspect.getsourcelines(cls.update)[1]}"
    except (OSError, TypeError):
        return cls.__module__


def plugin_failure(exc: BaseException, cls: type) -> str | None:
    """One line for `exc`, raised while the out-of-tree algorithm `cls` trained: its name, the line of
    its own file the failure passed through last (else its update's definition), the exception. None
    for the project's own algorithms (their tracebacks are the project's bugs, kept whole)."""
    if cls.__module__.startswith(TRUSTED) or cls.__module__ == "__main__":
        return None
    files = {Path(f).resolve() for f in _files(cls)}
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).resolve() in files]
    at = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else where(cls)
    text = " ".join(str(exc).split())[:300]
    name = getattr(cls, "name", cls.__name__)
    return f"algorithm '{name}' failed while training ({at}): {type(exc).__name__}: {text}"


def _files(cls: type) -> list[str]:
    """The source files of `cls` and of its out-of-tree bases."""
    out = []
    for klass in cls.__mro__:
        module = sys.modules.get(klass.__module__)
        path = getattr(module, "__file__", None)
        if path and not klass.__module__.startswith(TRUSTED):
            out.append(path)
    return out
