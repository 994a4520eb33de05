"""The convolution kernels' time alone: a ceiling on any engine that steps its models in turn.

Stepped in turn, every model-step of plain gradient training runs at least its convolutions forward
and backward. Timing those kernels by themselves, on the shapes one training step of the task's
model gives them, bounds how many model-epochs per minute an in-turn engine could reach however
little else it did. Against the naive loop's figure that is the largest speed-up such an engine can
show on the device. DP-SGD's step takes other kernels for its per-example gradients, so this bounds
plain steps (ERM) only.
"""

import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from aca_bench.algorithms.base import PRECISIONS
from aca_bench.benchmark.engine import channels_last
from aca_bench.benchmark.environment import synchronize
from aca_bench.tasks.base import Task, TaskData


@dataclass(frozen=True)
class ConvCall:
    """One convolution of a training step: its input's shape, its layer, and whether the step
    needs the gradient with respect to its input (not for the layer that reads the data)."""

    input_shape: tuple[int, ...]
    layer: nn.Conv2d
    input_grad: bool


def conv_calls(task: Task, data: TaskData, batch_size: int) -> list[ConvCall]:
    """The Conv2d calls of one forward pass of the task's model on a training batch, in order."""
    model = task.make_model()
    calls: list[ConvCall] = []

    def record(layer: nn.Module, args: tuple) -> None:
        calls.append(ConvCall(tuple(args[0].shape), layer, args[0].requires_grad))

    hooks = [m.register_forward_pre_hook(record) for m in model.modules() if isinstance(m, nn.Conv2d)]
    x = task.preprocess(data.x_train[:batch_size])
    model(x)
    for h in hooks:
        h.remove()
    return calls


def conv_seconds(
    calls: list[ConvCall], steps: int, device: torch.device, precision: str = "fp32", min_seconds: float = 1.0
) -> float:
    """Seconds that `steps` steps of these convolutions take, forward and backward, kernels only, on
    channels-last tensors as the engine feeds models it steps in turn (`engine.channels_last`). The
    steps are run again until `min_seconds` have passed, and the fastest round counts: a ceiling is
    what the kernels can do, not what a busy machine let them do once."""
    dtype = PRECISIONS[precision] or torch.float32
    work = []
    for c in calls:
        conv = c.layer
        x = channels_last(torch.rand(c.input_shape, device=device, dtype=dtype)).requires_grad_(c.input_grad)
        weight = channels_last(conv.weight.detach().to(device, dtype)).requires_grad_()
        bias = None if conv.bias is None else conv.bias.detach().to(device, dtype).requires_grad_()
        out = F.conv2d(x, weight, bias, conv.stride, conv.padding, conv.dilation, conv.groups)
        wanted = [t for t in (x, weight, bias) if t is not None and t.requires_grad]
        work.append((conv, (x, weight, bias), wanted, torch.ones_like(out)))

    def step() -> None:
        for conv, args, wanted, grad_out in work:
            out = F.conv2d(*args, conv.stride, conv.padding, conv.dilation, conv.groups)
            torch.autograd.grad(out, wanted, grad_out)

    step()  # kernel selection outside the measurement
    best, spent = float("inf"), 0.0
    while spent < min_seconds or best == float("inf"):
        synchronize(device)
        start = time.perf_counter()
        for _ in range(steps):
            step()
        synchronize(device)
        took = time.perf_counter() - start
        best, spent = min(best, took), spent + took
    return best
