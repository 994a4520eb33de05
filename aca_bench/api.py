"""Everything an algorithm plugin needs, in one import: `from aca_bench.api import Algorithm, Param, ...`.

- `Algorithm`: the contract (subclass it; write `update` for one model; the engine vectorizes it), with
  `FunctionalModel` (the model `update` calls), `Tensors`, `BATCH_KEYS` (what a batch holds), `Setting`
  (what `init_state` is told: n_train, groups, hyperparameters, stage), `Stage` (what `stages`
  returns), `Sampling` and `Prepared` (what `sampling` and `prepare` return), `Trainer` (the signature
  of a trainer returned from `trainer`) and `NaiveLoop` (the loop `naive_loop` hands `aca-bench perf`).
- `Param`: a declared hyperparameter (default, type, range, choices).
- The SGD helpers: `SGD_HPARAMS` (lr, momentum, weight decay, batch size, epochs, precision),
  `sgd_momentum` (torch.optim.SGD's step for one model) and `masked_mean` (a loss over a padded batch).
- `rng`: counter-based random numbers keyed by the batch's `key`, the only randomness `update` may use.
- `BenchError`: a one-line error for the user.
"""

from aca_bench.algorithms.base import (
    BATCH_KEYS,
    SGD_HPARAMS,
    Algorithm,
    FunctionalModel,
    NaiveLoop,
    Prepared,
    Sampling,
    Setting,
    Stage,
    Tensors,
    Trainer,
    masked_mean,
    sgd_momentum,
)
from aca_bench.benchmark import rng
from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.params import Param

__all__ = [
    "BATCH_KEYS",
    "SGD_HPARAMS",
    "Algorithm",
    "BenchError",
    "FunctionalModel",
    "NaiveLoop",
    "Param",
    "Prepared",
    "Sampling",
    "Setting",
    "Stage",
    "Tensors",
    "Trainer",
    "masked_mean",
    "rng",
    "sgd_momentum",
]
