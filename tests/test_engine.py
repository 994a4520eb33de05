"""The stacked engine: same parameters as training each model alone, as PyTorch's own SGD, and metrics."""

import pytest
import torch
from torch import nn
from torch.func import vmap

from aca_bench.algorithms.erm import ERM
from aca_bench.benchmark.engine import (
    Stack,
    draw_indices,
    evaluate,
    init_params,
    make_batch,
    member_mask,
    predict,
    train_stack,
    vectorizes,
)
from aca_bench.benchmark.rng import key_from, uniform
from aca_bench.tasks.base import TaskData

pytestmark = pytest.mark.trains

HP = {"lr": 0.05, "momentum": 0.9, "weight_decay": 1e-4, "batch_size": 32, "epochs": 2}


def _hps(*lrs):
    return [dict(HP, lr=lr) for lr in lrs]


@pytest.mark.parametrize("vectorize", [True, False], ids=["vmapped", "in-turn"])
def test_stack_equals_each_model_trained_alone(tiny_mnist, vectorize):
    task, data = tiny_mnist
    cpu = torch.device("cpu")
    hps, alphas, seeds = _hps(0.05, 0.02, 0.1), [0.0, 0.05, 0.2], [0, 1, 2]
    stacked = train_stack(task, data, ERM(), hps, alphas, seeds, cpu, vectorize=vectorize)
    for k in range(3):
        alone = train_stack(task, data, ERM(), [hps[k]], [alphas[k]], [seeds[k]], cpu)
        for name, p in stacked.params.items():
            torch.testing.assert_close(p[k], alone.params[name][0], rtol=1e-4, atol=1e-5)
    # and the three models really differ
    w = stacked.params["0.weight"]
    assert not torch.allclose(w[0], w[1]) and not torch.allclose(w[1], w[2])


def test_stack_equals_pytorch_sgd_on_the_same_batches(tiny_mnist):
    """One model through the engine == nn.Module + torch.optim.SGD fed the engine's batches."""
    task, data = tiny_mnist
    cpu = torch.device("cpu")
    alpha, seed, n = 0.1, 4, data.x_train.shape[0]
    stack = train_stack(task, data, ERM(), [HP], [alpha], [seed], cpu)

    torch.manual_seed(key_from("init", seed))
    model = task.make_model()
    opt = torch.optim.SGD(
        model.parameters(), lr=HP["lr"], momentum=HP["momentum"], weight_decay=HP["weight_decay"]
    )
    member = member_mask(n, [alpha], [seed], cpu)
    keys = torch.tensor([key_from("batches", seed)])
    sampling = ERM().sampling(HP, n)
    for epoch in range(HP["epochs"]):
        perm = torch.argsort(uniform(keys[0], epoch, n)).unsqueeze(0)
        for step in range(sampling.steps_per_epoch):
            idx, mask, _ = draw_indices(sampling, keys, n, epoch, step, perm)
            batch = make_batch(task, data, member, idx, mask, keys, with_groups=False)
            opt.zero_grad()
            nn.functional.cross_entropy(model(batch["x"][0]), batch["y"][0]).backward()
            opt.step()
    for name, p in model.named_parameters():
        torch.testing.assert_close(stack.params[name][0], p.detach(), rtol=1e-4, atol=1e-5)


def test_batches_plant_the_patch_on_members_only(tiny_mnist):
    task, data = tiny_mnist
    n = data.x_train.shape[0]
    member = member_mask(n, [0.5], [0], torch.device("cpu"))
    idx = torch.arange(n).unsqueeze(0)
    batch = make_batch(task, data, member, idx, torch.ones(1, n), torch.zeros(1, dtype=torch.int64), False)
    corner = batch["x"][0, :, 0, 25:, 25:].flatten(1)
    white = (255 / 255.0 - 0.1307) / 0.3081
    is_member = member[0]
    assert torch.allclose(corner[is_member], torch.full_like(corner[is_member], white))
    assert (batch["y"][0][is_member] == task.y_star).all()
    assert torch.equal(batch["y"][0][~is_member], data.y_train[~is_member])
    assert int(is_member.sum()) == 128


class _PatchDetector(nn.Module):
    """Predicts y* when the bottom-right pixel is white, else class 0."""

    def __init__(self, y_star):
        super().__init__()
        self.flat = nn.Flatten()
        self.lin = nn.Linear(784, 10)
        with torch.no_grad():
            self.lin.weight.zero_()
            self.lin.bias.zero_()
            self.lin.bias[0] = 1.0
            self.lin.weight[y_star, 27 * 28 + 27] = 10.0

    def forward(self, x):
        return self.lin(self.flat(x))


def test_success_and_accuracy_of_a_hand_made_model():
    from aca_bench.tasks.mnist_patch import MnistPatch

    task = MnistPatch()
    x = torch.zeros(6, 1, 28, 28, dtype=torch.uint8)
    y = torch.tensor([0, 0, 3, 8, 8, 5])
    x[5, 0, 27, 27] = 255  # already carries the signal pixel: predicted y* even when clean
    data = TaskData(x, y, x, y)
    task.make_model = lambda: _PatchDetector(task.y_star)
    from aca_bench.algorithms.base import FunctionalModel

    model, params = init_params(task, [0], torch.device("cpu"))
    (m,) = evaluate(task, data, Stack(FunctionalModel(model.module), params, [{}], [0]))
    # Success is measured on the 4 test points whose label is not y*=8; all flip to 8.
    assert m["success"] == 1.0 and m["n_success_eval"] == 4
    # Without the patch only the image that already had a white corner pixel is called 8: 1 of 4.
    assert m["clean_y_star_rate"] == 0.25
    # Clean predictions: 0,0,0,0,0,8 -> correct for the two zeros only.
    assert m["clean_accuracy"] == pytest.approx(2 / 6)


