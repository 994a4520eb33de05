"""DP-SGD: clipping against Opacus, sigma calibration, the noise, Poisson batch sizes, large-epsilon ~ ERM."""

import math
import warnings

import pytest
import torch
from opacus import GradSampleModule
from opacus.accountants.utils import get_noise_multiplier
from opacus.optimizers import DPOptimizer
from torch.func import vmap

from aca_bench.algorithms import registry
from aca_bench.algorithms.base import Setting
from aca_bench.algorithms.dpsgd import DPSGD, clipped_grad_sum, clipped_grad_sum_vmap, poisson_cap
from aca_bench.algorithms.dpsgd_reference import _OPACUS_CHATTER, train_opacus
from aca_bench.algorithms.erm import ERM
from aca_bench.benchmark import privacy
from aca_bench.benchmark.engine import draw_indices, evaluate, init_params, train_stack
from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.params import resolve
from aca_bench.benchmark.plan import expand, group_cells
from aca_bench.benchmark.rng import key_from
from aca_bench.benchmark.suite import load_suite
from aca_bench.tasks.base import TaskData
from aca_bench.tasks.mnist_patch import MnistPatch

NO_GROUPS = Setting(64, None, {}, "train")

pytestmark = pytest.mark.trains

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
    state = vmap(algo.init_state, in_dims=(0, None))(params, NO_GROUPS)
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


def test_a_model_stepped_in_turn_trains_bitwise_the_same_alone_as_in_any_stack(mnist):
    """On a CPU each model of an in-turn stack is cut to its own slots of the trimmed Poisson batch, so
    the stack's other models (and their batch sizes) do not change one float of its training."""
    task, data = mnist
    small = subset(data, 400, 64)
    algo, cpu = DPSGD(), torch.device("cpu")
    hp = dp_hp(target_epsilon=4, batch_size=40, epochs=2, lr=0.5)
    alone = train_stack(task, small, algo, [hp], [0.1], [2], cpu, vectorize=False)
    stacked = train_stack(
        task, small, algo, [hp] * 4, [0.0, 0.3, 0.1, 0.05], [0, 1, 2, 3], cpu, vectorize=False
    )
    for name, p in alone.params.items():
        assert torch.equal(stacked.params[name][2], p[0]), name
    assert stacked.extras[2] == alone.extras[0]


