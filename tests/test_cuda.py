"""CUDA paths (marked `gpu`, deselected by default; tests/gpu/device_check.sh runs them on a GPU).

A model's randomness comes from its own counter-based keys, so the same cells give the same models on
the GPU as on the CPU, up to floating-point reduction order (TF32 convolutions are turned off here).
"""

import pytest
import torch

from aca_bench.algorithms.dpsgd import DPSGD
from aca_bench.algorithms.erm import ERM
from aca_bench.benchmark.engine import evaluate, train_stack
from aca_bench.benchmark.params import resolve

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


@pytest.fixture
def exact_cuda():
    before = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    yield torch.device("cuda")
    torch.backends.cudnn.allow_tf32 = before


@pytest.mark.parametrize(
    ("algo", "given"),
    [
        (ERM(), {"lr": 0.05, "batch_size": 32, "epochs": 1}),
        (DPSGD(), {"lr": 0.5, "batch_size": 32, "epochs": 1, "target_epsilon": 4, "max_grad_norm": 1.0}),
    ],
)
def test_cuda_stack_equals_cpu_stack(tiny_mnist, exact_cuda, algo, given):
    task, data = tiny_mnist
    hp = resolve(algo.hparams, given, algo.name)
    args = ([hp] * 3, [0.0, 0.05, 0.2], [0, 1, 2])
    cpu = train_stack(task, data, algo, *args, torch.device("cpu"))
    gpu = train_stack(task, data.to(exact_cuda), algo, *args, exact_cuda)
    for name, p in cpu.params.items():
        torch.testing.assert_close(gpu.params[name].cpu(), p, rtol=1e-3, atol=1e-4)
    cpu_m, gpu_m = evaluate(task, data, cpu), evaluate(task, data.to(exact_cuda), gpu)
    for a, b in zip(cpu_m, gpu_m, strict=True):
        assert a["clean_accuracy"] == pytest.approx(b["clean_accuracy"], abs=0.02)


def test_bf16_on_cuda_trains_as_well_as_fp32(tiny_mnist):
    task, data = tiny_mnist
    cuda = torch.device("cuda")
    data = data.to(cuda)
    hp = resolve(ERM.hparams, {"lr": 0.05, "batch_size": 32, "epochs": 4}, "erm")
    runs = {
        p: train_stack(task, data, ERM(), [dict(hp, precision=p)] * 2, [0.0, 0.0], [0, 1], cuda)
        for p in ("fp32", "bf16")
    }
    acc = {p: sum(m["clean_accuracy"] for m in evaluate(task, data, s)) / 2 for p, s in runs.items()}
    assert acc["fp32"] > 0.5 and abs(acc["bf16"] - acc["fp32"]) < 0.08, acc
