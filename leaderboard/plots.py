"""Plots of the site as deterministic SVG: S(alpha) curves per task and alpha* trade-off plots.

Figures are built with `matplotlib.figure.Figure` (no pyplot state). SVG output is byte-stable for
the same data: a fixed `svg.hashsalt`, no creation date, glyphs drawn as paths. Figures are 6 inches
wide with 12 pt text, so scaled down to a 390 px phone their text stays about 9 px or more.
"""

import io
import math
import textwrap
from dataclasses import dataclass

import matplotlib as mpl
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator

_RC = {
    "svg.hashsalt": "aca-bench-leaderboard",
    "svg.fonttype": "path",
    "font.family": "DejaVu Sans",
    "font.size": 12,
    "legend.fontsize": 10.5,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
WIDTH = 6.0
UNMEASURED = "0.45"  # colour of the proxies that explain markers in legends
WRAP = 44  # characters per line of a title or axis label at 12 pt in a 6 inch figure


def _label(text: str, wrap: int = 0) -> str:
    """A label shown literally: no mathtext ($), not hidden by a leading underscore; wrapped at `wrap`
    characters (titles and axis labels must fit the figure, whose text does not shrink)."""
    text = str(text).replace("$", r"\$")
    if wrap:
        text = textwrap.fill(text, wrap, break_long_words=True)
    return " " + text if text.startswith("_") else text


def _colors(n: int) -> list:
    cmap = mpl.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def nice_ticks(lo: float, hi: float) -> list[float]:
    """1-2-5 ticks per decade covering [lo, hi] (lo > 0), at least two of them."""
    ticks: list[float] = []
    for k in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1):
        ticks += [float(f"{m}e{k}") for m in (1, 2, 5)]
    inside = [t for t in ticks if lo <= t <= hi]
    if len(inside) >= 2:
        return inside
    below = [t for t in ticks if t < lo][-1:]
    above = [t for t in ticks if t > hi][:1]
    return below + inside + above


def _set_ticks(axis, ticks: list[float]) -> None:
    """Labelled ticks exactly at `ticks` (plain numbers, no minor labels)."""
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())


def _ncols(labels: list[str]) -> int:
    """Legend columns that fit the figure width: one when labels are long."""
    longest = max((len(line) for s in labels for line in s.split("\n")), default=0)
    return min(1 if longest > 30 else (2 if longest > 18 else 3), max(len(labels), 1))


def _legend(fig: Figure, handles: list, labels: list[str], ncols: int | None = None) -> None:
    """A legend under the axes that fits the figure width (`ncols`, or as many columns as the labels
    allow), the figure made as tall as the axes and the legend's rows need."""
    ncols = ncols or _ncols(labels)
    fig.set_size_inches(WIDTH, _height(labels, ncols))
    fig.legend(handles, labels, loc="outside lower center", ncols=ncols, frameon=False)


def _svg(fig: Figure) -> bytes:
    buf = io.BytesIO()
    with mpl.rc_context(_RC):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


def _height(labels: list[str], ncols: int) -> float:
    """Figure height: the axes and their labels, plus the legend's rows of (wrapped) labels below."""
    rows = [labels[i : i + ncols] for i in range(0, len(labels), ncols)]
    lines = sum(max(label.count("\n") + 1 for label in row) for row in rows)
    return 4.2 + 0.2 * lines + 0.06 * len(rows)


MAX_CURVES = 8  # configurations per S(alpha) figure: with more their colours cannot be told apart


def curve_panels(configs: list[str]) -> list[tuple[str, list[str]]]:
    """Configurations split into S(alpha) figures of at most MAX_CURVES each, with a name for each
    figure ("" when one holds them all): per algorithm (the name before its hyperparameters), an
    algorithm with more in consecutive parts of equal size."""
    configs = sorted(configs)
    if len(configs) <= MAX_CURVES:
        return [("", configs)]
    by_algorithm: dict[str, list[str]] = {}
    for config in configs:
        by_algorithm.setdefault(config.split("(")[0], []).append(config)
    panels = []
    for algorithm, group in by_algorithm.items():
        parts = math.ceil(len(group) / MAX_CURVES)
        size = math.ceil(len(group) / parts)
        for i in range(parts):
            name = algorithm if parts == 1 else f"{algorithm}, {i + 1} of {parts}"
            panels.append((name, group[i * size : (i + 1) * size]))
    return panels


