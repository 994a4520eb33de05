"""Plots of the site as deterministic SVG: S(alpha) curves per task and the alpha* trade-off plots.

Figures are built with `matplotlib.figure.Figure` (no pyplot state). SVG output is byte-stable for
the same data: a fixed `svg.hashsalt`, no creation date, glyphs drawn as paths.
"""

import io
import math
from dataclasses import dataclass

import matplotlib as mpl
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

_RC = {
    "svg.hashsalt": "aca-bench-leaderboard",
    "svg.fonttype": "path",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def _label(text: str) -> str:
    """A legend/axis label shown literally: no mathtext ($), not hidden by a leading underscore."""
    text = str(text).replace("$", r"\$")
    return " " + text if text.startswith("_") else text


def _plain_ticks(axis) -> None:
    """Tick labels as plain numbers (0.001, not 10^-3): readable, and no mathtext to lay out."""
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _colors(n: int) -> list:
    cmap = mpl.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def _svg(fig: Figure) -> bytes:
    buf = io.BytesIO()
    with mpl.rc_context(_RC):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


def curves_svg(task: str, curves: pd.DataFrame, critical: pd.DataFrame, target: float) -> bytes:
    """S(alpha) of every configuration of one task: mean over seeds, a +-1 sd band, the target line.

    The alpha axis is logarithmic above the smallest positive alpha and linear below it (symlog), so
    the alpha = 0 baseline sits at the left edge. A triangle on the target line marks each alpha*.
    """
    with mpl.rc_context(_RC):
        fig = Figure(
            figsize=(7.5, 4.2 + 0.18 * (len(curves["config"].unique()) + 1) / 2), layout="constrained"
        )
        ax = fig.subplots()
        positive = curves.loc[curves["alpha"] > 0, "alpha"]
        smallest = float(positive.min()) if len(positive) else 1e-3
        ax.set_xscale("symlog", linthresh=smallest, linscale=0.4)
        configs = sorted(curves["config"].unique())
        for color, config in zip(_colors(len(configs)), configs, strict=True):
            df = curves[curves["config"] == config].sort_values("alpha")
            mean, sd = df["success_mean"], df["success_std"]
            ax.fill_between(
                df["alpha"],
                (mean - sd).clip(0, 1),
                (mean + sd).clip(0, 1),
                color=color,
                alpha=0.18,
                linewidth=0,
            )
            ax.plot(df["alpha"], mean, marker="o", markersize=3.5, color=color, label=_label(config))
            row = critical[critical["config"] == config]
            if len(row) and row["status"].iloc[0] in ("reached", "at_most"):
                ax.plot(
                    [row["alpha_star"].iloc[0]],
                    [target],
                    marker="v",
                    markersize=8,
                    color=color,
                    linestyle="none",
                )
        ax.axhline(target, color="0.3", linestyle="--", linewidth=1, label=_label(f"target S = {target:g}"))
        ax.set_ylim(-0.02, 1.02)
        grid = sorted(curves["alpha"].unique())
        ax.set_xticks(grid)
        _plain_ticks(ax.xaxis)
        if len(grid) > 7:
            ax.tick_params(axis="x", labelrotation=45)
        ax.set_xlabel(
            "collective fraction alpha (ticks at the alphas run; log scale, linear below the "
            "smallest alpha > 0)"
        )
        ax.set_ylabel("success S(alpha)")
        ax.set_title(_label(f"{task}: S(alpha), mean over seeds, band = +-1 sd"))
        fig.legend(loc="outside lower center", ncols=2, fontsize=8, frameon=False)
        return _svg(fig)


@dataclass(frozen=True)
class TradeoffPoint:
    """One configuration in a trade-off plot: x (epsilon or C), alpha* and its interval, its series."""

    series: str
    x: float
    alpha_star: float | None
    status: str
    low: float | None
    high: float | None


def tradeoff_svg(
    task: str, points: list[TradeoffPoint], xlabel: str, largest_alpha: float, log_x: bool = True
) -> bytes:
    """alpha* against a hyperparameter (epsilon, clipping C), one line per series, bootstrap bars.

    A configuration that never reached the target is drawn as an open triangle at the largest alpha
    tested (alpha* lies above it); an `at_most` alpha* is drawn as a downward triangle (an upper bound).
    """
    with mpl.rc_context(_RC):
        fig = Figure(figsize=(6.5, 4.0 + 0.18 * len(points) / 2), layout="constrained")
        ax = fig.subplots()
        names = sorted({p.series for p in points})
        for color, name in zip(_colors(len(names)), names, strict=True):
            mine = sorted((p for p in points if p.series == name), key=lambda p: p.x)
            reached = [p for p in mine if p.alpha_star is not None]
            xs = [p.x for p in reached]
            ys = [p.alpha_star for p in reached]
            lower = [y - (p.low if p.low is not None else y) for p, y in zip(reached, ys, strict=True)]
            upper = [(p.high if p.high is not None else y) - y for p, y in zip(reached, ys, strict=True)]
            if reached:
                ax.errorbar(
                    xs,
                    ys,
                    yerr=[lower, upper],
                    color=color,
                    marker="o",
                    markersize=4,
                    capsize=3,
                    label=_label(name),
                )
            for p in mine:
                if p.status == "at_most":
                    ax.plot([p.x], [p.alpha_star], marker="v", markersize=8, color=color, linestyle="none")
            missing = [p for p in mine if p.alpha_star is None]
            if missing:
                ax.plot(
                    [p.x for p in missing],
                    [largest_alpha] * len(missing),
                    marker="^",
                    markersize=8,
                    linestyle="none",
                    markerfacecolor="none",
                    color=color,
                    label=_label(f"{name}: not reached (alpha* > {largest_alpha:g})"),
                )
        ax.set_yscale("log")
        if log_x and all(p.x > 0 for p in points):
            ax.set_xscale("log")
        ax.set_xticks(sorted({p.x for p in points}))
        _plain_ticks(ax.yaxis)
        _plain_ticks(ax.xaxis)
        ax.set_xlabel(_label(xlabel))
        ax.set_ylabel("alpha* (log scale)")
        ax.set_title(_label(f"{task}: alpha* against {xlabel}"))
        fig.legend(loc="outside lower center", ncols=2, fontsize=8, frameon=False)
        return _svg(fig)


def finite(x) -> float | None:
    """x as a float, or None when it is missing or NaN."""
    if x is None:
        return None
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x