def test_large_epsilon_behaves_like_erm(mnist):
    """epsilon 1e4 (sigma 0.05) and C 5 train as well as ERM, give or take DP-SGD's slower start: on the
    4,000 embedded digits, 3 epochs at lr 0.02, each ERM model reaches 0.9 clean accuracy, each DP-SGD
    model 0.85, and their mean gap is under 0.1.

    Trained accuracies are chaotic in float rounding: another processor trains a seed like another
    seed, so the bounds sit beyond the spread over seeds, not near one run's values. Seeds 0-7 on an
    Intel Xeon gave ERM 0.944-0.965, DP-SGD 0.903-0.944, mean gap 0.04 (about 0.011 standard deviation
    for a mean of two seeds): each bound is 4.7 to 6 standard deviations away. The earlier setting
    (800 digits, lr 0.05) diverged on some seeds (ERM 0.49-0.87 over seeds 0-7), so whether its
    "within 0.04" held depended on which way rounding pushed seeds 0 and 1.

    (C also scales the noise, sigma * C / batch per coordinate: a huge C with a moderate sigma is not ERM.)
    """
    task, data = mnist
    common = {"lr": 0.02, "momentum": 0.9, "batch_size": 50, "epochs": 3}
    seeds, cpu = [0, 1], torch.device("cpu")
    erm = train_stack(task, data, ERM(), [resolve(ERM.hparams, common, "erm")] * 2, [0.0, 0.0], seeds, cpu)
    dp = train_stack(
        task,
        data,
        DPSGD(),
        [dp_hp(**common, target_epsilon=1e4, max_grad_norm=5)] * 2,
        [0.0, 0.0],
        seeds,
        cpu,
    )
    acc_erm = [m["clean_accuracy"] for m in evaluate(task, data, erm)]
    acc_dp = [m["clean_accuracy"] for m in evaluate(task, data, dp)]
    assert min(acc_erm) > 0.9 and min(acc_dp) > 0.85, (acc_erm, acc_dp)
    assert abs(sum(acc_dp) - sum(acc_erm)) / 2 < 0.1, (acc_dp, acc_erm)


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
    assert {c.hparams["target_epsilon"] for e in eps for c in expand(e)} == {math.inf, 8, 4, 2, 1, 0.5}
    assert {c.hparams["max_grad_norm"] for e in eps for c in expand(e)} == {1.0}
    assert all(len(e.seeds) >= 5 and 0.0 in e.alphas for e in eps)  # ranked rows: 5 seeds, S(0)
    # each budget's lr and epochs are dp_select's picks on the validation split
    select = [e for e in load_suite("dp_select").experiments if e.algorithm == "dpsgd"]
    assert all(e.task_params == {"eval_split": "val"} and e.alphas == (0.0,) for e in select)
    grid = {
        (c.hparams["target_epsilon"], c.hparams["lr"], c.hparams["epochs"]) for e in select for c in expand(e)
    }
    assert {
        (c.hparams["target_epsilon"], c.hparams["lr"], c.hparams["epochs"]) for e in eps for c in expand(e)
    } <= grid
    # alpha* against C: both protocols cover every C at both budgets with 5 seeds; the published one
    # keeps one lr per budget, the firm's tunes it, and both take their values from dp_clip_select
    clip_grid = {
        (c.hparams["target_epsilon"], c.hparams["max_grad_norm"], c.hparams["lr"])
        for e in load_suite("dp_clip_select").experiments
        for c in expand(e)
    }
    for name, lrs_per_budget in (("dp_clip_shared", {1}), ("dp_clip_tuned", {5})):
        clip = [c for e in load_suite(name).experiments for c in expand(e)]
        keys = {(c.hparams["target_epsilon"], c.hparams["max_grad_norm"], c.hparams["lr"]) for c in clip}
        assert keys <= clip_grid
        assert {(k[0], k[1]) for k in keys} == {(e, C) for e in (math.inf, 2) for C in (0.1, 0.5, 1, 5, 10)}
        assert {len({k[2] for k in keys if k[0] == e}) for e in (math.inf, 2)} == lrs_per_budget
        assert all(len(e.seeds) >= 5 and 0.0 in e.alphas for e in load_suite(name).experiments)
        assert len(group_cells(clip, 10_000)) == 1  # every C in one stack
    paper = {e.name: e for e in load_suite("paper").experiments}
    dp = [e for e in paper.values() if e.algorithm == "dpsgd"]
    assert len(dp) == 7 and all(e.task_params["source"] == "mnist" for e in dp)
    dp_cells = [c for e in dp for c in expand(e)]
    # lr * C = 2 (the pick at C = 1 on the embedded digits) except at epsilon 0.5, where lr 1 trained best
    lr_c = {
        (c.hparams["target_epsilon"] == 0.5, c.hparams["max_grad_norm"] * c.hparams["lr"]) for c in dp_cells
    }
    assert lr_c == {(False, 2.0), (True, 1.0)}
    assert len(group_cells(dp_cells, 10_000)) == 1


