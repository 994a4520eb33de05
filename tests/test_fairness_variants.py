"""A held-out variant of the fairness finding on grouped_digits: with the stripes agreeing with the label
in 90% of training digits, Group DRO still needs a smaller collective than ERM. (With the other target
label, y* = 0, members land in the 100-digit low-striped group instead of the 30-digit high-plain one,
and this check failed on two runs: the finding is not claimed there; docs/results-fairness.md.)
Stated as curves: over a grid of alphas spanning both critical masses of the default task (Group DRO
about 0.009, ERM about 0.037 in a one-seed pilot), no seed's Group DRO success is clearly below ERM's
(its mean over the grid at most TOLERANCE under ERM's), and it is higher on average over seeds.

Why not more: at these alphas a seed either crosses or does not, so a seed's gap is nearly all or
nothing, and rounding on another processor draws the seeds' paths anew. Seeds 0-7 on an Intel Xeon
gave grid-mean gaps (Group DRO - ERM) of 0.008 to 0.344 per seed (mean 0.13, standard deviation 0.14;
no alpha below -0.036), so an earlier bound, "above ERM by 0.1 on average over 2 seeds", failed for
10 of the 28 pairs of those seeds: its verdict depended on the processor. The bounds here held for
every seed and pair measured. They catch Group DRO falling clearly below ERM, or matching it exactly;
telling a gap of 0.13 from none at this spread would take about two dozen seeds."""

import pytest
import torch

from aca_bench.algorithms import registry
from aca_bench.benchmark.budget import task_budget
from aca_bench.benchmark.engine import evaluate, train_stack
from aca_bench.benchmark.params import resolve
from aca_bench.tasks.grouped_digits import GroupedDigits

pytestmark = [pytest.mark.slow, pytest.mark.trains]

ALPHAS = [0.01, 0.02, 0.04]
SEEDS = [0, 1]
TOLERANCE = 0.05  # how far below ERM a seed's Group DRO may fall, over the grid (noise where both saturate)


def success(task: GroupedDigits, algo_name: str) -> torch.Tensor:
    """S [seed, alpha] over SEEDS and ALPHAS, trained with the task's default budget."""
    entry = registry.get(algo_name)
    hp = resolve(entry.cls.hparams, task_budget(type(task), algo_name), algo_name)
    data = task.data()
    alphas = [a for a in ALPHAS for _ in SEEDS]
    seeds = SEEDS * len(ALPHAS)
    stack = train_stack(task, data, entry.create(), [hp] * len(alphas), alphas, seeds, torch.device("cpu"))
    return torch.tensor([m["success"] for m in evaluate(task, data, stack)]).view(len(ALPHAS), len(SEEDS)).T


def test_group_dro_needs_a_smaller_collective_than_erm_at_90_percent_agreement():
    task = GroupedDigits(agreement=0.9)
    dro, erm = success(task, "groupdro"), success(task, "erm")
    per_seed = (dro - erm).mean(1)
    assert (per_seed > -TOLERANCE).all() and per_seed.mean() > 0, (ALPHAS, dro.tolist(), erm.tolist())
