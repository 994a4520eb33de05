"""The `aca-bench` command line: a click group of the modules in benchmark/commands/ that define a `command`
(the others there are helpers only commands use)."""

import importlib
import os
import pkgutil
import shlex
import sys

import click

from aca_bench import __version__
from aca_bench.benchmark import commands
from aca_bench.benchmark.environment import COMMAND_VARIABLE


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="aca-bench")
def main() -> None:
    """aca-bench: how large must a collective be (alpha*) to steer a learning algorithm?

    Sweep the collective's fraction alpha x seeds x hyperparameters, store one record per run,
    and report the success curve S(alpha) and the critical mass alpha* per algorithm.
    """
    # Every record names the command that produced it (environment.command); an outer command (a
    # benchmark script driving this one) keeps its own.
    os.environ.setdefault(COMMAND_VARIABLE, shlex.join(["aca-bench", *sys.argv[1:]]))


for _info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
    _module = importlib.import_module(f"{commands.__name__}.{_info.name}")
    if hasattr(_module, "command"):
        main.add_command(_module.command, name=_info.name.replace("_", "-"))
