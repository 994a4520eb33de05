"""The scaling page of the site: its context and plot from run records (fabricated test fixtures from
tests/test_scaling.py; nothing in them is a result)."""

import xml.etree.ElementTree as ET

import pytest
from test_scaling import FIXED_EPOCHS, FIXED_STEPS, TARGET, synthetic_records

from aca_bench.leaderboard.build import environment
from aca_bench.leaderboard.scaling_plot import PLOT_PATHS, scaling_page


@pytest.fixture(scope="module")
def page():
    recs = synthetic_records(-1.0, FIXED_EPOCHS)
    recs += [r for r in synthetic_records(-1.0, FIXED_STEPS, rng_seed=1) if r["n_train"] != 4000]
    return recs, *scaling_page(recs, TARGET, n_boot=100)


def test_context_has_a_row_per_n_and_the_fit_per_series(page):
    _, ctx, _ = page
    assert [s.name for s in ctx["series"]] == ["mnist_patch / erm, 10 epochs", "mnist_patch / erm, 620 steps"]
    epochs = ctx["series"][0]
    assert [r.n_train for r in epochs.rows] == [500, 1000, 2000, 4000]
    assert [r.steps for r in ctx["series"][1].rows] == ["623", "615", "620", "620"]
    assert epochs.fit.startswith("slope -1.0") or epochs.fit.startswith("slope -0.9")
    assert "members at n = 60,000" in epochs.extrapolation
    assert ctx["published_alpha"] == "~0.001 (the poster's 0.1%)"
    assert ctx["plots"] == [PLOT_PATHS[False], PLOT_PATHS[True]]


def test_plots_are_deterministic_svgs_one_panel_each(page):
    """alpha* and members* are two figures (small multiples that stack on a phone), not one of two panels."""
    recs, _, files = page
    assert set(files) == set(PLOT_PATHS.values())
    again = scaling_page(recs, TARGET, n_boot=100)[1]
    for path, svg in files.items():
        assert ET.fromstring(svg).tag.endswith("svg")
        assert svg.count(b'id="axes_') == 1
        assert again[path] == svg
    assert b"critical mass as a count" in files[PLOT_PATHS[True]]


def test_page_renders_with_the_site_template(page):
    """Rendered as the builder renders every page: its common context (site name, navigation) plus ours;
    the page's own keys must not collide with the common ones."""
    from aca_bench.leaderboard.build import SITE_NAME

    _, ctx, _ = page
    common = {
        "root": "",
        "page": "scaling.html",
        "tasks": [],
        "algorithms": [],
        "target": TARGET,
        "software": "aca-bench",
        "n_boot": 2000,
        "site_name": SITE_NAME,
        "has_scaling": True,
        "has_privacy": False,
    }
    assert not set(ctx) & set(common)
    html = environment().get_template("scaling.html").render(**common, **ctx)
    assert html.count("<table") == 2 and "extrapolation" in html.lower()
    assert all(f'src="{path}"' in html for path in PLOT_PATHS.values())
    assert "60,000" in html and "0.1%" in html and "(100 resamples)" in html


def test_no_page_without_a_configuration_run_at_two_n():
    recs = [r for r in synthetic_records(-1.0, FIXED_EPOCHS) if r["n_train"] == 4000]
    assert scaling_page(recs, TARGET, n_boot=50) == (None, {})


def test_series_are_found_within_each_store():
    """Another store's run of the same configuration at one n (the quick suite's ERM on all digits)
    must not hide a scaling suite's series on the site."""
    recs = synthetic_records(-1.0, FIXED_EPOCHS)
    other = [dict(r, run_id="q" + r["run_id"], seed=r["seed"] + 10) for r in recs if r["n_train"] == 4000]
    for r in other:
        r["algorithm"] = {**r["algorithm"], "hparams": dict(r["algorithm"]["hparams"])}
        r["task"] = {**r["task"], "params": {k: v for k, v in r["task"]["params"].items() if k != "n_train"}}
    assert scaling_page(recs + other, TARGET, n_boot=50) == (None, {})  # one pool: n = 4000 ambiguous
    ctx, _ = scaling_page({"scaling": recs, "quick": other}, TARGET, n_boot=50)
    assert [(s.name, len(s.rows)) for s in ctx["series"]] == [("mnist_patch / erm, 10 epochs", 4)]


def test_a_full_mnist_store_puts_its_measurement_beside_the_fit():
    from test_scaling import _full_mnist

    recs = synthetic_records(-1.0, FIXED_EPOCHS)
    ctx, files = scaling_page({"scaling": recs, "mnist_full": _full_mnist(recs, 10)}, TARGET, n_boot=100)
    (view,) = ctx["series"]
    assert view.measured.startswith("alpha* 0.0") and "members* " in view.measured
    assert b"measured at n = 60,000" in files[PLOT_PATHS[False]]
    alone, _ = scaling_page({"scaling": recs}, TARGET, n_boot=100)
    assert alone["series"][0].measured is None
