"""The grouped-digits task on the embedded MNIST digits: group sizes in WaterBirds' proportions, the
stripes' agreement with the label, a balanced test set, pixels that are the source digits (plus stripes),
and the collective's members landing in group (y*, their attribute)."""

import numpy as np
import pytest
import torch

from aca_bench.benchmark.engine import make_batch, member_mask, relabelled_groups
from aca_bench.benchmark.errors import BenchError
from aca_bench.tasks import grouped_digits, mnist_patch
from aca_bench.tasks.grouped_digits import (
    FIRST_HIGH_DIGIT,
    GROUP_NAMES,
    REFERENCE_SIZES,
    GroupedDigits,
    group_sizes,
    stripes,
)
from aca_bench.tasks.registry import get_task

pytestmark = pytest.mark.usefixtures("one_thread")


def source_digits() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    return mnist_patch._load("embedded", "")


def test_registered_with_four_groups():
    assert get_task("grouped_digits") is GroupedDigits
    task = GroupedDigits()
    assert task.n_classes == 2 and task.n_groups == 4 and task.group_names() == list(GROUP_NAMES)
    assert task.y_star == 1


def test_training_groups_have_waterbirds_proportions():
    _, digits, _, _ = source_digits()
    y = digits >= FIRST_HIGH_DIGIT
    per_class = (int((~y).sum()), int(y.sum()))
    totals = (REFERENCE_SIZES[0] + REFERENCE_SIZES[1], REFERENCE_SIZES[2] + REFERENCE_SIZES[3])
    scale = min(a / t for a, t in zip(per_class, totals, strict=True))
    data = GroupedDigits().load()
    sizes = torch.bincount(2 * data.y_train + data.attr_train, minlength=4).tolist()
    for got, ref in zip(sizes, REFERENCE_SIZES, strict=True):
        assert abs(got - ref * scale) <= 1.0, (sizes, scale)
    assert sum(sizes) == data.y_train.numel() == data.x_train.shape[0]
    # the larger class is used whole: the scale is as large as the digits allow
    assert max(sizes[0] + sizes[1], sizes[2] + sizes[3]) in per_class


@pytest.mark.parametrize("agreement", [0.95, 0.9])
def test_stripes_agree_with_the_label_at_the_requested_rate(agreement):
    data = GroupedDigits(agreement=agreement).load()
    n = data.y_train.numel()
    rate = float((data.y_train == data.attr_train).float().mean())
    assert abs(rate - agreement) <= 1.5 / n, rate
    # class totals do not depend on the agreement; only the minority groups grow
    sizes = torch.bincount(2 * data.y_train + data.attr_train, minlength=4)
    ref = torch.tensor(group_sizes((2000, 2000), 0.95))
    assert sizes[0] + sizes[1] == ref[0] + ref[1] and sizes[2] + sizes[3] == ref[2] + ref[3]


def test_test_set_is_balanced_and_complete():
    _, _, x_src, _ = source_digits()
    data = GroupedDigits().load()
    sizes = torch.bincount(2 * data.y_test + data.attr_test, minlength=4).tolist()
    assert sizes[0] == sizes[1] and sizes[2] == sizes[3] and sum(sizes) == x_src.shape[0]
    assert abs(float((data.y_test == data.attr_test).float().mean()) - 0.5) < 1e-9


