"""`aca-bench leaderboard build`: the static leaderboard site from a results store and the registry."""

from pathlib import Path

import click

from aca_bench.benchmark.commands.options import registry_option, target_option


@click.group()
def command() -> None:
    """Build the static leaderboard site."""


@command.command("build")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder for the site (created; a previous site there is replaced).",
)
@click.option(
    "--results",
    "results",
    default=["results"],
    show_default=True,
    multiple=True,
    type=click.Path(file_okay=False),
    help="Results folder to read (repeatable): a store, or a folder of stores such as leaderboard/reference.",
)
@registry_option
@target_option
def build(out: str, results: tuple[str, ...], registry_paths: tuple[str, ...], target: float) -> None:
    """Render the site (index, task, algorithm, methodology and submit pages, plots, downloads) to --out."""
    from aca_bench.leaderboard.build import build_site  # matplotlib and jinja2 load only for this command

    result = build_site(list(results), out, [Path(p) for p in registry_paths], target)
    for w in result.warnings:
        click.echo(f"warning: {w}", err=True)
    pages = [p for p in result.pages if p.endswith(".html")]
    click.echo(
        f"site with {len(pages)} pages and {len(result.pages) - len(pages)} other files in {out}; "
        f"open {Path(out) / 'index.html'}"
    )
