"""The committed reference records render as one site (`--results leaderboard/reference`)."""

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from aca_bench.leaderboard.build import build_site, stores

REFERENCE = Path(__file__).resolve().parents[1] / "leaderboard" / "reference"


def test_a_folder_of_stores_is_read_store_by_store(tmp_path):
    for name in ("b", "a"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "records.jsonl").write_text("")
    (tmp_path / "empty").mkdir()
    assert stores(tmp_path) == [tmp_path / "a", tmp_path / "b"]
    assert stores(tmp_path / "a") == [tmp_path / "a"]  # a store is read as itself


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference") / "site"
    result = build_site(str(REFERENCE), out)
    assert not result.warnings
    return out


@pytest.mark.filterwarnings("error::UserWarning")  # e.g. matplotlib: a legend squeezed the axes to nothing
def test_every_reference_store_appears_on_the_site(tmp_path):
    folders = stores(REFERENCE)
    assert REFERENCE / "quick" in folders
    result = build_site(str(REFERENCE), tmp_path / "site")
    assert not result.warnings
    index = (tmp_path / "site" / "index.html").read_text()
    for folder in folders:
        tasks = {json.loads(line)["task"]["name"] for line in (folder / "records.jsonl").open()}
        assert all(f"tasks/{task}.html" in index for task in tasks), (folder, tasks)
    for svg in (tmp_path / "site" / "plots").glob("*-curves*.svg"):  # every S(alpha) figure is shown
        assert (
            f"../plots/{svg.name}"
            in (tmp_path / "site" / "tasks" / f"{svg.name.split('-curves')[0]}.html").read_text()
        )


def test_no_two_sections_share_a_figure_or_an_id(site):
    """Each page's ids are unique and each figure file is shown once on it: two sections that wrote
    one SVG name showed one section's caption over the other's plot."""
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 10
    for page in pages:
        html = page.read_text()
        ids = Counter(re.findall(r'\sid="([^"]+)"', html))
        assert not [i for i, n in ids.items() if n > 1], page
        figures = Counter(re.findall(r'<img[^>]*\ssrc="([^"]+\.svg)"', html))
        assert not [f for f, n in figures.items() if n > 1], page
    privacy = (site / "privacy.html").read_text()
    shown = re.findall(r'<img[^>]*\ssrc="([^"]+\.svg)"', privacy)
    assert len(shown) >= 6 and all((site / s).exists() for s in shown)


def test_a_sweep_of_n_is_on_the_scaling_page_not_the_privacy_page(site):
    """scaling_dp varies n_train at two budgets: as a privacy series its points at one epsilon were
    several n with no n column."""
    privacy = (site / "privacy.html").read_text()
    assert "scaling_dp" not in privacy and "dp_epsilon" in privacy
    assert (
        "scaling_dp" in (site / "scaling.html").read_text()
        or "target_epsilon" in (site / "scaling.html").read_text()
    )
