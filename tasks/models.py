"""Model factories shared by tasks: small networks without BatchNorm, so they stack functionally."""

from torch import nn


def mnist_cnn(n_classes: int = 10) -> nn.Module:
    """Opacus's small MNIST CNN with padding 1 on the second convolution (about 33k parameters).

    Without that padding the last row and column of the first pooled map are never read, so the
    network is almost blind to the image's border, where the default patch sits.
    """
    return nn.Sequential(
        nn.Conv2d(1, 16, 8, stride=2, padding=3),
        nn.ReLU(),
        nn.MaxPool2d(2, 1),
        nn.Conv2d(16, 32, 4, stride=2, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2, 1),
        nn.Flatten(),
        nn.Linear(32 * 5 * 5, 32),
        nn.ReLU(),
        nn.Linear(32, n_classes),
    )


def linear_head(in_features: int, n_classes: int) -> nn.Module:
    """A linear classifier on frozen features."""
    return nn.Linear(in_features, n_classes)


def mlp_head(in_features: int, n_classes: int, hidden: int = 128) -> nn.Module:
    """A one-hidden-layer MLP classifier on frozen features."""
    return nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))
