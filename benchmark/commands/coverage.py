"""`aca-bench coverage STORE`: how often each alpha* estimator's interval holds the true alpha*.

Fits `aca_bench.benchmark.coverage`'s generative model to each configuration of a store, simulates
experiments on the configuration's own alpha grid, and prints, per configuration, the true alpha* and
for each estimator its coverage, median interval width / alpha* and median point bias. `--json` keeps
what it printed, which the docs render (`view=coverage` in `aca_bench.benchmark.commands.doc_tables`).
"""

import json
import math
import time
from pathlib import Path

import click

from aca_bench.benchmark.aggregate import runs_frame
from aca_bench.benchmark.commands.options import target_option
from aca_bench.benchmark.coverage import Study, study
from aca_bench.benchmark.critical import (
    MIN_SEEDS_FOR_INTERVAL,
    TARGET,
    critical_mass,
    critical_mass_bootstrap,
)
from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.markdown import markdown_table
from aca_bench.benchmark.store import load_records

# name -> estimator, side by side: the t-band test inversion in use and the percentile bootstrap it replaced
ESTIMATORS = {"t-inversion": critical_mass, "bootstrap": critical_mass_bootstrap}
SIMS = 500
# the generative model's mean curve (benchmark/coverage.py); the first is the judge by default
MEANS = ("saturated", "logistic")


def summary(
    store: str, target: float, sims: int, seeds: int | None, seed: int = 0, mean: str = MEANS[0]
) -> dict:
    """The study of every configuration of the store at `store` under the `mean` model, as plain data:
    the settings, the seconds it took and one row per configuration (an infinite width or bias is None)."""
    start = time.perf_counter()
    records, problems = load_records(store)
    for p in problems:
        click.echo(f"warning: {p}", err=True)
    if not records:
        raise BenchError(f"no intact run records in '{store}'")
    results = study(runs_frame(records), ESTIMATORS, target, sims, seeds, seed, mean == "saturated")
    if not results:
        raise BenchError(f"'{store}' has no configuration with two positive alphas at every seed")
    return {
        "store": store,
        "target": target,
        "sims": sims,
        "seeds": seeds,
        "seed": seed,
        "mean": mean,
        "seconds": round(time.perf_counter() - start, 1),
        "rows": [_row(s) for s in results],
    }


def _finite(x: float) -> float | None:
    return None if math.isinf(x) else x


def _row(s: Study) -> dict:
    return {
        "task": s.task,
        "config": s.config,
        "seeds": s.seeds,
        "alphas": len(s.alphas),
        "true_alpha_star": _finite(s.truth),
        "fit_gap": s.fit_gap,
        "scores": {
            name: {
                "coverage": sc.coverage,
                "width": _finite(sc.width),
                "bias": _finite(sc.bias),
                "grid_bias": _finite(sc.grid_bias),
            }
            for name, sc in s.scores.items()
        },
    }


def table(data: dict) -> tuple[list[str], list[list[str]]]:
    """Headers and cells of the coverage table of `summary`'s data."""
    names = list(data["rows"][0]["scores"]) if data["rows"] else []
    heads = ["task", "configuration", "seeds", "alphas", "true alpha*", "fit gap"]
    for name in names:
        heads += [f"{name} coverage", f"{name} width/α*", f"{name} bias", f"{name} grid bias"]
    body = []
    for r in data["rows"]:
        truth = "inf" if r["true_alpha_star"] is None else f"{r['true_alpha_star']:.3g}"
        cells = [r["task"], r["config"], str(r["seeds"]), str(r["alphas"]), truth, f"{r['fit_gap']:.2f}"]
        for name in names:
            sc = r["scores"][name]
            width = "inf" if sc["width"] is None else f"{sc['width']:.2f}"
            bias, grid = ("inf" if b is None else f"{b:+.1%}" for b in (sc["bias"], sc["grid_bias"]))
            cells += [f"{sc['coverage']:.0%}", width, bias, grid]
        body.append(cells)
    return heads, body


def markdown(data: dict) -> str:
    """The coverage table in Markdown, with the command that made it and its settings."""
    command = f"aca-bench coverage {data['store']} --sims {data['sims']}"
    command += "" if data["target"] == TARGET else f" --target {data['target']:g}"
    command += "" if data["seeds"] is None else f" --seeds {data['seeds']}"
    command += "" if data["seed"] == 0 else f" --seed {data['seed']}"
    command += "" if data.get("mean", MEANS[0]) == MEANS[0] else f" --mean {data['mean']}"
    return (
        markdown_table(*table(data))
        + f"\n\n`{command}`: {data['sims']} simulated experiments per configuration at S >= "
        f"{data['target']:g}; {data['seconds']:.0f} s."
    )


@click.command()
@click.argument("store", type=click.Path(file_okay=False))
@target_option
@click.option(
    "--sims", default=SIMS, show_default=True, type=click.IntRange(1), help="Simulated experiments."
)
@click.option(
    "--seeds",
    type=click.IntRange(MIN_SEEDS_FOR_INTERVAL),
    default=None,
    help="Seeds per simulated experiment [default: the records'].",
)
@click.option("--seed", default=0, show_default=True, help="Seed of the simulation's random draws.")
@click.option(
    "--mean",
    type=click.Choice(MEANS),
    default=MEANS[0],
    show_default=True,
    help="The model's mean curve: a free mean logit at each alpha run, or a line in log alpha.",
)
@click.option(
    "--json", "json_path", type=click.Path(dir_okay=False), help="Also write the table's data here."
)
def command(store, target, sims, seeds, seed, mean, json_path) -> None:
    """Coverage, width and bias of alpha* estimators on experiments simulated from STORE's records."""
    data = summary(store, target, sims, seeds, seed, mean)
    heads, body = table(data)
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(heads)]
    for line in (heads, *body):
        click.echo("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
    click.echo(
        f"\n{sims} simulated experiments per configuration at S >= {target:g}; {data['seconds']:.0f} s"
    )
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(data, indent=1) + "\n")
