"""A held-out variant of the fairness finding on grouped_digits: with the stripes agreeing with the label
in 90% of training digits, Group DRO still needs a smaller collective than ERM. (With the other target
label, y* = 0, members land in the 100-digit low-striped group instead of the 30-digit high-plain one,
and this check failed on two runs: the finding is not claimed there; docs/results-fairness.md.)
Stated as curves: over a grid of alphas spanning both critical masses of the
default task (Group DRO about 0.009, ERM about 0.037 in a one-seed pilot), Group DRO's mean success is
never clearly below ERM's and is higher on average over the grid."""

import pytest
import torch

from aca_bench.algorithms import registry
from aca_bench.benchmark.engine import evaluate, train_stack
from aca_bench.benchmark.params import resolve
from aca_bench.benchmark.plan import task_budget
from aca_bench.tasks.grouped_digits import GroupedDigits

pytestmark = [pytest.mark.slow, pytest.mark.trains]

ALPHAS = [0.01, 0.02, 0.04]
SEEDS = [0, 1]
MARGIN = 0.1  # mean over the grid of S(Group DRO) - S(ERM)
TOLERANCE = 0.05  # how far below ERM Group DRO may fall at one alpha (seed noise where both saturate)


def mean_success(task: GroupedDigits, algo_name: str) -> list[float]:
    """Mean S over SEEDS at each of ALPHAS, trained with the task's default budget."""
    entry = registry.get(algo_name)
    hp = resolve(entry.cls.hparams, task_budget(type(task), algo_name), algo_name)
    data = task.data()
    alphas = [a for a in ALPHAS for _ in SEEDS]
    seeds = SEEDS * len(ALPHAS)
    stack = train_stack(task, data, entry.create(), [hp] * len(alphas), alphas, seeds, torch.device("cpu"))
    s = torch.tensor([m["success"] for m in evaluate(task, data, stack)]).view(len(ALPHAS), len(SEEDS))
    return s.mean(1).tolist()


def test_group_dro_needs_a_smaller_collective_than_erm_at_90_percent_agreement():
    task = GroupedDigits(agreement=0.9)
    dro = mean_success(task, "groupdro")
    erm = mean_success(task, "erm")
    gaps = [d - e for d, e in zip(dro, erm, strict=True)]
    assert min(gaps) > -TOLERANCE and sum(gaps) / len(gaps) > MARGIN, (ALPHAS, dro, erm)
