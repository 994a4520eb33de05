"""The site's scaling page: alpha* and members* = alpha* x n against the training-set size n on log axes,
with the log-log fit of each series (`aca_bench.benchmark.scaling`), its extrapolation to full MNIST and the
published point; and the page's template context, a pure function of the run records.

`scaling_page(records, target)` returns (context, files): the lead's site builder renders
`templates/scaling.html` with the context and adds the files (the SVG) to the site.
"""

import math
from dataclasses import dataclass

import matplotlib as mpl
from matplotlib.figure import Figure

from aca_bench.benchmark.scaling import (
    N_BOOT,
    PUBLISHED,
    PUBLISHED_ALPHA,
    PUBLISHED_N,
    STEPS_TOLERANCE,
    Point,
    Series,
    fraction,
    scaling_series,
    with_measured,
)
from aca_bench.leaderboard.plots import _RC, _colors, _label, _set_ticks, _svg, nice_ticks

# the two panels: alpha* (a fraction) and members* (a count) against n
PLOT_PATHS = {False: "scaling/alpha_star_vs_n.svg", True: "scaling/members_star_vs_n.svg"}


@dataclass(frozen=True)
class Row:
    """One n of a series as the page shows it."""

    n_train: int
    epochs: str
    steps: str
    alpha_star: str
    members_star: str
    clean_accuracy: str
    seeds: int


@dataclass(frozen=True)
class SeriesView:
    """A series as the page shows it: its rows, the fit and the extrapolation in words."""

    name: str
    rows: list[Row]
    fit: str | None
    extrapolation: str | None
    measured: str | None = None  # alpha* measured at the extrapolation's n (another data source)


def _view(s: Series) -> SeriesView:
    rows = []
    for p in s.points:
        cm = p.critical
        rows.append(
            Row(
                p.n_train,
                "n/a" if p.epochs is None else str(p.epochs),
                "n/a" if p.steps is None else str(p.steps),
                cm.text(),
                cm.text(p.n_train, ".0f") if cm.ranked else "not ranked",
                "n/a" if p.clean_accuracy is None else f"{p.clean_accuracy:.3f}",
                cm.n_seeds,
            )
        )
    f = s.fit
    if f is None:
        return SeriesView(f"{s.task} / {s.label}, {s.budget}", rows, None, None)
    m, m_lo, m_hi = f.members_at_n
    fit = (
        f"slope {f.slope:.2f} [{f.slope_low:.2f}, {f.slope_high:.2f}] over {f.n_points} n "
        f"({f.n_boot_used:,} of {f.n_boot:,} resamples reached the target at every n)"
    )
    extrapolation = (
        f"alpha* {fraction(f.alpha_at_n)} [{fraction(f.alpha_at_n_low)}, {fraction(f.alpha_at_n_high)}], "
        f"{m:.0f} [{m_lo:.0f}, {m_hi:.0f}] members at n = {f.at_n:,}"
    )
    measured = None
    if s.measured is not None:
        cm = s.measured.critical
        measured = f"alpha* {cm.text()}" + (
            f", members* {cm.text(s.measured.n_train, '.0f')}" if cm.ranked else ""
        )
    return SeriesView(f"{s.task} / {s.label}, {s.budget}", rows, fit, extrapolation, measured)


def _points(
    ax, pts: list[Point], scale_by_n: bool, color, marker: str, size: float, label: str
) -> list[float]:
    """alpha* (or members*) of `pts` at their n with their intervals as bars (a lower bound of 0 or an
    upper one not reached: no bar that side, which a log axis cannot show; the table says it); returns
    the y values drawn, for the ticks."""
    k = [p.n_train if scale_by_n else 1.0 for p in pts]
    ys = [p.critical.value * f for p, f in zip(pts, k, strict=True)]
    lows = [(p.critical.low or p.critical.value) * f for p, f in zip(pts, k, strict=True)]
    highs = [(p.critical.high or p.critical.value) * f for p, f in zip(pts, k, strict=True)]
    yerr = [
        [y - lo for y, lo in zip(ys, lows, strict=True)],
        [hi - y for y, hi in zip(ys, highs, strict=True)],
    ]
    ax.errorbar(
        [p.n_train for p in pts],
        ys,
        yerr=yerr,
        color=color,
        marker=marker,
        markersize=size,
        capsize=3,
        linestyle="none",
        label=label,
    )
    return [*lows, *highs]


