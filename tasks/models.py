"""Model factories shared by tasks: small networks without BatchNorm, so they stack functionally."""

import torch
import torch.nn.functional as F
from torch import nn


class ChannelsLastMaxPool2d(nn.Module):
    """nn.MaxPool2d computed on a channels-last copy of its input: the same function, faster.

    PyTorch's CPU max-pool kernel is about 6x slower on channels-first tensors than on channels-last
    ones (a [1024, 16, 14, 14] input: 48 ms against 8 ms on 2 cores), and max-pooling was a third of
    the CNN's training time. `memory_format=` is refused inside vmap, so the layout change is spelt
    as a permute, a copy and a permute back, which vmap accepts. The output is made channels-first
    again, because Opacus's per-example gradients of a Conv2d are wrong on a channels-last input
    (checked against the summed gradient; tests/test_models.py). An input that is channels-last
    already (the engine's CPU path feeds those) is pooled as it is and stays channels-last.
    """

    def __init__(self, kernel_size: int, stride: int) -> None:
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.stride(1) == 1 and x.shape[1] > 1:  # channels-last already: pool it as it is
            return F.max_pool2d(x, self.kernel_size, self.stride)
        nhwc = x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)
        return F.max_pool2d(nhwc, self.kernel_size, self.stride).contiguous()


def mnist_cnn(n_classes: int = 10) -> nn.Module:
    """Opacus's small MNIST CNN with padding 1 on the second convolution (about 33k parameters).

    Without that padding the last row and column of the first pooled map are never read, so the
    network is almost blind to the image's border, where the default patch sits.
    """
    return nn.Sequential(
        nn.Conv2d(1, 16, 8, stride=2, padding=3),
        nn.ReLU(),
        ChannelsLastMaxPool2d(2, 1),
        nn.Conv2d(16, 32, 4, stride=2, padding=1),
        nn.ReLU(),
        ChannelsLastMaxPool2d(2, 1),
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
