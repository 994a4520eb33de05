"""Stack widths: the memory fit, groups split by a width function, and training stopped after N steps."""

import pytest
import torch

from aca_bench.algorithms.erm import ERM
from aca_bench.benchmark.engine import init_params, train_stack
from aca_bench.benchmark.params import resolve
from aca_bench.benchmark.plan import Experiment, group_cells
from aca_bench.benchmark.sizing import fit
from aca_bench.benchmark.sweep import plan_cells

GIB = 2**30


def test_fit_takes_the_widest_stack_inside_the_headroom():
    # 0.6 * 10 GiB = 6 GiB; 1 GiB fixed leaves 5 GiB for 100 MiB models: 51 of them (51.2 -> 51)
    assert fit(GIB, 100 * 2**20, 10 * GIB) == 51
    assert fit(GIB, 100 * 2**20, 10 * GIB, headroom=0.9) == 81  # 8 GiB / 100 MiB = 81.9
    assert fit(0, 1, 10 * GIB, ceiling=300) == 300  # a tiny model stops at the ceiling
    assert fit(8 * GIB, GIB, 10 * GIB) == 1  # nothing fits: still one model (it may just fit)
    assert fit(GIB, 0.0, 10 * GIB, ceiling=7) == 7  # no measurable growth per model


def test_a_width_function_splits_each_group_by_its_own_width():
    erm = Experiment("e", "mnist_patch", "erm", (0.1,), tuple(range(5)), {}, {"epochs": 1})
    dp = Experiment("d", "mnist_patch", "dpsgd", (0.1,), tuple(range(3)), {}, {"epochs": 1})
    cells = plan_cells([erm, dp])  # 10 ERM cells, 6 DP-SGD cells, two groups
    seen = []

    def width(group):
        seen.append((group[0].algorithm, len(group)))
        return {"erm": 4, "dpsgd": 6}[group[0].algorithm]

    stacks = group_cells(cells, width)
    assert sorted(seen) == [("dpsgd", 6), ("erm", 10)]
    assert sorted((s[0].algorithm, len(s)) for s in stacks) == [
        ("dpsgd", 6),
        ("erm", 2),
        ("erm", 4),
        ("erm", 4),
    ]


def test_max_steps_stops_training(tiny_mnist):
    task, data = tiny_mnist
    hp = resolve(ERM.hparams, {"batch_size": 32, "epochs": 2}, "erm")
    cpu = torch.device("cpu")
    _, start = init_params(task, [0, 1], cpu)
    untouched = train_stack(task, data, ERM(), [hp] * 2, [0.0, 0.1], [0, 1], cpu, max_steps=0)
    one = train_stack(task, data, ERM(), [hp] * 2, [0.0, 0.1], [0, 1], cpu, max_steps=1)
    full = train_stack(task, data, ERM(), [hp] * 2, [0.0, 0.1], [0, 1], cpu)
    for name, p in start.items():
        assert torch.equal(untouched.params[name], p)
    moved = [(one.params[n] - start[n]).abs().max().item() for n in start]
    assert max(moved) > 0
    assert any(not torch.equal(one.params[n], full.params[n]) for n in start)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_probe_measures_memory_growing_with_the_stack():
    from aca_bench.benchmark.sizing import fitted_width, probe

    dp = Experiment("d", "mnist_patch", "dpsgd", (0.1,), tuple(range(40)), {}, {"epochs": 1})
    cells = plan_cells([dp])
    device = torch.device("cuda")
    fixed, per_model = probe(cells, device)
    assert per_model > 2**20 and fixed >= 0
    assert fitted_width(device, floor=64)(cells) > 64  # a small CNN: far more than 64 fit on a GPU


def test_fitted_width_probes_only_groups_wider_than_the_floor(monkeypatch):
    """The CUDA wiring without a GPU: the probe and the free memory are stand-ins."""
    from aca_bench.benchmark import sizing

    probed = []

    def fake_probe(group, device):
        probed.append(len(group))
        return 2 * GIB, 50 * 2**20  # 2 GiB fixed, 50 MiB per model

    monkeypatch.setattr(sizing, "probe", fake_probe)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (40 * GIB, 80 * GIB))
    width = sizing.fitted_width(torch.device("cuda"), floor=64)
    small = plan_cells([Experiment("s", "mnist_patch", "erm", (0.1,), tuple(range(30)), {}, {})])
    large = plan_cells([Experiment("l", "mnist_patch", "dpsgd", (0.1,), tuple(range(300)), {}, {})])
    opacus = plan_cells(
        [Experiment("o", "mnist_patch", "dpsgd", (0.1,), tuple(range(300)), {}, {"engine": "opacus"})]
    )
    assert width(small) == 64 and probed == []  # 60 cells: one stack as it is
    assert width(opacus) == 64 and probed == []  # trains one model at a time anyway
    assert width(large) == (0.6 * 40 * 1024 - 2 * 1024) // 50 == 450 and probed == [600]
    assert [len(s) for s in group_cells(large, width)] == [450, 150]
