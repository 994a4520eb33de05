"""ERM: minibatch SGD with momentum on the average loss."""

from torch.func import grad

from aca_bench.algorithms.base import (
    SGD_HPARAMS,
    Algorithm,
    FunctionalModel,
    NaiveLoop,
    Tensors,
    masked_mean,
    sgd_momentum,
)


class ERM(Algorithm):
    """Empirical risk minimisation with SGD + momentum; learning rate etc. may differ per model."""

    name = "erm"
    hparams = dict(SGD_HPARAMS)
    per_model = ("lr", "momentum", "weight_decay")
    plain_backward = True

    def naive_loop(self) -> NaiveLoop:
        """DataLoader batches, an nn.Module and torch.optim.SGD."""
        from aca_bench.benchmark.perf import throughput

        return NaiveLoop("naive loop", throughput.naive_sgd)

    def update(
        self,
        model: FunctionalModel,
        params: Tensors,
        state: Tensors,
        batch: Tensors,
        values: Tensors,
        step: int,
    ) -> tuple[Tensors, Tensors]:
        def objective(p: Tensors):
            return masked_mean(model.losses(p, batch["x"], batch["y"]), batch["mask"])

        return sgd_momentum(params, grad(objective)(params), state, values)