def curves_svg(
    task: str, curves: pd.DataFrame, critical: pd.DataFrame, target: float, panel: str = ""
) -> bytes:
    """S(alpha) of the configurations in `curves` (one task; `panel` names the part of its
    configurations they are, see `curve_panels`): markers at the alphas run (mean over seeds), dashed
    lines between them (interpolated), a +-1 sd band, the target line, and a triangle at each alpha*.

    The alpha axis is logarithmic above the smallest positive alpha and linear below it (symlog), so
    alpha = 0 sits at the left edge. Curves flagged non-monotone say so in the legend.
    """
    configs = sorted(curves["config"].unique())
    crit = critical.set_index("config")
    with mpl.rc_context(_RC):
        fig = Figure(layout="constrained")
        ax = fig.subplots()
        positive = curves.loc[curves["alpha"] > 0, "alpha"]
        smallest = float(positive.min()) if len(positive) else 1e-3
        ax.set_xscale("symlog", linthresh=smallest, linscale=0.4)
        handles, labels = [], []
        for color, config in zip(_colors(len(configs)), configs, strict=True):
            df = curves[curves["config"] == config].sort_values("alpha")
            mean, sd = df["success_mean"], df["success_std"]
            ax.fill_between(
                df["alpha"], (mean - sd).clip(0, 1), (mean + sd).clip(0, 1), color=color, alpha=0.15, lw=0
            )
            (line,) = ax.plot(
                df["alpha"], mean, linestyle="--", linewidth=1.2, marker="o", markersize=4, color=color
            )
            row = crit.loc[config] if config in crit.index else None
            flags = []
            if row is not None and bool(row.get("non_monotone", False)):
                flags.append("non-monotone")
            if row is not None and row["status"] == "degenerate":
                flags.append("degenerate")
            handles.append(line)
            labels.append(_label(config + (f" ({', '.join(flags)})" if flags else ""), 2 * WRAP - 20))
            if row is not None and row["status"] in ("reached", "at_most"):
                ax.plot(
                    [row["alpha_star"]],
                    [target],
                    marker="v",
                    markersize=9,
                    color=color,
                    markerfacecolor=color if row["status"] == "reached" else "none",
                    markeredgecolor=color if row["status"] != "reached" else "white",
                    alpha=0.9,
                    linestyle="none",
                    zorder=5,
                )
        target_line = ax.axhline(target, color="0.3", linestyle=":", linewidth=1)
        handles += [
            target_line,
            Line2D([], [], marker="v", color=UNMEASURED, linestyle="none", markersize=8),
        ]
        handles.append(Line2D([], [], color=UNMEASURED, marker="o", markersize=4, linestyle="--"))
        labels += [
            f"target S = {target:g}",
            "\u03b1* (open: only bounded above, \u2264)",
            "markers: \u03b1 run; dashed: interpolated",
        ]
        ax.set_ylim(-0.02, 1.02)
        grid = sorted(curves["alpha"].unique())
        ticks = grid if len(grid) <= 8 else [0.0, *nice_ticks(smallest, max(grid))]
        _set_ticks(ax.xaxis, ticks)
        if len(ticks) > 6:
            ax.tick_params(axis="x", labelrotation=45)
        ax.set_xlabel("collective fraction \u03b1 (log scale)")
        ax.set_ylabel("success S(\u03b1), mean over seeds")
        name = f"{task} ({panel})" if panel else task
        ax.set_title(_label(f"{name}: S(\u03b1), band = \u00b11 sd over seeds", WRAP))
        _legend(fig, handles, labels)
        return _svg(fig)


@dataclass(frozen=True)
class TradeoffPoint:
    """One configuration in a trade-off plot: its x (the axis hyperparameter), what is known of its
    alpha* (status, value, interval) and the largest alpha run for it."""

    series: str
    x: float
    alpha_star: float | None
    status: str
    low: float | None
    high: float | None
    alpha_max: float


@dataclass(frozen=True)
class Reference:
    """A configuration drawn as a horizontal line (another algorithm, or x = inf): alpha* or its bound."""

    label: str
    y: float
    bound: bool


ARROW = 1.7  # length of a bound's arrow, as a factor on the log alpha axis