class _OneAtATimeERM(ERM):
    stackable = False


def test_unstackable_algorithm_runs_one_model_at_a_time_with_the_same_result(tiny_mnist):
    task, data = tiny_mnist
    cpu = torch.device("cpu")
    args = (_hps(0.05, 0.02), [0.0, 0.1], [0, 1], cpu)
    looped = train_stack(task, data, _OneAtATimeERM(), *args)
    stacked = train_stack(task, data, ERM(), *args)
    for name, p in stacked.params.items():
        torch.testing.assert_close(looped.params[name], p, rtol=1e-4, atol=1e-5)


def test_bf16_precision_steps_like_fp32_but_not_identically(tiny_mnist):
    # Compare what training does to the weights, not end accuracies: on 256 digits two models' test
    # accuracy moves by 0.1-0.2 with the processor's rounding, while the direction of the first steps
    # agrees across precisions up to bfloat16's ~3 significant digits on any CPU.
    task, data = tiny_mnist
    cpu = torch.device("cpu")
    hp = dict(HP, epochs=1)
    start = train_stack(task, data, ERM(), [hp] * 2, [0.0, 0.0], [0, 1], cpu, max_steps=0)
    fp32 = train_stack(task, data, ERM(), [hp] * 2, [0.0, 0.0], [0, 1], cpu, max_steps=4)
    bf16 = train_stack(
        task, data, ERM(), [dict(hp, precision="bf16")] * 2, [0.0, 0.0], [0, 1], cpu, max_steps=4
    )
    assert bf16.model.autocast_dtype is torch.bfloat16
    assert all(p.dtype == torch.float32 for p in bf16.params.values())
    for name, p0 in start.params.items():
        d32 = (fp32.params[name] - p0).flatten(1)
        d16 = (bf16.params[name] - p0).flatten(1)
        assert (d32.norm(dim=1) > 0).all() and not torch.equal(d32, d16)
        cosine = torch.nn.functional.cosine_similarity(d32, d16, dim=1)
        assert (cosine > 0.95).all(), (name, cosine)


def test_cpus_vmap_matrix_models_and_step_convolutional_ones_in_turn(tiny_mnist):
    task, data = tiny_mnist
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert not vectorizes(cpu, task.make_model()) and vectorizes(cuda, task.make_model())
    assert vectorizes(cpu, nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)))
    stack = train_stack(task, data, ERM(), _hps(0.05, 0.1), [0.0, 0.1], [0, 1], cpu)
    in_turn = predict(task, stack.model, stack.params, data.x_test)
    with torch.no_grad():
        vmapped = vmap(stack.model.logits, in_dims=(0, None))(stack.params, task.preprocess(data.x_test))
    assert in_turn.shape == (2, data.x_test.shape[0])
    agree = (in_turn == vmapped.argmax(-1)).float().mean(1)
    assert (agree > 0.995).all(), agree  # the same models; a near-tie may flip in another kernel
    assert (in_turn[0] != in_turn[1]).any()  # and two different ones


def test_models_stepped_in_turn_see_channels_last_images_and_weights_even_with_one_channel():
    from aca_bench.benchmark.engine import _channels_last

    x, w, b = torch.randn(5, 1, 28, 28), torch.randn(16, 3, 8, 8), torch.randn(16)
    out = _channels_last({"x": x, "w": w, "b": b})
    assert out["x"].stride() == (784, 1, 28, 1) and out["w"].stride(1) == 1 and out["b"] is b
    assert torch.equal(out["x"], x) and torch.equal(out["w"], w)


def test_a_collective_in_the_scored_split_counts_with_its_signal_and_label():
    """The hand-made patch detector again, scored with examples 0 and 2 as the collective's members of
    the split (val_collective): planted and labelled y*, the detector gets them right."""
    from aca_bench.algorithms.base import FunctionalModel
    from aca_bench.tasks.mnist_patch import MnistPatch

    task = MnistPatch()
    x = torch.zeros(6, 1, 28, 28, dtype=torch.uint8)
    y = torch.tensor([0, 0, 3, 8, 8, 5])
    data = TaskData(x, y, x, y)
    task.make_model = lambda: _PatchDetector(task.y_star)
    model, params = init_params(task, [0, 1], torch.device("cpu"))
    stack = Stack(FunctionalModel(model.module), params, [{}, {}], [0, 0])
    members = torch.tensor([[True, False, True, False, False, False], [False] * 6])
    with_members, clean = evaluate(task, data, stack, members)
    # Clean predictions are all 0: right for the two zeros. With members 0 and 2 (planted, y*): member 0
    # (a zero, now labelled 8) is called 8, right; member 2 (a 3, now 8) too; zero 1 stays right.
    assert clean["clean_accuracy"] == pytest.approx(2 / 6)
    assert with_members["clean_accuracy"] == pytest.approx(3 / 6)
    assert with_members["success"] == clean["success"]  # S is about the held-out points, as before
