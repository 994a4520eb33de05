"""The site's privacy page: alpha* against epsilon and C per results store, from aggregate's alpha*.

The two C-sweep stores here (`dp_clip_shared`, `dp_clip_tuned`) are fabricated test fixtures in the
store format (nothing in them is a result); the epsilon sweep is the committed dp_epsilon reference.
"""

import math
from pathlib import Path

import numpy as np
import pytest
from test_leaderboard import record, write_store

from aca_bench.benchmark.aggregate import critical_table, runs_frame
from aca_bench.benchmark.critical import DEGENERATE, NOT_REACHED, REACHED, TARGET
from aca_bench.benchmark.privacy_series import TUNED, privacy_series
from aca_bench.benchmark.store import load_records
from aca_bench.leaderboard.build import build_site, render
from aca_bench.leaderboard.privacy_plot import INF_LABEL, alpha_figure, privacy_page
from aca_bench.leaderboard.text import DASH

CLIPS = (0.1, 0.5, 1.0, 5.0, 10.0)
EPSILONS = (math.inf, 2.0)
ALPHAS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4)
SEEDS = 5
REFERENCE = Path(__file__).resolve().parents[1] / "leaderboard/reference/dp_epsilon"
# (store, epsilon, C) -> how the fixture's model behaves: "degenerate" (collapsed, clean accuracy 0.09),
# "never" (S stays below the target); else S(alpha) crosses 0.9 near alpha = centre.
SPECIAL = {("dp_clip_shared", 2.0, 10.0): "degenerate", ("dp_clip_shared", 2.0, 5.0): "never"}


def _centre(store: str, eps: float, clip: float) -> float:
    base = 0.12 if store == "dp_clip_tuned" else 0.2
    return base * (1.3 if eps == 2.0 else 1.0) * (1 + 0.1 * math.log10(clip))


def c_sweep(store: str) -> list[dict]:
    """A C sweep at epsilon inf and 2 in the store format: shared lr (0.5) or lr tuned per C (2 / C),
    with `clipped_fraction` falling as C grows."""
    rng = np.random.default_rng(len(store))
    recs = []
    for eps in EPSILONS:
        for clip in CLIPS:
            lr = 0.5 if store == "dp_clip_shared" else 2.0 / clip
            hp = {"lr": lr, "epochs": 8, "batch_size": 250, "target_epsilon": eps, "max_grad_norm": clip}
            kind = SPECIAL.get((store, eps, clip))
            for seed in range(SEEDS):
                for alpha in ALPHAS:
                    if kind == "degenerate":
                        s, clean, y_star = 0.93, 0.09, 0.92
                    elif kind == "never":
                        s, clean, y_star = 0.5 * alpha, 0.6, 0.01
                    else:
                        c = _centre(store, eps, clip)
                        s = 1 / (1 + math.exp(-(alpha - c) / 0.02)) + rng.normal(0, 0.01)
                        clean, y_star = 0.95 - 0.02 * (eps == 2.0), 0.01
                    r = record(
                        "mnist_patch",
                        "dpsgd",
                        hp,
                        alpha,
                        seed,
                        float(np.clip(s, 0, 1)),
                        clean,
                        metrics={"clean_y_star_rate": y_star},
                        algorithm_record={
                            "epsilon_spent": eps,
                            "clipped_fraction": min(1.0, 0.5 / clip),
                            "noise_multiplier": 0.0 if math.isinf(eps) else 1.1,
                        },
                    )
                    r["n_classes"] = 10
                    recs.append(r)
    return recs


@pytest.fixture(scope="module")
def stores() -> dict[str, list[dict]]:
    return {name: c_sweep(name) for name in ("dp_clip_shared", "dp_clip_tuned")}


@pytest.fixture(scope="module")
def page(stores):
    return privacy_page(stores, TARGET)


def test_two_stores_are_two_series_in_one_plot_per_epsilon(stores):
    plots = privacy_series(stores, TARGET)
    assert [(p.axis, dict(p.fixed)["target_epsilon"]) for p in plots] == [
        ("max_grad_norm", "2"),
        ("max_grad_norm", "inf"),
    ]
    for p in plots:
        assert [s.store for s in p.series] == ["dp_clip_shared", "dp_clip_tuned"]
        assert all([pt.x for pt in s.points] == list(CLIPS) for s in p.series)
        assert not set(TUNED) & {k for k, _ in p.fixed}  # lr differs per C in one store: still one series
    tuned = plots[1].series[1]
    assert [pt.lr for pt in tuned.points] == [2.0 / c for c in CLIPS]