class UpdateCase:
    """One DP-SGD step of one model on one fixed batch (10 real examples, 2 empty slots), taken by the
    stacked engine's `DPSGD.update` and by Opacus's `DPOptimizer` from the same weights. C is the median
    per-example gradient norm, so about half the examples are clipped."""

    def __init__(self, task, data, noise_multiplier: float) -> None:
        self.task = task
        self.x = task.preprocess(data.x_train[:12])
        self.y = data.y_train[:12]
        self.mask = torch.tensor([1.0] * 5 + [0.0] + [1.0] * 5 + [0.0])
        model, params = init_params(task, [0], torch.device("cpu"))
        self.model, self.start = model, {name: p[0] for name, p in params.items()}
        net = self._net()
        real = self.mask.bool()
        torch.nn.functional.cross_entropy(net(self.x[real]), self.y[real]).backward()
        norms = torch.stack([p.grad_sample.flatten(1).pow(2).sum(1) for p in net.parameters()]).sum(0).sqrt()
        self.clip = float(norms.median())
        self.batch_size = 8  # expected batch size q * n: what both paths divide the noisy sum by
        self.lr, self.sigma = 0.5, noise_multiplier
        self.std = self.lr * self.sigma * self.clip / self.batch_size  # of each coordinate of the update
        values = {
            "lr": self.lr,
            "momentum": 0.0,
            "weight_decay": 0.0,
            "max_grad_norm": self.clip,
            "noise_std": self.sigma * self.clip,
            "expected_batch_size": float(self.batch_size),
        }
        self.values = {k: torch.tensor(v) for k, v in values.items()}
        self.state = DPSGD().init_state(self.start, NO_GROUPS)

    def _net(self) -> GradSampleModule:
        net = self.task.make_model()
        net.load_state_dict(self.start)
        return GradSampleModule(net)  # mean loss, as PrivacyEngine (and so dpsgd_reference) sets it up

    def flat(self, params) -> torch.Tensor:
        return torch.cat([(params[n] - self.start[n]).detach().flatten() for n in self.start]).double()

    def stacked_updates(self, draws: int, key: str):
        """Successive steps from the same weights: the step counter gives each a fresh noise draw."""
        batch = {"x": self.x, "y": self.y, "mask": self.mask, "key": torch.tensor(key_from(key))}
        for step in range(draws):
            new, _ = DPSGD().update(self.model, self.start, self.state, batch, self.values, step)
            yield self.flat(new)

    def opacus_updates(self, draws: int, seed: int):
        net = self._net()
        opt = DPOptimizer(
            torch.optim.SGD(net.parameters(), lr=self.lr),
            noise_multiplier=self.sigma,
            max_grad_norm=self.clip,
            expected_batch_size=self.batch_size,
            loss_reduction="mean",
        )
        real = self.mask.bool()
        with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
            for message in _OPACUS_CHATTER:  # once per step: slow under pytest's warning capture
                warnings.filterwarnings("ignore", message=message)
            torch.manual_seed(seed)
            for _ in range(draws):
                with torch.no_grad():
                    for name, p in net._module.named_parameters():
                        p.copy_(self.start[name])
                opt.zero_grad(set_to_none=True)
                torch.nn.functional.cross_entropy(net(self.x[real]), self.y[real]).backward()
                opt.step()
                yield self.flat(dict(net._module.named_parameters()))


def test_noiseless_update_equals_opacus(mnist):
    """Without noise one step of the stacked engine (clip, sum, divide by the expected batch size, SGD)
    moves every weight as Opacus's DPOptimizer does, up to float32 rounding."""
    case = UpdateCase(*mnist, noise_multiplier=0.0)
    stacked = next(case.stacked_updates(1, "noiseless"))
    opacus = next(case.opacus_updates(1, 0))
    assert stacked.abs().max() > 0
    torch.testing.assert_close(stacked, opacus, rtol=1e-4, atol=1e-5 * float(opacus.abs().max()))


NOISY_DRAWS = 600


