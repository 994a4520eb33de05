"""Task registry: every module in this package registers its tasks; plugins use an entry-point group."""

import importlib
import pkgutil
from importlib.metadata import entry_points

from aca_bench.benchmark.errors import BenchError
from aca_bench.tasks.base import Task

ENTRY_POINT_GROUP = "aca_bench.tasks"
_TASKS: dict[str, type[Task]] = {}
_DISCOVERED = False


def register_task(cls: type[Task]) -> type[Task]:
    """Class decorator adding a task; a second task with the same name is refused."""
    if cls.name in _TASKS and _TASKS[cls.name] is not cls:
        raise BenchError(f"task name '{cls.name}' is registered twice")
    _TASKS[cls.name] = cls
    return cls


def _discover() -> None:
    global _DISCOVERED
    from aca_bench import tasks

    _DISCOVERED = True
    for info in pkgutil.iter_modules(tasks.__path__):
        importlib.import_module(f"{tasks.__name__}.{info.name}")
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        register_task(ep.load())


def all_tasks() -> dict[str, type[Task]]:
    """Every registered task class by name."""
    if not _DISCOVERED:
        _discover()
    return dict(sorted(_TASKS.items()))


def get_task(name: str) -> type[Task]:
    """The task class called `name`, or a BenchError listing the known ones."""
    known = all_tasks()
    if name not in known:
        raise BenchError(f"unknown task '{name}' (known: {', '.join(known)})")
    return known[name]