def test_values_match_aggregate(stores, page):
    """Every row's alpha*, interval, clean accuracy and clipped fraction is aggregate's for that store,
    and the plot draws exactly aggregate's alpha* of the reached configurations."""
    ctx, _ = page
    plots = privacy_series(stores, TARGET)
    for view, plot in zip(ctx["privacy_plots"], plots, strict=True):
        eps = dict(plot.fixed)["target_epsilon"]
        ax = alpha_figure(plot, TARGET).axes[0]
        drawn = {line.get_gid(): list(line.get_ydata()) for line in ax.lines if line.get_gid()}
        for store in ("dp_clip_shared", "dp_clip_tuned"):
            crit = critical_table(runs_frame(stores[store]), TARGET)
            crit = crit[crit["config"].str.contains(f"target_epsilon={float(eps)}")].copy()
            crit["clip"] = [float(c.split("max_grad_norm=")[1].split(",")[0]) for c in crit["config"]]
            crit = crit.sort_values("clip")
            rows = [r for r in view["rows"] if r["store"] == store]
            assert [r["x"] for r in rows] == [f"{c:g}" for c in crit["clip"]]
            for row, c in zip(rows, crit.itertuples(), strict=True):
                assert row["clean"] == f"{c.clean_accuracy_at_0:.3f}"
                assert row["clipped"] == f"{c.clipped_fraction_at_0:.2f}"
                if c.status == REACHED:
                    assert row["alpha_star"] == f"{c.alpha_star:.3g}"
                    assert row["interval"] == f"[{c.alpha_star_low:.3g}, {c.alpha_star_high:.3g}]"
            reached = crit[crit["status"] == REACHED]
            assert len(reached) >= 3
            assert drawn[f"alpha-{store}"] == pytest.approx(list(reached["alpha_star"]), rel=1e-12)
    # the fixture's protocols differ: the tuned store's alpha* is the smaller at every reached C
    inf_rows = ctx["privacy_plots"][1]["rows"]
    shared = [float(r["alpha_star"]) for r in inf_rows if r["store"] == "dp_clip_shared"]
    tuned = [float(r["alpha_star"]) for r in inf_rows if r["store"] == "dp_clip_tuned"]
    assert all(t < s for t, s in zip(tuned, shared, strict=True))


def test_degenerate_and_not_reached_are_never_drawn_as_values(stores, page):
    ctx, files = page
    view = ctx["privacy_plots"][0]  # epsilon 2
    rows = {(r["store"], r["x"]): r for r in view["rows"]}
    bad = rows[("dp_clip_shared", "10")]
    assert bad["alpha_star"] == DASH and bad["interval"] == DASH and bad["degenerate"]
    assert bad["status"].startswith("degenerate: clean accuracy 0.09 at alpha 0")
    never = rows[("dp_clip_shared", "5")]
    assert never["alpha_star"] == DASH and never["status"].startswith("not reached")
    plot = privacy_series(stores, TARGET)[0]
    assert {p.status for p in plot.series[0].points} == {REACHED, DEGENERATE, NOT_REACHED}
    ax = alpha_figure(plot, TARGET).axes[0]
    shared_x = list(ax.lines[[ln.get_gid() for ln in ax.lines].index("alpha-dp_clip_shared")].get_xdata())
    assert len(shared_x) == 3 and max(shared_x) < 5  # C 5 and C 10 have no alpha* point
    crosses = [ln for ln in ax.lines if (ln.get_gid() or "").startswith("degenerate-")]
    assert len(crosses) == 1 and crosses[0].get_xdata()[0] == pytest.approx(10, rel=0.1)
    svg = files[view["alpha_plot"]]
    assert b'id="degenerate-dp_clip_shared-4"' in svg and b"degenerate model, no" in svg  # legend's text
    assert b"degenerate-" not in files[ctx["privacy_plots"][1]["alpha_plot"]]  # epsilon inf: none there


def test_nav_link_only_with_privacy_data(stores, tmp_path):
    site = render([r for recs in stores.values() for r in recs], {}, grids={}, descriptions={}, stores=stores)
    index = site["index.html"].decode()
    assert 'href="privacy.html"' in index and "privacy.html" in site
    html = site["privacy.html"].decode()
    assert html.count("<table") == 2 and "degenerate: clean accuracy 0.09" in html
    assert html.count('<tr class="degenerate">') == 1
    # one configuration per store and no sweep: no page, no link
    one = {k: [r for r in v if r["algorithm"]["hparams"]["max_grad_norm"] == 1.0] for k, v in stores.items()}
    one = {k: [r for r in v if r["algorithm"]["hparams"]["target_epsilon"] == 2.0] for k, v in one.items()}
    plain = render([r for recs in one.values() for r in recs], {}, grids={}, descriptions={}, stores=one)
    assert "privacy.html" not in plain and "privacy.html" not in plain["index.html"].decode()


def test_build_names_series_by_store_folder(stores, tmp_path):
    for name, recs in stores.items():
        write_store(tmp_path / "results" / name, recs)
    build_site(tmp_path / "results", tmp_path / "site", [])
    html = (tmp_path / "site/privacy.html").read_text()
    assert html.count("<td>dp_clip_shared</td>") == 2 * len(CLIPS)
    assert html.count("<td>dp_clip_tuned</td>") == 2 * len(CLIPS)
    assert len(list((tmp_path / "site/privacy").glob("*.svg"))) == 4


@pytest.mark.skipif(not REFERENCE.exists(), reason="the dp_epsilon reference store is not in this checkout")
def test_reference_epsilon_sweep():
    """The committed epsilon sweep: one plot along epsilon, infinity last, values from aggregate."""
    recs, problems = load_records(REFERENCE)
    assert not problems
    ctx, files = privacy_page({"dp_epsilon": recs}, TARGET)
    (view,) = ctx["privacy_plots"]
    assert view["axis"] == "target_epsilon" and view["stores"] == ["dp_epsilon"]
    crit = critical_table(runs_frame(recs), TARGET)
    eps = [float(c.split("target_epsilon=")[1].rstrip(")").split(",")[0]) for c in crit["config"]]
    assert [r["x"] for r in view["rows"]] == [f"{e:g}" for e in sorted(eps) if math.isfinite(e)] + [INF_LABEL]
    by_eps = dict(zip(eps, crit.itertuples(), strict=True))
    for row, e in zip(view["rows"], sorted(eps), strict=True):
        c = by_eps[e]
        shown = f"{c.alpha_star:.3g}" if c.status == REACHED else DASH
        assert row["alpha_star"].removeprefix("<= ") == shown
        assert row["seeds"] == c.seeds
    assert set(files) == {view["alpha_plot"], view["training_plot"]}
