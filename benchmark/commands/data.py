"""`aca-bench data fetch NAME`: download datasets and weights where the internet is reachable."""

import click

from aca_bench.tasks import mnist_data, waterbirds_data
from aca_bench.tasks.mnist_patch import DEFAULT_MNIST_DIR
from aca_bench.tasks.waterbirds import DEFAULT_WATERBIRDS_DIR


@click.group()
def command() -> None:
    """Fetch datasets for the full-size tasks (the embedded default needs none)."""


command.name = "data"


@command.group()
def fetch() -> None:
    """Download a dataset or model weights."""


@fetch.command("mnist")
@click.option(
    "--dir",
    "root",
    default=DEFAULT_MNIST_DIR,
    show_default=True,
    help="Where to put MNIST (torchvision layout).",
)
def fetch_mnist(root: str) -> None:
    """Full MNIST (60,000 train / 10,000 test) as IDX files."""
    path = mnist_data.fetch(root)
    click.echo(f"MNIST is in {path}; use --set source=mnist --set data_dir={path}")


@fetch.command("waterbirds")
@click.option(
    "--dir",
    "root",
    default=DEFAULT_WATERBIRDS_DIR,
    show_default=True,
    help="Where to unpack WaterBirds (metadata.csv + images).",
)
def fetch_waterbirds(root: str) -> None:
    """WaterBirds (group_DRO's waterbird_complete95_forest2water2 archive, about 0.5 GB)."""
    path = waterbirds_data.fetch_dataset(root)
    click.echo(
        f"WaterBirds is in {path}; use --set source=waterbirds --set data_dir={path} "
        f"(embeddings also need: aca-bench data fetch resnet50)"
    )


@fetch.command("resnet50")
def fetch_resnet50() -> None:
    """ResNet-50 ImageNet weights (torchvision IMAGENET1K_V1) into the local torch cache."""
    path = waterbirds_data.fetch_weights()
    click.echo(f"ResNet-50 weights are in {path}")
