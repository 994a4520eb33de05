"""DP-SGD: clipping against Opacus, sigma calibration, the noise, Poisson batch sizes, large-epsilon ~ ERM."""

import math
import warnings

import pytest
import torch
from opacus import GradSampleModule
from opacus.accountants.utils import get_noise_multiplier
from opacus.optimizers import DPOptimizer
from torch.func import vmap

from algorithms import registry
from algorithms.dpsgd import DPSGD, clipped_grad_sum, clipped_grad_sum_vmap, poisson_cap
from algorithms.dpsgd_reference import train_opacus
from algorithms.erm import ERM
from benchmark import privacy
from benchmark.engine import draw_indices, evaluate, init_params, train_stack
from benchmark.errors import BenchError
from benchmark.params import resolve
from benchmark.plan import expand, group_cells
from benchmark.rng import key_from
from benchmark.suite import load_suite
from tasks.base import TaskData
from tasks.mnist_patch import MnistPatch

warnings.filterwarnings("ignore", message="Optimal order is the largest alpha")


def dp_hp(**given):
    return resolve(DPSGD.hparams, given, "dpsgd")


@pytest.fixture(scope="module")
def mnist():
    task = MnistPatch()
    return task, task.load()


def subset(data: TaskData, n_train: int, n_test: int) -> TaskData:
    gen = torch.Generator().manual_seed(1)
    tr = torch.randperm(data.x_train.shape[0], generator=gen)[:n_train]
    te = torch.randperm(data.x_test.shape[0], generator=gen)[:n_test]
    return TaskData(data.x_train[tr], data.y_train[tr], data.x_test[te], data.y_test[te])


@pytest.mark.parametrize("path", [clipped_grad_sum, clipped_grad_sum_vmap], ids=["per_example", "vmap"])
def test_clipped_sum_equals_opacus_grad_sample_module(mnist, path):
    """No noise: the stacked engine's clipped sum (vmap over models, masked slots) equals Opacus's, per
    model, through both ways of getting per-example gradients."""
    task, data = mnist
    x = task.preprocess(data.x_train[:12])
    y = data.y_train[:12]
    mask = torch.tensor([1.0] * 5 + [0.0] + [1.0] * 4 + [0.0] * 2)
    model, params = init_params(task, [0, 1], torch.device("cpu"))
    clips = torch.tensor([0.5, 1e3])  # model 0 clips most examples, model 1 none
    stacked, clipped = vmap(path, in_dims=(None, 0, None, None, None, 0))(model, params, x, y, mask, clips)
    real = mask.bool()
    for k in range(2):
        net = task.make_model()
        net.load_state_dict({name: p[k] for name, p in params.items()})
        gsm = GradSampleModule(net, loss_reduction="sum")
        opt = DPOptimizer(
            torch.optim.SGD(net.parameters(), lr=0.0),
            noise_multiplier=0.0,
            max_grad_norm=float(clips[k]),
            expected_batch_size=int(real.sum()),
            loss_reduction="sum",
        )
        torch.nn.functional.cross_entropy(gsm(x[real]), y[real], reduction="sum").backward()
        norms = torch.stack([p.grad_sample.flatten(1).pow(2).sum(1) for p in net.parameters()]).sum(0).sqrt()
        assert clipped[k] == (norms > clips[k]).sum()  # counted over real slots only
        opt.clip_and_accumulate()
        for name, p in net.named_parameters():
            torch.testing.assert_close(stacked[name][k], p.summed_grad, rtol=1e-4, atol=1e-6)
    assert clipped[0] > 0 and clipped[1] == 0


@pytest.mark.parametrize(
    ("eps", "delta", "q", "steps", "accountant"),
    [
        (8.0, 1e-5, 256 / 60000, 2340, "rdp"),
        (1.0, 1e-4, 250 / 4000, 160, "rdp"),
        (0.5, 1e-4, 0.1, 50, "rdp"),
        (2.0, 1e-4, 250 / 4000, 16, "prv"),
    ],
)
def test_calibrated_sigma_equals_opacus(eps, delta, q, steps, accountant):
    sigma = privacy.calibrate(eps, delta, q, steps, accountant)
    assert sigma == get_noise_multiplier(
        target_epsilon=eps, target_delta=delta, sample_rate=q, steps=steps, accountant=accountant
    )
    spent = privacy.epsilon_spent(sigma, delta, q, steps, accountant)
    assert eps - 0.05 <= spent <= eps + 1e-9


