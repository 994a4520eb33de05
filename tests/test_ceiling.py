"""The conv-kernel ceiling: which convolutions a training step runs, and that each is timed forward
and backward."""

import torch
from torch.profiler import profile

from aca_bench.benchmark.perf.ceiling import conv_calls, conv_seconds
from aca_bench.tasks.waterbirds import WaterbirdsFeatureFlip


def test_conv_calls_are_the_models_convolutions_on_a_training_batch(tiny_mnist):
    task, data = tiny_mnist
    calls = conv_calls(task, data, 32)
    assert [(c.input_shape, c.input_grad) for c in calls] == [
        ((32, 1, 28, 28), False),  # reads the data: no input gradient
        ((32, 16, 13, 13), True),  # 14x14 after the first convolution, 13x13 after its 2x2/1 pool
    ]
    assert [c.layer.out_channels for c in calls] == [16, 32]


def test_a_model_without_convolutions_has_no_calls():
    task = WaterbirdsFeatureFlip()
    assert conv_calls(task, task.load(), 16) == []


def test_each_step_runs_every_convolution_forward_and_backward(tiny_mnist, one_thread):
    task, data = tiny_mnist
    calls = conv_calls(task, data, 8)
    with profile() as prof:
        seconds = conv_seconds(calls, 3, torch.device("cpu"), min_seconds=0.0)  # one round
    counts = {e.key: e.count for e in prof.key_averages()}
    assert counts["aten::convolution_backward"] == 2 * (3 + 1)  # 3 steps and the warm-up one
    assert counts["aten::convolution"] == 2 * (3 + 1) + 2  # and one to size each output gradient
    assert seconds > 0


def test_rounds_repeat_until_the_time_is_spent_and_the_fastest_counts(tiny_mnist, one_thread):
    task, data = tiny_mnist
    calls = conv_calls(task, data, 8)
    with profile() as prof:
        seconds = conv_seconds(calls, 1, torch.device("cpu"), min_seconds=0.2)
    rounds = {e.key: e.count for e in prof.key_averages()}["aten::convolution_backward"] // 2 - 1
    assert rounds >= 2  # one step of two batch-8 convolutions takes far less than 0.2 s
    assert seconds < 0.2 / 2  # the fastest of them, not their sum


def test_only_the_gradients_a_step_needs_are_taken(monkeypatch, tiny_mnist):
    task, data = tiny_mnist
    asked = []
    real = torch.autograd.grad

    def recording(outputs, inputs, grad_outputs):
        asked.append([tuple(t.shape) for t in inputs])
        return real(outputs, inputs, grad_outputs)

    monkeypatch.setattr(torch.autograd, "grad", recording)
    conv_seconds(conv_calls(task, data, 8), 1, torch.device("cpu"), min_seconds=0.0)
    assert asked[:2] == [
        [(16, 1, 8, 8), (16,)],  # first convolution: weight and bias, not the data's gradient
        [(8, 16, 13, 13), (32, 16, 4, 4), (32,)],  # second: its input too
    ]
