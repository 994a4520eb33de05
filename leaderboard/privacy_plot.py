"""The site's privacy page: the privacy series of `aca_bench.benchmark.privacy_series` drawn (alpha*
against epsilon or C per store, beside clean accuracy and the clipped fraction at alpha 0) and
tabulated; the page's template context is a pure function of the run records of each store.

`privacy_page(stores, target)` returns (context, files): the site builder renders
`templates/privacy.html` with the context and adds the files (the SVGs) to the site.
"""

import math

import matplotlib as mpl
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.transforms import blended_transform_factory

from aca_bench.benchmark.critical import AT_MOST, DEGENERATE, NOT_REACHED, REACHED
from aca_bench.benchmark.privacy_series import AXES, TUNED, Point, PrivacyPlot, privacy_series
from aca_bench.benchmark.values import value_text
from aca_bench.leaderboard.plots import (
    _RC,
    UNMEASURED,
    WIDTH,
    WRAP,
    _colors,
    _label,
    _set_ticks,
    _svg,
    nice_ticks,
)
from aca_bench.leaderboard.text import DASH, num, slug

INF_GAP = 4.0  # epsilon = inf is drawn this factor to the right of the largest finite value
INF_LABEL = "\u221e"
PLOT_DIR = "privacy"


def stem(plot: PrivacyPlot) -> str:
    """The plot's file stem and HTML id: readable, and unique by the plot's key."""
    fixed = "-".join(f"{slug(k)}-{slug(v)}" for k, v in plot.fixed if k in AXES)
    parts = (slug(plot.task), slug(plot.algorithm), slug(plot.axis), fixed, plot.key)
    return "-".join(p for p in parts if p)


def _positions(plot: PrivacyPlot) -> tuple[dict[float, float], list[float], list[str]]:
    """Where each axis value is drawn (inf: INF_GAP times right of the largest finite value), the
    ticks and their labels."""
    xs = sorted({p.x for s in plot.series for p in s.points})
    finite = [x for x in xs if math.isfinite(x)]
    inf_at = (max(finite) if finite else 1.0) * INF_GAP
    where = {x: (x if math.isfinite(x) else inf_at) for x in xs}
    return where, [where[x] for x in xs], [f"{x:g}" if math.isfinite(x) else INF_LABEL for x in xs]


def _xaxis(ax, plot: PrivacyPlot, xlabel: bool) -> None:
    where, ticks, labels = _positions(plot)
    positive = all(t > 0 for t in ticks)
    if positive:
        ax.set_xscale("log")
    _set_ticks(ax.xaxis, ticks)
    ax.set_xticks(ticks, labels)
    lo, hi = min(ticks), max(ticks)
    ax.set_xlim(lo / 1.5, hi * 1.5) if positive else ax.set_xlim(lo - 1, hi + 1)
    if xlabel:
        ax.set_xlabel(_label(AXES[plot.axis] + " (log scale)", WRAP))


def _join(ax, points: list[tuple[float, float, float | None]], color) -> None:
    """Lines between neighbouring points (axis value, drawn x, y) that both have a y: solid, dashed into
    epsilon = inf (the axis jumps there); a point without a y breaks the line."""
    for (x0, p0, y0), (x1, p1, y1) in zip(points, points[1:], strict=False):
        if y0 is not None and y1 is not None:
            style = "--" if math.isinf(x0) or math.isinf(x1) else "-"
            ax.plot([p0, p1], [y0, y1], color=color, linestyle=style, linewidth=1.2)


def _dodge(i: int, n: int) -> float:
    return math.exp((i - (n - 1) / 2) * 0.06)


def alpha_svg(plot: PrivacyPlot, target: float) -> bytes:
    """The alpha* plot (`alpha_figure`) as SVG."""
    with mpl.rc_context(_RC):
        return _svg(alpha_figure(plot, target))


