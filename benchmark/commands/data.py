"""`aca-bench data fetch NAME`: download datasets and weights where the internet is reachable."""

import click

from tasks import mnist_data
from tasks.mnist_patch import DEFAULT_MNIST_DIR

@click.group()
def command() -> None:
    """Fetch datasets for the full-size tasks (the embedded default needs none)."""

command.name = "data"

@command.group()
def fetch() -> None:
    """Download a dataset or model weights."""

@fetch.command("mnist")
@click.option("--dir", "root", default=DEFAULT_MNIST_DIR, show_default=True,
              help="Where to put MNIST (torchvision layout).")
def fetch_mnist(root: str) -> None:
    """Full MNIST (60,000 train / 10,000 test) as IDX files."""
    path = mnist_data.fetch(root)
    click.echo(f"MNIST is in {path}; use --set source=mnist --set data_dir={path}")