def scaling_svg(series: list[Series], scale_by_n: bool) -> bytes:
    """One log-log panel, alpha* (or members*, `scale_by_n`) against n: per series the points with
    their intervals, the fitted line drawn out to the extrapolation's n (dashed beyond the data) with
    the extrapolation's interval as a bar there, and the published point as a black star. An n whose
    alpha* was not reached, or whose model is degenerate, has no point (the page's table lists it).
    Two panels, not one figure of two: each is readable at a phone's width."""
    with mpl.rc_context(_RC):
        fig = Figure(figsize=(7.0, 4.4 + 0.32 * (len(series) + 1)), layout="constrained")
        ax = fig.subplots()
        shown: list[float] = []  # y values drawn, for the ticks
        for color, s in zip(_colors(len(series)), series, strict=True):
            pts = [p for p in s.points if p.critical.value is not None]
            xs = [p.n_train for p in pts]
            if pts:
                shown += _points(
                    ax, pts, scale_by_n, color, "o", 4, _label(f"{s.task} / {s.label}, {s.budget}")
                )
            f = s.fit
            if f is None:
                continue
            lo_n, hi_n = min(xs), max(xs)
            for a, b, style in ((lo_n, hi_n, "-"), (hi_n, f.at_n, "--")):
                line = [
                    math.exp(f.intercept + f.slope * math.log(n)) * (n if scale_by_n else 1) for n in (a, b)
                ]
                ax.plot([a, b], line, color=color, linestyle=style, linewidth=1.2)
            m = s.measured
            if m is not None and m.critical.value is not None:  # the measurement the extrapolation predicts
                label = _label(f"measured at n = {m.n_train:,} ({s.label}, {s.budget})")
                shown += _points(ax, [m], scale_by_n, color, "D", 7, label)
            mult = f.at_n if scale_by_n else 1
            mid = f.alpha_at_n * mult
            shown.extend([f.alpha_at_n_low * mult, f.alpha_at_n_high * mult])
            ax.errorbar(
                [f.at_n],
                [mid],
                yerr=[[mid - f.alpha_at_n_low * mult], [f.alpha_at_n_high * mult - mid]],
                color=color,
                marker="s",
                markersize=4,
                capsize=3,
                markerfacecolor="none",
            )
        published = PUBLISHED_ALPHA * (PUBLISHED_N if scale_by_n else 1)
        ax.plot(
            [PUBLISHED_N],
            [published],
            marker="*",
            markersize=13,
            color="black",
            linestyle="none",
            label=f"published: ~{published:g} of {PUBLISHED_N:,}" + (" digits" if scale_by_n else ""),
        )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ns = sorted({p.n_train for s in series for p in s.points} | {PUBLISHED_N})
        _set_ticks(ax.xaxis, [float(n) for n in ns])
        ax.tick_params(axis="x", labelrotation=45)
        ys = [y for y in [*shown, published] if y > 0]
        _set_ticks(ax.yaxis, nice_ticks(min(ys), max(ys)))
        ax.set_xlabel("training-set size n (log scale)")
        ax.set_ylabel("members* = alpha* x n (log scale)" if scale_by_n else "alpha* (log scale)")
        ax.set_title("critical mass as a count" if scale_by_n else "critical mass as a fraction")
        fig.legend(loc="outside lower center", ncols=1, frameon=False)
        return _svg(fig)


def scaling_page(
    records: list[dict] | dict[str, list[dict]], target: float, n_boot: int = N_BOOT
) -> tuple[dict | None, dict[str, bytes]]:
    """(template context, files) of the scaling page; (None, {}) when no configuration was run at two
    or more n, so the site leaves the page out. Given stores (name -> records), series are found within
    each store: a scaling study is one suite's, and another store's run of the same configuration at
    one n (e.g. the quick suite's ERM on all digits) would make that n ambiguous."""
    stores = records if isinstance(records, dict) else {"results": records}
    series = sorted(
        (s for recs in stores.values() for s in scaling_series(recs, target, PUBLISHED_N, n_boot)),
        key=lambda s: (s.task, s.label, s.budget),
    )
    # a measurement at the published n may sit in any store (full MNIST is a suite of its own)
    series = with_measured(series, [r for recs in stores.values() for r in recs], target)
    if not series:
        return None, {}
    context = {
        "series": [_view(s) for s in series],
        "plots": [PLOT_PATHS[False], PLOT_PATHS[True]],
        "published_alpha": PUBLISHED,
        "published_n": f"{PUBLISHED_N:,}",
        "scaling_n_boot": f"{n_boot:,}",
        "steps_tolerance": f"{STEPS_TOLERANCE:.0%}",
    }
    return context, {path: scaling_svg(series, by_n) for by_n, path in PLOT_PATHS.items()}