def alpha_figure(plot: PrivacyPlot, target: float) -> Figure:
    """alpha* with its 95% interval per store, joined only between neighbouring values (dashed into
    epsilon = inf); a configuration without a value is never drawn as one:
    not reached is an open circle with an up arrow at the largest alpha run, only bounded above an open
    circle with a down arrow, degenerate a cross on the bottom edge (the table says why)."""
    where, _, _ = _positions(plot)
    values = [
        y
        for s in plot.series
        for p in s.points
        for y in (p.alpha_star, p.low, p.high, p.alpha_max)
        if y is not None and y > 0
    ]
    lo, hi = (min(values) / 1.5, max(values) * 2.0) if values else (0.01, 1.0)
    with mpl.rc_context(_RC):
        fig = Figure(figsize=(WIDTH, 4.6 + 0.28 * (len(plot.series) + 3)), layout="constrained")
        ax = fig.subplots()
        ax.set_yscale("log")
        bottom = blended_transform_factory(ax.transData, ax.transAxes)
        handles, labels = [], []
        statuses: set[str] = set()
        for i, (color, s) in enumerate(zip(_colors(len(plot.series)), plot.series, strict=True)):
            k = _dodge(i, len(plot.series))
            shown = [p for p in s.points if p.status == REACHED and p.alpha_star is not None]
            if shown:
                ys = [p.alpha_star for p in shown]
                err = [
                    [y - (p.low if p.low is not None else y) for p, y in zip(shown, ys, strict=True)],
                    [(p.high if p.high is not None else hi) - y for p, y in zip(shown, ys, strict=True)],
                ]
                bars = ax.errorbar(
                    [where[p.x] * k for p in shown],
                    ys,
                    yerr=err,
                    color=color,
                    marker="o",
                    ms=5,
                    capsize=3,
                    linestyle="none",
                )
                _join(
                    ax, [(p.x, where[p.x] * k, p.alpha_star if p in shown else None) for p in s.points], color
                )
                bars.lines[0].set_gid(f"alpha-{slug(s.store)}")
            for j, p in enumerate(s.points):
                x = where[p.x] * k
                statuses.add(p.status)
                if p.status == AT_MOST and p.alpha_star is not None:
                    y, end = p.alpha_star, p.alpha_star / 1.7
                elif p.status == NOT_REACHED:
                    y, end = p.alpha_max, p.alpha_max * 1.7
                elif p.status == DEGENERATE:
                    ax.plot(
                        [x],
                        [0.03],
                        transform=bottom,
                        marker="X",
                        ms=10,
                        color=color,
                        linestyle="none",
                        gid=f"degenerate-{slug(s.store)}-{j}",
                    )
                    continue
                else:
                    continue
                ax.plot([x], [y], marker="o", ms=7, markerfacecolor="none", color=color, linestyle="none")
                arrow = {"arrowstyle": "-|>", "color": color, "lw": 1.2}
                ax.annotate("", xy=(x, end), xytext=(x, y), arrowprops=arrow)
            handles.append(Line2D([], [], color=color, marker="o"))
            labels.append(_label(f"store {s.store}", 2 * WRAP - 20))
        legend = {
            AT_MOST: ("$\u2193$", "open circle, arrow down: \u03b1* \u2264 this (bounded above)"),
            NOT_REACHED: ("$\u2191$", f"open circle, arrow up: S < {target:g} up to the largest \u03b1 run"),
            DEGENERATE: ("X", "cross on the axis: degenerate model, no \u03b1* (the table says why)"),
        }
        for status, (marker, text) in legend.items():
            if status in statuses:
                handles.append(Line2D([], [], color=UNMEASURED, marker=marker, ms=9, linestyle="none"))
                labels.append(text)
        ax.set_ylim(lo, hi)
        _set_ticks(ax.yaxis, nice_ticks(lo, hi))
        _xaxis(ax, plot, xlabel=True)
        ax.set_ylabel("critical mass \u03b1* (log scale)")
        ax.set_title(_label(plot.title, WRAP))
        fig.legend(handles, labels, loc="outside lower center", ncols=1, frameon=False)
        return fig