def test_pixels_are_source_digits_with_stripes_on_attribute_one():
    task = GroupedDigits()
    data = task.load()
    pattern = stripes(task.p["stripe_value"], task.p["stripe_period"], task.p["stripe_width"])
    for x_src, d_src, x, y, attr in (
        (source_digits()[0], source_digits()[1], data.x_train, data.y_train, data.attr_train),
        (source_digits()[2], source_digits()[3], data.x_test, data.y_test, data.attr_test),
    ):
        plain = {x_src[i].numpy().tobytes(): int(d_src[i]) for i in range(x_src.shape[0])}
        striped = {
            torch.maximum(x_src[i], pattern).numpy().tobytes(): int(d_src[i]) for i in range(x_src.shape[0])
        }
        for i in range(x.shape[0]):
            table = striped if attr[i] else plain
            digit = table[x[i].numpy().tobytes()]  # KeyError: not a source digit (with stripes)
            assert int(y[i]) == int(digit >= FIRST_HIGH_DIGIT)
        # stripe rows of striped images are at least the stripe value; plain images are not all lit
        rows = pattern[0, :, 0] > 0
        assert bool((x[attr == 1][:, 0, rows, :] >= task.p["stripe_value"]).all())
        assert float((x[attr == 0][:, 0, rows, :] >= task.p["stripe_value"]).float().mean()) < 0.3


def test_loading_is_deterministic():
    a = GroupedDigits().load()
    grouped_digits._build.cache_clear()
    b = GroupedDigits().load()
    assert all(torch.equal(getattr(a, k), getattr(b, k)) for k in vars(a))


@pytest.mark.parametrize("y_star", [1, 0])
def test_relabelled_members_land_in_group_y_star_attribute(y_star):
    task = GroupedDigits(y_star=y_star)
    data = task.load()
    member = member_mask(data.y_train.numel(), [0.0, 0.1], [0, 0], torch.device("cpu"))
    groups = relabelled_groups(task, data, member)
    clean = 2 * data.y_train + data.attr_train
    assert torch.equal(groups[0], clean)
    m = member[1]
    assert torch.equal(groups[1][m], 2 * y_star + data.attr_train[m])
    assert torch.equal(groups[1][~m], clean[~m])
    # relabelled members (true label != y*) mostly carry the other class's attribute: they land in
    # the small group (y*, 1 - y*), at the rate the stripes agree with the label in their class
    moved = m & (data.y_train != y_star)
    small = 2 * y_star + (1 - y_star)
    share = float((groups[1][moved] == small).float().mean())
    in_class = data.y_train != y_star
    expected = float((data.attr_train[in_class] == data.y_train[in_class]).float().mean())
    assert abs(share - expected) < 0.1 and share > 0.8
    # inside a batch: members carry the patch and y*, and their group is (y*, attribute)
    idx = torch.arange(256).expand(2, 256)
    b = make_batch(task, data, member, idx, torch.ones(2, 256), torch.zeros(2, dtype=torch.int64), True)
    assert torch.equal(b["group"], groups[:, :256])
    mb = m[:256]
    assert torch.equal(b["y"][1][mb], torch.full((int(mb.sum()),), y_star))
    raw = task.strategy(data.x_train[:256])
    assert bool((raw[:, :, task.row : task.row + 3, task.col : task.col + 3] == 255).all())
    assert torch.equal(b["x"][1][mb], task.preprocess(raw[mb]))
    assert torch.equal(b["x"][1][~mb], task.preprocess(data.x_train[:256][~mb]))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"y_star": 2}, "y_star must be 0"),
        ({"agreement": 1.0}, "agreement must be in"),
        ({"stripe_width": 4}, "stripe_width"),
    ],
)
def test_bad_parameters_are_one_line_errors(params, match):
    with pytest.raises(BenchError, match=match) as err:
        GroupedDigits(**params)
    assert "\n" not in err.value.message


def test_group_sizes_equation():
    sizes = group_sizes((2000, 2000), 0.9)
    totals = np.array(REFERENCE_SIZES).reshape(2, 2).sum(1) * (
        2000 / (REFERENCE_SIZES[0] + REFERENCE_SIZES[1])
    )
    assert abs(sizes[0] + sizes[1] - totals[0]) <= 0.5 and abs(sizes[2] + sizes[3] - totals[1]) <= 0.5
    assert abs((sizes[0] + sizes[3]) / sum(sizes) - 0.9) <= 1.0 / sum(sizes)