def test_prepare_records_the_privacy_spend():
    hp = dp_hp(target_epsilon=2, batch_size=250, epochs=10, max_grad_norm=0.5)
    rec = DPSGD().prepare(hp, 4000, None)
    sigma = get_noise_multiplier(target_epsilon=2.0, target_delta=1e-4, sample_rate=250 / 4000, steps=160)
    assert rec.record["noise_multiplier"] == sigma
    assert rec.record | {"epsilon_spent": 0} == rec.record | {
        "accountant": "rdp",
        "delta": 1e-4,
        "sample_rate": 0.0625,
        "steps": 160,
        "target_epsilon": 2.0,
        "max_grad_norm": 0.5,
        "epsilon_spent": 0,
    }
    assert 1.95 <= rec.record["epsilon_spent"] <= 2.0
    assert rec.values["noise_std"] == pytest.approx(sigma * 0.5)
    inf = DPSGD().prepare(dp_hp(target_epsilon=".inf"), 4000, None).record
    assert inf["noise_multiplier"] == 0.0 and math.isinf(inf["epsilon_spent"])
    direct = DPSGD().prepare(dp_hp(noise_multiplier=1.1, batch_size=250, epochs=10), 4000, None).record
    assert direct["noise_multiplier"] == 1.1 and direct["target_epsilon"] is None
    assert privacy.default_delta(60000) == 1e-5 and privacy.default_delta(10000) == 1e-5


@pytest.mark.parametrize("text", [".inf", "inf", "Infinity", "+inf", math.inf])
def test_infinite_epsilon_is_accepted(text):
    assert dp_hp(target_epsilon=text)["target_epsilon"] == math.inf


@pytest.mark.parametrize("bad", [0, -1, "nan", "lots"])
def test_bad_epsilon_is_refused(bad):
    with pytest.raises(BenchError, match="target_epsilon"):
        dp_hp(target_epsilon=bad)


def test_noise_has_the_formula_std(mnist):
    """An update on an empty batch moves the weights by lr * sigma * C / (q n) * N(0, 1), per model."""
    task, _ = mnist
    algo = DPSGD()
    model, params = init_params(task, [0, 1], torch.device("cpu"))
    hps = [
        dp_hp(noise_multiplier=1.3, max_grad_norm=0.7, batch_size=100, lr=1.0),
        dp_hp(noise_multiplier=0.4, max_grad_norm=3.0, batch_size=100, lr=1.0),
    ]
    prepared = [algo.prepare(hp, 4000, None) for hp in hps]
    values = {k: torch.tensor([p.values[k] for p in prepared]) for k in prepared[0].values}
    state = vmap(algo.init_state, in_dims=(0, None))(params, None)
    batch = {
        "x": torch.zeros(2, 8, 1, 28, 28),
        "y": torch.zeros(2, 8, dtype=torch.int64),
        "mask": torch.zeros(2, 8),
        "key": torch.tensor([key_from("t", 0), key_from("t", 1)]),
    }
    step = vmap(lambda p, s, b, v: algo.update(model, p, s, b, v, 7))
    new, _ = step(params, state, batch, values)
    for k, hp in enumerate(hps):
        moved = torch.cat([(params[n][k] - new[n][k]).flatten() for n in params])
        expected = hp["noise_multiplier"] * hp["max_grad_norm"] / 100
        assert moved.numel() > 20000
        assert moved.std().item() == pytest.approx(expected, rel=0.03)
        assert abs(moved.mean().item()) < 0.03 * expected