def training_svg(plot: PrivacyPlot) -> bytes:
    """Two panels over the same x: clean accuracy at alpha 0 and the mean fraction of per-example
    gradients clipped at alpha 0 (when nearly all are clipped, only lr x C sets the step)."""
    with mpl.rc_context(_RC):
        fig = Figure(figsize=(WIDTH, 6.4 + 0.28 * len(plot.series)), layout="constrained")
        axes = fig.subplots(2, 1, sharex=True)
        where, _, _ = _positions(plot)
        handles, labels = [], []
        for i, (color, s) in enumerate(zip(_colors(len(plot.series)), plot.series, strict=True)):
            k = _dodge(i, len(plot.series))
            for ax, field in zip(axes, ("clean_accuracy", "clipped_fraction"), strict=True):
                pts = [p for p in s.points if getattr(p, field) is not None]
                ax.plot(
                    [where[p.x] * k for p in pts],
                    [getattr(p, field) for p in pts],
                    color=color,
                    marker="o",
                    ms=5,
                    linestyle="none",
                )
                _join(ax, [(p.x, where[p.x] * k, getattr(p, field)) for p in s.points], color)
            handles.append(Line2D([], [], color=color, marker="o"))
            labels.append(_label(f"store {s.store}", 2 * WRAP - 20))
        for ax in axes:
            ax.set_ylim(-0.03, 1.03)
            _set_ticks(ax.yaxis, [0.0, 0.25, 0.5, 0.75, 1.0])
        _xaxis(axes[0], plot, xlabel=False)
        _xaxis(axes[1], plot, xlabel=True)
        axes[0].set_ylabel("clean accuracy at \u03b1 = 0")
        axes[1].set_ylabel("gradients clipped at \u03b1 = 0")
        axes[0].set_title(_label(f"Training at α = 0 against {AXES[plot.axis]}", WRAP))
        fig.legend(handles, labels, loc="outside lower center", ncols=1, frameon=False)
        return _svg(fig)


def _row(p: Point, store: str) -> dict:
    cm = p.critical
    if p.status == DEGENERATE:
        status = cm.text()
    elif p.status == NOT_REACHED:
        status = f"not reached (S < target up to \u03b1 = {p.alpha_max:g})"
    elif p.status == AT_MOST:
        status = "bounded above (reached at the smallest \u03b1 run)"
    else:
        status = p.status
    drawn = p.status in (REACHED, AT_MOST)
    if not drawn:
        interval = DASH
    elif not cm.has_interval:
        interval = f"none ({cm.n_seeds} seed{'s' * (cm.n_seeds != 1)})"
    else:
        interval = cm.interval()
    return {
        "store": store,
        "x": f"{p.x:g}" if math.isfinite(p.x) else INF_LABEL,
        "x_sort": "Infinity" if math.isinf(p.x) else repr(p.x),
        "lr": DASH if p.lr is None else value_text(p.lr),
        "epochs": DASH if p.epochs is None else value_text(p.epochs),
        "alpha_star": cm.point() if drawn else DASH,
        "alpha_sort": repr(p.alpha_star) if drawn and p.alpha_star is not None else "",
        "interval": interval,
        "clean": num(p.clean_accuracy, ".3f"),
        "clipped": num(p.clipped_fraction, ".2f"),
        "seeds": cm.n_seeds,
        "status": status,
        "degenerate": p.status == DEGENERATE,
    }


def privacy_page(stores: dict[str, list[dict]], target: float) -> tuple[dict | None, dict[str, bytes]]:
    """(template context, files) of the privacy page; (None, {}) when no store sweeps epsilon or C, so
    the site leaves the page out."""
    plots = privacy_series(stores, target)
    if not plots:
        return None, {}
    files: dict[str, bytes] = {}
    views = []
    for plot in plots:
        alpha_path = f"{PLOT_DIR}/{stem(plot)}-alpha.svg"
        training_path = f"{PLOT_DIR}/{stem(plot)}-training.svg"
        files[alpha_path] = alpha_svg(plot, target)
        files[training_path] = training_svg(plot)
        views.append(
            {
                "title": plot.title,
                "anchor": stem(plot),
                "axis": plot.axis,
                "axis_label": AXES[plot.axis],
                "fixed": ", ".join(f"{k} = {v}" for k, v in plot.fixed) or DASH,
                "stores": [s.store for s in plot.series],
                "alpha_plot": alpha_path,
                "training_plot": training_path,
                "rows": [_row(p, s.store) for s in plot.series for p in s.points],
            }
        )
    return {"privacy_plots": views, "privacy_tuned": ", ".join(TUNED)}, files
