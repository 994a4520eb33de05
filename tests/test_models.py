"""The task models: the channels-last max-pool is the same function as nn.MaxPool2d, on either layout."""

import torch
from torch import nn
from torch.func import grad, vmap

from aca_bench.tasks.models import ChannelsLastMaxPool2d


def test_channels_last_pool_matches_maxpool_in_value_and_gradient():
    torch.manual_seed(0)
    x = torch.randn(3, 5, 4, 7, 7)  # a stack of 3 models' batches
    ours, ref = ChannelsLastMaxPool2d(2, 1), nn.MaxPool2d(2, 1)
    weights = torch.randn(4, 6, 6)

    def loss(pool, xi):
        return (pool(xi) * weights).sum()

    assert torch.equal(vmap(ours)(x), vmap(ref)(x))
    g_ours = vmap(grad(lambda xi: loss(ours, xi)))(x)
    g_ref = vmap(grad(lambda xi: loss(ref, xi)))(x)
    assert torch.equal(g_ours, g_ref)
    assert g_ref.abs().sum() > 0
    assert vmap(ours)(x).shape == (3, 5, 4, 6, 6)


def test_pool_keeps_a_channels_last_input_channels_last_and_a_channels_first_one_channels_first():
    torch.manual_seed(0)
    x = torch.randn(4, 6, 9, 9)
    last = x.contiguous(memory_format=torch.channels_last)
    ours, ref = ChannelsLastMaxPool2d(2, 1), nn.MaxPool2d(2, 1)
    assert torch.equal(ours(last), ref(x)) and torch.equal(ours(x), ref(x))
    assert ours(last).stride(1) == 1  # channels-last in, channels-last out (the engine's CPU path)
    assert ours(x).is_contiguous()  # channels-first in, channels-first out (what Opacus needs)


def test_opacus_per_example_gradients_of_the_cnn_sum_to_the_batch_gradient():
    """Guards the pool's channels-first output: Opacus's Conv2d grad sampler is wrong on channels-last
    inputs, which the DP-SGD reference path and its cross-check test depend on."""
    from opacus import GradSampleModule

    from aca_bench.tasks.models import mnist_cnn

    torch.manual_seed(0)
    net = mnist_cnn()
    x, y = torch.randn(6, 1, 28, 28), torch.randint(0, 10, (6,))
    gsm = GradSampleModule(net, loss_reduction="sum")
    nn.functional.cross_entropy(gsm(x), y, reduction="sum").backward()
    for name, p in net.named_parameters():
        torch.testing.assert_close(p.grad_sample.sum(0), p.grad, rtol=1e-4, atol=1e-5, msg=name)