def test_poisson_batch_sizes_are_binomial():
    n, hp = 4000, dp_hp(batch_size=250, epochs=10)
    sampling = DPSGD().sampling(hp, n)
    q = sampling.rate
    assert q == 250 / n and sampling.steps_per_epoch == 16
    assert sampling.batch_size >= 250 + 5 * math.sqrt(n * q * (1 - q))
    keys = torch.tensor([key_from("batches", s) for s in range(8)])
    sizes, picked = [], torch.zeros(n)
    for step in range(300):
        idx, mask, overflow = draw_indices(sampling, keys, n, 0, step, None)
        assert not overflow.any()
        trimmed, trimmed_mask, _ = draw_indices(sampling, keys, n, 0, step, None, trim=True)
        assert trimmed.shape[1] % 8 == 0 and trimmed.shape[1] - 8 < mask.sum(1).max() <= trimmed.shape[1]
        for k in range(8):  # the same examples, fewer empty slots
            assert torch.equal(idx[k][mask[k].bool()].sort()[0], trimmed[k][trimmed_mask[k].bool()].sort()[0])
        sizes.append(mask.sum(1))
        picked.index_add_(0, idx[mask.bool()], torch.ones(int(mask.sum())))
    sizes = torch.cat(sizes).double()
    assert sizes.mean().item() == pytest.approx(n * q, abs=5 * math.sqrt(n * q * (1 - q) / sizes.numel()))
    assert sizes.var().item() == pytest.approx(n * q * (1 - q), rel=0.12)
    freq = picked / (300 * 8)  # each example's inclusion rate is q
    assert freq.mean().item() == pytest.approx(q, rel=0.01)
    assert poisson_cap(60000, 256 / 60000, 2340) < 400


@pytest.mark.parametrize("vectorize", [True, False], ids=["vmapped", "in-turn"])
def test_models_with_different_epsilon_and_clip_share_one_stack(mnist, vectorize):
    """A model trains the same in a mixed stack as alone (its batches and noise come from its own key),
    whether the stack is vmapped (as on a GPU) or steps its models in turn (a CNN on a CPU)."""
    task, data = mnist
    small = subset(data, 96, 32)
    algo = DPSGD()
    hps = [
        dp_hp(target_epsilon=2, max_grad_norm=0.5, batch_size=24, epochs=1, lr=0.5),
        dp_hp(target_epsilon=".inf", max_grad_norm=4.0, batch_size=24, epochs=1, lr=0.2),
    ]
    cpu = torch.device("cpu")
    together = train_stack(task, small, algo, hps, [0.05, 0.1], [0, 1], cpu, vectorize=vectorize)
    alone = train_stack(task, small, algo, hps[:1], [0.05], [0], cpu)
    for name, p in alone.params.items():
        torch.testing.assert_close(together.params[name][0], p[0], rtol=1e-4, atol=1e-5)
        assert not torch.allclose(together.params[name][1], p[0])
    assert together.extras[0]["noise_multiplier"] > 0 and together.extras[1]["noise_multiplier"] == 0
    assert together.extras[0]["clipped_fraction"] == alone.extras[0]["clipped_fraction"]
    assert together.extras[0]["clipped_fraction"] > together.extras[1]["clipped_fraction"]  # C 0.5 vs 4


def test_large_epsilon_behaves_like_erm(mnist):
    """epsilon 1e4 (sigma 0.05) and C 5: clean accuracy within a few points of ERM on the same seeds.

    (C also scales the noise, sigma * C / batch per coordinate: a huge C with a moderate sigma is not ERM.)
    """
    task, data = mnist
    small = subset(data, 800, 1000)
    common = {"lr": 0.05, "momentum": 0.9, "batch_size": 50, "epochs": 3}
    seeds, cpu = [0, 1], torch.device("cpu")
    erm = train_stack(task, small, ERM(), [resolve(ERM.hparams, common, "erm")] * 2, [0.0, 0.0], seeds, cpu)
    dp = train_stack(
        task,
        small,
        DPSGD(),
        [dp_hp(**common, target_epsilon=1e4, max_grad_norm=5)] * 2,
        [0.0, 0.0],
        seeds,
        cpu,
    )
    acc_erm = sum(m["clean_accuracy"] for m in evaluate(task, small, erm)) / 2
    acc_dp = sum(m["clean_accuracy"] for m in evaluate(task, small, dp)) / 2
    assert acc_erm > 0.75
    assert abs(acc_dp - acc_erm) < 0.04, (acc_dp, acc_erm)


