"""`aca-bench perf`: model-epochs per minute of the stacked engine vs the naive per-model loop.

With `--out DIR` the rows are also appended to DIR/records.jsonl as records
(`aca_bench.benchmark.perf.report`), from which `aca-bench docs render` makes the table
(`view=perf`).
"""

import click
import torch
from tqdm import tqdm

from aca_bench.algorithms import registry
from aca_bench.algorithms.base import PRECISIONS
from aca_bench.benchmark.budget import task_budget
from aca_bench.benchmark.commands.options import parse_list, registry_env_option
from aca_bench.benchmark.environment import device_name, resolve_device
from aca_bench.benchmark.perf import report
from aca_bench.benchmark.perf.throughput import measure, tiled
from aca_bench.benchmark.store import Store, load_records
from aca_bench.tasks.registry import get_task

_STEPPING = {"auto": None, "vmapped": True, "in-turn": False}


def _count(flag: str, default: int, help_text: str | None = None, least: int = 1):
    """An integer option of at least `least`, its default shown."""
    return click.option(
        flag, default=default, show_default=True, type=click.IntRange(min=least), help=help_text
    )


def _choice(flag: str, default: str, choices, help_text: str):
    """A choice among `choices` (their keys for a dict), its default shown."""
    return click.option(
        flag, default=default, show_default=True, type=click.Choice(list(choices)), help=help_text
    )


@click.command()
@click.option("--task", default="mnist_patch", show_default=True)
@_count("--n-train", 4000, "Training examples (the task's data tiled; 60000 for MNIST scale).", least=64)
@_count("--stack", 16, "Models in the stacked run.")
@_count("--naive-models", 2, "Models trained one at a time by the naive loop.")
@_count("--epochs", 1)
@_count("--batch-size", 64)
@click.option("--algorithms", default="erm,dpsgd", show_default=True, help="Which of erm, dpsgd to time.")
@_choice(
    "--precision",
    "fp32",
    PRECISIONS,
    "The stacked engine's precision (the naive loop stays fp32, as a researcher's loop would).",
)
@_choice(
    "--stepping",
    "auto",
    _STEPPING,
    "How the engine steps its stack: as sweeps do on the device (auto), vmapped, or in turn.",
)
@_count(
    "--repeats", 1, "Times the paths take turns; each row shows its median (for a noisy, shared machine)."
)
@click.option("--device", default="auto", show_default=True)
@click.option(
    "--out",
    default=None,
    type=click.Path(file_okay=False),
    help="Also append the rows to OUT/records.jsonl as records (with command, commit and machine).",
)
@registry_env_option
def command(
    task,
    n_train,
    stack,
    naive_models,
    epochs,
    batch_size,
    algorithms,
    precision,
    stepping,
    repeats,
    device,
    out,
) -> None:
    """Print throughput (model-epochs/min) of the stacked engine and the naive loop, and their ratio.

    The naive loop is a DataLoader + nn.Module + torch.optim.SGD for ERM, and Opacus's PrivacyEngine
    (hooks, Poisson sampling) for DP-SGD, one model at a time. When the engine steps its models in
    turn, a third row for ERM times one model's convolution kernels alone: the ceiling of that engine.
    """
    dev = resolve_device(device)
    store = Store(out) if out else None
    if store is not None:  # an unusable folder, or one holding run records, fails before any timing
        store.check()
        if store.path.exists():
            load_records(out, "perf")
    t = get_task(task)()
    data = tiled(t.data(), n_train)
    timed = [name for name, entry in registry.load().items() if entry.create().naive_loop() is not None]
    names = parse_list(algorithms, "--algorithms", what="algorithm names")
    for name in names:
        if name not in timed:
            raise click.BadParameter(
                f"perf times {', '.join(timed)}, not {name!r}", param_hint="--algorithms"
            )
    rows, step = [], _STEPPING[stepping]
    with tqdm(total=len(names) * repeats, desc="perf", unit="turn", dynamic_ncols=True) as bar:
        for name in names:
            spec = registry.get(name).cls.hparams
            hp = {k: p.default for k, p in spec.items()}
            hp.update(task_budget(type(t), name))
            hp.update(epochs=epochs, batch_size=batch_size)
            if "precision" in spec:
                hp["precision"] = precision
            rows += measure(name, t, data, hp, stack, naive_models, dev, step, repeats, bar.update)
    click.echo(
        f"device: {dev.type} ({device_name(dev)}), torch {torch.__version__}, "
        f"threads {torch.get_num_threads()}; task {task}, n_train {n_train}, batch {batch_size}, "
        f"stacked precision {precision}" + (f"; median of {repeats} turns" if repeats > 1 else "")
    )
    click.echo(
        f"{'algorithm':<10} {'path':<17} {'models':>6} {'epochs':>6} {'seconds':>8} {'model-epochs/min':>17}"
    )
    for r in rows:
        click.echo(
            f"{r.algorithm:<10} {r.path:<17} {r.models:>6} {r.epochs:>6} {r.seconds:>8.2f} "
            f"{r.model_epochs_per_min:>17.1f}"
        )
    for name in dict.fromkeys(r.algorithm for r in rows):
        naive, fast, *ceiling_row = [r for r in rows if r.algorithm == name]
        ratio = fast.model_epochs_per_min / naive.model_epochs_per_min
        click.echo(f"{name}: engine / naive = {ratio:.2f}x (same run, same device)")
        if ceiling_row:
            ceiling = ceiling_row[0].model_epochs_per_min / naive.model_epochs_per_min
            click.echo(
                f"{name}: conv kernels only / naive = {ceiling:.2f}x "
                "(the most an engine stepping in turn can reach)"
            )
    if store is not None:
        settings = {
            "task": task,
            "n_train": n_train,
            "stack": stack,
            "naive_models": naive_models,
            "epochs": epochs,
            "batch_size": batch_size,
            "precision": precision,
            "stepping": stepping,
            "repeats": repeats,
        }
        store.append(report.records(rows, settings, dev))
        click.echo(f"{len(rows)} records appended to {store.path}")
