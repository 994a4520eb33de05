"""The stacked training engine: K models (alphas, seeds, per-model hparams) trained at once with vmap
(convolutional models on a CPU step in turn instead: `vectorizes`).

Data stays on the device in its raw form; batches are drawn by index on the device from each model's
own counter-based generator; the collective's strategy is applied on the fly to member examples. An
algorithm's stages (`Algorithm.stages`) train one after another, each from the initial parameters.
"""

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
from torch import nn
from torch.func import stack_module_state, vmap

from aca_bench.algorithms.base import BATCH_KEYS, Algorithm, FunctionalModel, Sampling, Setting, Tensors
from aca_bench.benchmark.collective import collective_indices
from aca_bench.benchmark.rng import key_from, uniform
from aca_bench.tasks.base import Task, TaskData

EVAL_CHUNK = 2048
SLOT_MULTIPLE = 8  # trimmed Poisson batches have a multiple of this many slots: few distinct shapes
# the batch entries with a slot per example (`make_batch`): all but the per-model `key`
SLOTTED = tuple(k for k in BATCH_KEYS if k != "key")


@dataclass
class Stack:
    """A trained stack: stacked parameters [K, ...] and the functional model they belong to."""

    model: FunctionalModel
    params: Tensors
    extras: list[dict]  # what each model's `Prepared.record` says (e.g. DP noise and epsilon)
    poisson_overflows: list[int]
    state: Tensors | None = None  # each model's final algorithm state, stacked (the engine's trainer)


def init_params(
    task: Task, seeds: list[int], device: torch.device, precision: str = "fp32"
) -> tuple[FunctionalModel, Tensors]:
    """Per-seed initialised models, stacked; the initialisation depends on the seed only."""
    modules = []
    for seed in seeds:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(key_from("init", seed))
            modules.append(task.make_model())
    params, _ = stack_module_state(modules)
    base = copy.deepcopy(modules[0]).to("meta")
    return FunctionalModel(base, precision), {k: v.detach().to(device) for k, v in params.items()}


def member_mask(n: int, alphas: list[float], seeds: list[int], device: torch.device) -> torch.Tensor:
    """[K, n] bool: which training examples belong to each model's collective."""
    mask = torch.zeros(len(alphas), n, dtype=torch.bool)
    for k, (alpha, seed) in enumerate(zip(alphas, seeds, strict=True)):
        mask[k, collective_indices(n, alpha, seed)] = True
    return mask.to(device)