def test_reference_path_trains_through_opacus(mnist):
    task, data = mnist
    small = subset(data, 256, 64)  # 64 divides 256: Opacus's rate equals the stacked engine's
    hps = [
        dp_hp(target_epsilon=4, batch_size=64, epochs=1, lr=0.5, engine="opacus"),
        dp_hp(target_epsilon=".inf", batch_size=64, epochs=1, lr=0.5, engine="opacus"),
    ]
    algo = DPSGD()
    assert algo.trainer(hps[0]) is train_opacus and algo.trainer(dp_hp()) is None
    with pytest.raises(BenchError, match="fp32 only"):
        algo.trainer(dp_hp(engine="opacus", precision="bf16"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stack = algo.trainer(hps[0])(task, small, algo, hps, [0.1, 0.0], [0, 1], torch.device("cpu"))
    assert not [w for w in caught if "Secure RNG" in str(w.message) or "backward hook" in str(w.message)]
    stacked = algo.prepare(hps[0], 256, None).record
    ref = stack.extras[0]
    assert ref["engine"] == "opacus" and ref["expected_batch_size"] == 64
    for key in ("noise_multiplier", "sample_rate", "steps", "epsilon_spent", "delta"):
        assert ref[key] == stacked[key], key
    assert ref["opacus_epsilon"] == pytest.approx(ref["epsilon_spent"], rel=1e-6)
    assert ref["opacus_steps"] == 4
    assert stack.extras[1]["noise_multiplier"] == 0.0
    init = init_params(task, [0, 1], torch.device("cpu"))[1]
    assert all(not torch.equal(stack.params[n], init[n]) for n in init)
    assert len(evaluate(task, small, stack)) == 2


def test_registry_entry_and_suites():
    entry = registry.get("dpsgd")
    assert entry.cls is DPSGD and entry.cls.stackable
    eps = load_suite("dp_epsilon").experiments
    clip = load_suite("dp_clip").experiments
    assert {c.hparams["target_epsilon"] for e in eps for c in expand(e)} == {math.inf, 8, 4, 2, 1, 0.5}
    assert {c.hparams["max_grad_norm"] for e in clip for c in expand(e)} == {0.1, 0.5, 1, 5, 10}
    for suite in (eps, clip):
        cells = [c for e in suite for c in expand(e)]
        assert len(group_cells(cells, 10_000)) == 1  # every epsilon and C in one stack
    paper = {e.name: e for e in load_suite("paper").experiments}
    dp = [e for e in paper.values() if e.algorithm == "dpsgd"]
    assert len(dp) == 7 and all(e.task_params["source"] == "mnist" for e in dp)
    dp_cells = [c for e in dp for c in expand(e)]
    # lr * C = 2 (the dp_regime pick) except at epsilon 0.5, where lr 1 trained best
    lr_c = {
        (c.hparams["target_epsilon"] == 0.5, c.hparams["max_grad_norm"] * c.hparams["lr"]) for c in dp_cells
    }
    assert lr_c == {(False, 2.0), (True, 1.0)}
    assert len(group_cells(dp_cells, 10_000)) == 1


@pytest.mark.slow
def test_reference_and_stacked_agree_in_distribution(mnist):
    """Same cells through both paths: clean accuracy and success within a few points on average."""
    task, data = mnist
    small = subset(data, 2000, 1000)
    seeds = [0, 1, 2]
    common = {"target_epsilon": 4, "batch_size": 200, "epochs": 4, "lr": 1.0}
    algo, cpu = DPSGD(), torch.device("cpu")
    stacked = train_stack(task, small, algo, [dp_hp(**common)] * 3, [0.05] * 3, seeds, cpu)
    ref = train_opacus(task, small, algo, [dp_hp(**common, engine="opacus")] * 3, [0.05] * 3, seeds, cpu)
    a, b = evaluate(task, small, stacked), evaluate(task, small, ref)
    for metric in ("clean_accuracy", "success"):
        mean_a = sum(m[metric] for m in a) / 3
        mean_b = sum(m[metric] for m in b) / 3
        assert abs(mean_a - mean_b) < 0.06, (metric, mean_a, mean_b)