def _draw_series(ax, color, points: list[TradeoffPoint], dodge: float) -> None:
    """Points of one series: measured alpha* filled with bars and joined only to neighbouring measured
    points; bounds as open circles with an arrow (down for <=, up for not reached), never joined."""
    segment: list[TradeoffPoint] = []

    def flush() -> None:
        if segment:
            xs = [p.x * dodge for p in segment]
            ys = [p.alpha_star for p in segment]
            low = [y - (p.low if p.low is not None else y) for p, y in zip(segment, ys, strict=True)]
            high = [(p.high if p.high is not None else y) - y for p, y in zip(segment, ys, strict=True)]
            ax.errorbar(xs, ys, yerr=[low, high], color=color, marker="o", markersize=5, capsize=3)
            segment.clear()

    for p in sorted(points, key=lambda p: p.x):
        if p.status == "reached" and p.alpha_star is not None:
            segment.append(p)
            continue
        flush()
        if p.status == "at_most" and p.alpha_star is not None:
            y, end = p.alpha_star, p.alpha_star / ARROW
        elif p.status == "not_reached":
            y, end = p.alpha_max, p.alpha_max * ARROW
        else:
            continue
        x = p.x * dodge
        ax.plot([x], [y], marker="o", markersize=7, markerfacecolor="none", color=color, linestyle="none")
        ax.annotate(
            "", xy=(x, end), xytext=(x, y), arrowprops={"arrowstyle": "-|>", "color": color, "lw": 1.2}
        )
    flush()


def tradeoff_svg(title: str, xlabel: str, points: list[TradeoffPoint], references: list[Reference]) -> bytes:
    """alpha* against one hyperparameter, one colour per series (named by what differs between them);
    references (other algorithms, x = inf) as horizontal lines. Ticks are labelled at the nominal x."""
    names = sorted({p.series for p in points})
    ys = [y for p in points for y in (p.alpha_star, p.low, p.high) if y is not None and y > 0]
    ys += [p.alpha_max * ARROW for p in points if p.status == "not_reached"]
    ys += [p.alpha_star / ARROW for p in points if p.status == "at_most" and p.alpha_star]
    ys += [r.y for r in references if r.y > 0]
    lo, hi = min(ys) / 1.2, max(ys) * 1.2
    with mpl.rc_context(_RC):
        fig = Figure(layout="constrained")
        ax = fig.subplots()
        ax.set_yscale("log")
        xs = sorted({p.x for p in points})
        log_x = xs[0] > 0 and xs[-1] / xs[0] >= 4
        if log_x:
            ax.set_xscale("log")
        handles, labels = [], []
        colors = _colors(len(names) + len(references))
        for i, (color, name) in enumerate(zip(colors, names, strict=False)):
            offset = (i - (len(names) - 1) / 2) * 0.04
            dodge = math.exp(offset) if log_x else 1 + offset * 0.5
            _draw_series(ax, color, [p for p in points if p.series == name], dodge)
            handles.append(Line2D([], [], color=color, marker="o"))
            labels.append(_label(name, 2 * WRAP - 20))
        for color, ref in zip(colors[len(names) :], references, strict=True):
            line = ax.axhline(ref.y, color=color, linestyle=":" if ref.bound else "--", linewidth=1.2)
            handles.append(line)
            labels.append(_label(ref.label, 2 * WRAP - 20))
        statuses = {p.status for p in points}
        if "at_most" in statuses:
            handles.append(
                Line2D([], [], color=UNMEASURED, marker="$\u2193$", markersize=9, linestyle="none")
            )
            labels.append("open circle, arrow down: \u03b1* \u2264 this (upper bound)")
        if "not_reached" in statuses:
            handles.append(
                Line2D([], [], color=UNMEASURED, marker="$\u2191$", markersize=9, linestyle="none")
            )
            labels.append("open circle, arrow up: not reached, \u03b1* > largest \u03b1 run")
        ax.set_ylim(lo, hi)
        _set_ticks(ax.yaxis, nice_ticks(lo, hi))
        _set_ticks(ax.xaxis, xs)
        if not log_x:
            pad = (xs[-1] - xs[0]) * 0.08 or abs(xs[0]) * 0.1 or 1.0
            ax.set_xlim(xs[0] - pad, xs[-1] + pad)
        else:
            ax.set_xlim(xs[0] / 1.3, xs[-1] * 1.3)
        ax.set_xlabel(_label(xlabel, WRAP))
        ax.set_ylabel("critical mass \u03b1* (log scale)")
        ax.set_title(_label(title, WRAP))
        _legend(fig, handles, labels, ncols=1)
        return _svg(fig)
