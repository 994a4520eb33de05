"""`aca-bench docs render`: regenerate the results tables in README.md and docs/ from committed records."""

from pathlib import Path

import click

from aca_bench.benchmark.commands.doc_tables import documents, render


@click.group()
def command() -> None:
    """The documentation's numbers, rendered from the records committed under leaderboard/reference/."""


@command.command("render")
@click.option("--root", default=".", show_default=True, help="Repository root (holds README.md and docs/).")
@click.option(
    "--check", is_flag=True, help="Change nothing; exit 1 naming every file whose tables are stale."
)
def render_command(root: str, check: bool) -> None:
    """Rewrite every `<!-- records: FOLDER ... -->` block from the results store in FOLDER."""
    base = Path(root)
    stale = []
    for path in documents(base):
        old = path.read_text()
        new = render(old, base)
        if new != old:
            stale.append(path)
            if not check:
                path.write_text(new)
    for path in stale:
        click.echo(f"{'stale' if check else 'rendered'}: {path}")
    if check and stale:
        raise SystemExit(1)