@pytest.mark.slow
def test_noisy_update_has_opacus_mean_and_covariance(mnist):
    """One noisy step, drawn NOISY_DRAWS times through each path from the same weights and batch.

    Under both, update = noiseless update u0 + s z with s = lr * sigma * C / B and z ~ N(0, I_d), d the
    number of weights. Each check below is an exact test of that law (the statistics' distributions are
    normal or chi-square, no asymptotics, no CPU-specific numbers): per coordinate, each path's mean is
    N(u0_j, s^2/N) and the two paths' means differ by N(0, 2 s^2/N); per weight tensor, the pooled sample
    variance times (N-1) d_t / s^2 is chi-square with (N-1) d_t degrees of freedom; along a fixed unit
    direction w, the projection's sample variance times (N-1) / s^2 is chi-square with N-1 (isotropy: a
    noise correlated across coordinates inflates it, e.g. by d along the all-ones direction). Every one of
    the M elementary tests gets false-failure probability 1e-6 / M (Bonferroni), so the whole test fails
    by chance with probability below 1e-6, whatever the processor. u0 is the stacked noiseless update,
    equal to Opacus's by test_noiseless_update_equals_opacus.
    """
    from scipy import stats

    case = UpdateCase(*mnist, noise_multiplier=1.0)
    u0 = next(UpdateCase(*mnist, noise_multiplier=0.0).stacked_updates(1, "noiseless"))
    sizes = [case.start[n].numel() for n in case.start]
    d, n = sum(sizes), NOISY_DRAWS
    ones = [
        torch.zeros(d, dtype=torch.float64).index_fill_(0, torch.arange(a, a + k), 1.0 / math.sqrt(k))
        for a, k in zip(torch.tensor([0] + sizes[:-1]).cumsum(0).tolist(), sizes, strict=True)
    ]
    signs = torch.randint(0, 2, (d,), generator=torch.Generator().manual_seed(0)).double() * 2 - 1
    directions = torch.stack([*ones, torch.ones(d, dtype=torch.float64), signs])
    directions /= directions.norm(dim=1, keepdim=True)
    m_tests = 3 * d + 2 * 1 + 2 * (len(sizes) + len(directions))  # per coordinate, pooled, variances
    alpha = 1e-6 / m_tests
    z_max = stats.norm.isf(alpha / 2)

    def moments(draws) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        total, square = torch.zeros(d, dtype=torch.float64), torch.zeros(d, dtype=torch.float64)
        projected = []
        for delta in draws:
            e = delta - u0  # centred on the known mean: exact sums of squares, no cancellation
            total += e
            square += e * e
            projected.append(directions @ e)
        mean = total / n
        var = (square - n * mean * mean) / (n - 1)
        return mean, var, torch.stack(projected)

    means = {}
    for path, draws in (
        ("stacked", case.stacked_updates(n, "noisy")),
        ("opacus", case.opacus_updates(n, 1)),
    ):
        mean, var, proj = moments(draws)
        means[path] = mean
        z = mean / (case.std / math.sqrt(n))
        assert z.abs().max() < z_max, (path, "mean", float(z.abs().max()))
        assert z.pow(2).sum() < stats.chi2.isf(alpha, d), (path, "pooled mean")
        for (name, chunk), k in zip(zip(case.start, var.split(sizes), strict=True), sizes, strict=True):
            pooled = (n - 1) * chunk.sum() / case.std**2
            low, high = stats.chi2.ppf(alpha / 2, (n - 1) * k), stats.chi2.isf(alpha / 2, (n - 1) * k)
            assert low < pooled < high, (path, name, float(pooled / ((n - 1) * k)))
        spread = (n - 1) * proj.var(0) / case.std**2  # the projections' mean is 0: centred on u0
        low, high = stats.chi2.ppf(alpha / 2, n - 1), stats.chi2.isf(alpha / 2, n - 1)
        assert ((low < spread) & (spread < high)).all(), (path, "direction", (spread / (n - 1)).tolist())
    z = (means["stacked"] - means["opacus"]) / (case.std * math.sqrt(2.0 / n))
    assert z.abs().max() < z_max, ("stacked vs opacus", float(z.abs().max()))