def draw_indices(
    sampling: Sampling,
    keys: torch.Tensor,
    n: int,
    epoch: int,
    step: int,
    perm: torch.Tensor | None,
    trim: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(indices [K, B], mask [K, B] float, overflow [K] bool) of one step.

    Poisson batches have B = the cap slots, or with `trim` only as many as the step's largest batch
    in the stack needs (rounded up to SLOT_MULTIPLE): the same examples, a quarter fewer empty slots
    at batch 250. Trimming reads the batch sizes back to the host, a synchronisation that is free on
    a CPU but would stall a GPU's queue, so the engine trims on CPUs only. Trimmed rows hold each
    model's examples first, so a model stepped on its own can be cut to its own slots (`own_slots`).
    """
    k = keys.shape[0]
    if sampling.kind in ("shuffle", "balanced"):
        b = sampling.batch_size
        idx = perm[:, step * b : (step + 1) * b]
        return idx, torch.ones(k, b, device=keys.device), torch.zeros(k, dtype=torch.bool, device=keys.device)
    u = vmap(uniform, in_dims=(0, None, None))(keys, (1 << 40) + epoch * (1 << 20) + step, n)
    sizes = (u < sampling.rate).sum(1)
    slots = sampling.batch_size
    if trim:
        slots = min(slots, _slots_for(int(sizes.max())))
    vals, idx = torch.topk(u, slots, dim=1, largest=False, sorted=trim)
    return idx, (vals < sampling.rate).float(), sizes > sampling.batch_size


def balanced_order(
    groups: torch.Tensor, n_groups: int, keys: torch.Tensor, epoch: int, n_draws: int
) -> torch.Tensor:
    """[K, n_draws] indices drawn with replacement, each example weighted 1 / (its group's size): every
    non-empty group is equally likely (Sagawa et al.'s group-balanced sampler). `groups` is [K, n]."""
    counts = torch.zeros(groups.shape[0], n_groups, dtype=torch.float64, device=groups.device)
    counts.scatter_add_(1, groups, torch.ones_like(groups, dtype=torch.float64))
    cdf = (1.0 / counts.gather(1, groups)).cumsum(1)
    u = vmap(uniform, in_dims=(0, None, None))(keys, (1 << 41) + epoch, n_draws).to(torch.float64)
    idx = torch.searchsorted(cdf, u * cdf[:, -1:], right=True)
    return idx.clamp_max(groups.shape[1] - 1)


def relabelled_groups(task: Task, data: TaskData, member: torch.Tensor) -> torch.Tensor:
    """[K, n] group id of every training example as each model sees it (members relabelled y*)."""
    y_seen = torch.where(member, torch.full_like(member, task.y_star, dtype=data.y_train.dtype), data.y_train)
    return task.group_ids(y_seen, data.attr_train.expand_as(y_seen))


def own_slots(batch: Tensors) -> Tensors:
    """One model's trimmed Poisson batch cut to the slots its own examples need (rounded up to
    SLOT_MULTIPLE; they come first, `draw_indices`), so its record does not depend on the batch sizes
    of the models it is stacked with."""
    n = _slots_for(int(batch["mask"].sum()))
    return {k: v[:n] if k in SLOTTED else v for k, v in batch.items()}


def _slots_for(examples: int) -> int:
    """Slots for a batch of `examples`: at least one, rounded up to SLOT_MULTIPLE."""
    return -(-max(examples, 1) // SLOT_MULTIPLE) * SLOT_MULTIPLE


def make_batch(
    task: Task,
    data: TaskData,
    member: torch.Tensor,
    idx: torch.Tensor,
    mask: torch.Tensor,
    algo_keys: torch.Tensor,
    with_groups: bool,
) -> Tensors:
    """Gather a [K, B] batch, plant the strategy on members, relabel them y*, preprocess."""
    x = data.x_train[idx]
    is_member = member.gather(1, idx)
    shape = is_member.shape + (1,) * (x.dim() - 2)
    x = torch.where(is_member.view(shape), task.strategy(x), x)
    y = torch.where(is_member, torch.full_like(idx, task.y_star), data.y_train[idx])
    batch = {"x": task.preprocess(x), "y": y, "mask": mask, "index": idx, "key": algo_keys}
    if with_groups:
        batch["group"] = task.group_ids(y, data.attr_train[idx])
    return batch


def train_stack(
    task: Task,
    data: TaskData,
    algo: Algorithm,
    hps: list[dict],
    alphas: list[float],
    seeds: list[int],
    device: torch.device,
    on_epoch: Callable[[float], None] | None = None,
    max_steps: int | None = None,
    vectorize: bool | None = None,
) -> Stack:
    """Train one model per (hparams, alpha, seed) triple together; returns the stacked parameters.

    The hparams of all models must agree except for `algo.per_model` keys. `max_steps` stops
    training early (to measure a stack's memory, `aca_bench.benchmark.sizing`).
    """
    n = data.x_train.shape[0]
    k = len(hps)
    sampling = algo.sampling(hps[0], n)
    prepared = [algo.prepare(hp, n, task.n_groups) for hp in hps]
    values = {
        name: torch.tensor([p.values[name] for p in prepared], device=device, dtype=torch.float32)
        for name in prepared[0].values
    }
    model, initial = init_params(task, seeds, device, hps[0].get("precision", "fp32"))
    member = member_mask(n, alphas, seeds, device)
    batch_keys = torch.tensor([key_from("batches", s) for s in seeds], device=device)
    algo_keys = torch.tensor(
        [key_from("update", s, a) for s, a in zip(seeds, alphas, strict=True)], device=device
    )
    with_groups = task.n_groups is not None and data.attr_train is not None
    if with_groups:  # each model's training groups after relabelling, and their sizes [K, G]
        train_groups = relabelled_groups(task, data, member)
        values["group_count"] = torch.stack(
            [(train_groups == g).sum(1) for g in range(task.n_groups)], dim=1
        ).float()
    elif sampling.kind == "balanced":
        raise ValueError(f"group-balanced sampling needs a task with groups; '{task.name}' has none")
    if vectorize is None:
        vectorize = vectorizes(device, model.module)
    trim = device.type == "cpu"
    step_fn = _stepper(algo, model, vectorize and algo.stackable, trim and sampling.kind == "poisson")
    overflows = torch.zeros(k, dtype=torch.int64, device=device)
    stages = algo.stages(hps[0])
    total_epochs = sum(st.epochs for st in stages)
    carried: Tensors = {}
    for number, stage in enumerate(stages):  # each stage a run of its own: batches and steps from 0
        params = initial
        setting = Setting(n, task.n_groups, hps[0], stage.name)
        state = vmap(algo.init_state, in_dims=(0, None))(params, setting) | carried
        global_step = 0
        for epoch in range(stage.epochs):
            perm = None
            if sampling.kind == "shuffle":
                perm = torch.argsort(vmap(uniform, in_dims=(0, None, None))(batch_keys, epoch, n), dim=1)
            elif sampling.kind == "balanced":
                perm = balanced_order(
                    train_groups,
                    task.n_groups,
                    batch_keys,
                    epoch,
                    sampling.steps_per_epoch * sampling.batch_size,
                )
            for step in range(sampling.steps_per_epoch):
                if global_step == max_steps:
                    break
                idx, mask, overflow = draw_indices(sampling, batch_keys, n, epoch, step, perm, trim)
                overflows += overflow
                batch = make_batch(task, data, member, idx, mask, algo_keys, with_groups)
                params, state = step_fn(params, state, batch, values, global_step)
                global_step += 1
            if on_epoch is not None:
                on_epoch(1.0 / total_epochs)
        if number < len(stages) - 1:
            outputs = train_outputs(task, data, model, params, member)
            end = partial(algo.end_stage, stage.name)
            carried = vmap(end, in_dims=(0, 0, 0))(outputs, state, values)
    extras = [p.record | algo.report(_slice(state, i)) for i, p in enumerate(prepared)]
    return Stack(model, params, extras, overflows.tolist(), state)


@torch.no_grad()
def train_outputs(
    task: Task, data: TaskData, model: FunctionalModel, params: Tensors, member: torch.Tensor
) -> Tensors:
    """Per model [K, n]: the `loss` and `correct` (1.0 or 0.0) of each training example as that model
    saw it in training (members planted and relabelled y*), in training-set order."""
    losses, correct = [], []
    for i in range(0, data.x_train.shape[0], EVAL_CHUNK):
        x, y, m = (
            data.x_train[i : i + EVAL_CHUNK],
            data.y_train[i : i + EVAL_CHUNK],
            member[:, i : i + EVAL_CHUNK],
        )
        seen = torch.where(m.view(m.shape + (1,) * (x.dim() - 1)), task.strategy(x)[None], x[None])
        labels = torch.where(m, torch.full_like(m, task.y_star, dtype=y.dtype), y[None])
        logits = stack_logits(model, params, task.preprocess(seen), per_model=True)
        losses.append(torch.nn.functional.cross_entropy(logits.transpose(1, 2), labels, reduction="none"))
        correct.append((logits.argmax(-1) == labels).float())
    return {"loss": torch.cat(losses, dim=1), "correct": torch.cat(correct, dim=1)}


def vectorizes(device: torch.device, module: nn.Module) -> bool:
    """Whether the engine vmaps the update over the stack, or steps the models in turn.

    vmap makes one grouped convolution of K models' convolutions, and on a CPU oneDNN runs that
    slower than K plain ones (2 cores, MNIST CNN, 16 models: DP-SGD 47 vmapped vs 72 in turn, ERM at
    batch 256 88 vs 200 model-epochs/min). Matrix products batch well (the WaterBirds heads train 4x
    faster vmapped), and on a GPU one wide kernel beats many small ones. So: in turn only for
    convolutional models on a CPU.
    """
    return device.type != "cpu" or not any(isinstance(m, nn.modules.conv._ConvNd) for m in module.modules())


def _stepper(algo: Algorithm, model: FunctionalModel, vectorize: bool, trimmed: bool) -> Callable:
    """The step of a whole stack: vmapped, or its models in turn, each given its own slots of a
    `trimmed` Poisson batch."""
    update = partial(algo.update, model)
    if vectorize:
        return vmap(update, in_dims=(0, 0, 0, 0, None))
    cut = own_slots if trimmed else lambda b: b

    def one_at_a_time(params, state, batch, values, step):
        outs = [
            update(
                _channels_last(_slice(params, i)),
                _slice(state, i),
                _channels_last(cut(_slice(batch, i))),
                _slice(values, i),
                step,
            )
            for i in range(batch["y"].shape[0])
        ]
        return tuple({name: torch.stack([o[j][name] for o in outs]) for name in outs[0][j]} for j in (0, 1))

    return one_at_a_time


def channels_last(t: torch.Tensor) -> torch.Tensor:
    """A 4-D tensor (images, convolution weights) copied to channels-last strides, even with one
    channel, where `.contiguous(memory_format=...)` keeps it as it is; other tensors as they are.
    Models stepped in turn get these: oneDNN then keeps every activation channels-last, where its
    convolutions and max-pooling run 1.5-4x faster than on channels-first tensors (2 cores, MNIST CNN)."""
    if t.dim() != 4:
        return t
    n, c, h, w = t.shape
    return t.new_empty(n, h, w, c).permute(0, 3, 1, 2).copy_(t)


def _channels_last(tensors: Tensors) -> Tensors:
    return {k: channels_last(v) for k, v in tensors.items()}


def _slice(tensors: Tensors, i: int) -> Tensors:
    return {k: v[i] for k, v in tensors.items()}


@torch.no_grad()
def predict(task: Task, model: FunctionalModel, params: Tensors, x_raw: torch.Tensor) -> torch.Tensor:
    """[K, N] predicted labels of every model in the stack, in chunks."""
    out = [
        stack_logits(model, params, task.preprocess(x_raw[i : i + EVAL_CHUNK])).argmax(-1)
        for i in range(0, x_raw.shape[0], EVAL_CHUNK)
    ]
    return torch.cat(out, dim=1)


def stack_logits(
    model: FunctionalModel, params: Tensors, x: torch.Tensor, per_model: bool = False
) -> torch.Tensor:
    """[K, N, classes] logits of every model of the stack on inputs `x` ([N, ...], or [K, N, ...] with
    `per_model`: each model its own), vmapped or model by model as `vectorizes` says."""
    width = next(iter(params.values())).shape[0]
    if vectorizes(x.device, model.module):
        return vmap(model.logits, in_dims=(0, 0 if per_model else None))(params, x)
    return torch.stack(
        [
            model.logits(_channels_last(_slice(params, j)), channels_last(x[j] if per_model else x))
            for j in range(width)
        ]
    )


def evaluate(
    task: Task, data: TaskData, stack: Stack, eval_members: torch.Tensor | None = None
) -> list[dict]:
    """Per model: success S, the y* rate on the same points without the signal, clean accuracy, and
    per-group / worst-group accuracy where groups exist. `eval_members` ([K, N] bool, or None): where
    the collective also holds part of the split scored (a validation split carved from the platform's
    data), its members there carry the signal and y*, and clean and group accuracies count them so."""
    y_star = task.y_star
    clean = predict(task, stack.model, stack.params, data.x_test)
    labels, seen = data.y_test.expand_as(clean), clean
    if eval_members is not None:
        labels = torch.where(eval_members, torch.full_like(labels, y_star), labels)
        seen = torch.where(
            eval_members, predict(task, stack.model, stack.params, task.strategy(data.x_test)), clean
        )
    correct = (seen == labels).float()
    targets = data.y_test != y_star
    planted = predict(task, stack.model, stack.params, task.strategy(data.x_test[targets]))
    success = (planted == y_star).float().mean(1)
    # The same test points without the signal: a model that answers y* regardless (a collapse) shows
    # here, so it is not mistaken for a collective's success.
    unplanted = (clean[:, targets] == y_star).float().mean(1)
    metrics = [
        {
            "success": float(s),
            "clean_y_star_rate": float(u),
            "clean_accuracy": float(a),
            "n_success_eval": int(targets.sum()),
        }
        for s, u, a in zip(success.tolist(), unplanted.tolist(), correct.mean(1).tolist(), strict=True)
    ]
    if task.n_groups is not None and data.attr_test is not None:
        groups = task.group_ids(labels, data.attr_test.expand_as(labels))  # [K, N]: members regrouped
        names = task.group_names()
        per_group = torch.stack(
            [(correct * (groups == g)).sum(1) / (groups == g).sum(1) for g in range(task.n_groups)], dim=1
        )
        for m, row in zip(metrics, per_group.tolist(), strict=True):
            m["group_accuracy"] = {names[g]: row[g] for g in range(task.n_groups) if not math.isnan(row[g])}
            m["worst_group_accuracy"] = min(m["group_accuracy"].values())
    return metrics
