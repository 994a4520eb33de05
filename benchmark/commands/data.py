"""`aca-bench data fetch NAME`: download what a task declares in its `downloads` (datasets, weights)
where the internet is reachable."""

import click

from aca_bench.tasks.base import Download
from aca_bench.tasks.registry import all_tasks


def downloads() -> dict[str, Download]:
    """Every registered task's downloads by name (a task's subclass shares its parent's)."""
    out: dict[str, Download] = {}
    for task in all_tasks().values():
        for d in task.downloads:
            out.setdefault(d.name, d)
    return dict(sorted(out.items()))


@click.group()
def command() -> None:
    """Fetch datasets for the full-size tasks (the embedded default needs none)."""


command.name = "data"

_DOWNLOADS = downloads()


@command.command(
    epilog="\b\n" + "\n".join(f"{d.name}: {d.description}" for d in _DOWNLOADS.values()),
)
@click.argument("name", type=click.Choice(list(_DOWNLOADS)))
@click.option(
    "--dir",
    "root",
    default=None,
    help="Where to put it  [default: "
    + "; ".join(f"{d.name} {d.default_dir}" for d in _DOWNLOADS.values() if d.default_dir)
    + "].",
)
def fetch(name: str, root: str | None) -> None:
    """Download NAME (a dataset or model weights)."""
    d = _DOWNLOADS[name]
    if d.default_dir is None:
        if root is not None:
            raise click.BadParameter(f"{name} goes to a fixed cache; it takes no --dir", param_hint="--dir")
        path = d.fetch()
    else:
        path = d.fetch(root or d.default_dir)
    click.echo(d.done.format(path=path))
