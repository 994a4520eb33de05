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


def _table(html: str, table_id: str) -> list[tuple[str, str]]:
    """(configuration, rank) of each row of one results table."""
    table = html.split(f'id="{table_id}"')[1].split("</table>")[0]
    return re.findall(r'<tr data-config="([^"]+)"[^>]*>\s*<td class="num col-rank"[^>]*>([^<]*)<', table)


def test_the_index_ranks_one_standard_setting_per_task_and_merges_identical_configurations(site):
    """The headline of mnist_patch is the standard suite's configurations at the full training set:
    quick's ERM and scaling's ERM at n = 4,000 (the full set) are one row, DP-SGD appears at the
    standard suite's four budgets, and no sweep of n, epochs or C is ranked beside them."""
    index = (site / "index.html").read_text()
    head = _table(index, "results-mnist_patch")
    assert sorted(c for c, _ in head) == [
        "dpsgd(epochs=16, lr=1.0, max_grad_norm=1.0, target_epsilon=8.0, source=embedded)",
        "dpsgd(epochs=16, lr=2.0, max_grad_norm=1.0, target_epsilon=inf, source=embedded)",
        "dpsgd(epochs=8, lr=1.0, max_grad_norm=1.0, target_epsilon=1.0, source=embedded)",
        "dpsgd(epochs=8, lr=2.0, max_grad_norm=1.0, target_epsilon=2.0, source=embedded)",
        "erm(epochs=10, source=embedded)",
    ]  # full MNIST (source=mnist, 60,000 digits) is on the task page, not ranked beside them
    erm_label = "erm(epochs=10, source=embedded)"
    assert head[0] == (erm_label, "1")
    erm = (
        index.split('id="results-mnist_patch"')[1]
        .split(f'<tr data-config="{erm_label}"')[1]
        .split("</tr>")[0]
    )
    assert 'col-runs" data-sort-value="60"' in erm  # 35 quick runs + 25 scaling runs at n = 4,000
    task = (site / "tasks" / "mnist_patch.html").read_text()
    every = [c for c, _ in _table(task, "results")]
    assert len(every) == len(set(every)) > len(head)
    assert not [c for c in every if "delta=" in c]  # delta=None resolved to the 1e-4 the runs used
    assert 'col-n" data-sort-value="500.0"' in task.split('id="results"')[1]  # n varies: a column says
    assert "erm(epochs=10, source=mnist)" in every
    assert "col-n" not in index  # the headline holds one n


def test_rows_whose_intervals_overlap_share_a_rank_on_the_site(site):
    birds = _table((site / "index.html").read_text(), "results-waterbirds_feature_flip")
    assert {r for _, r in birds} == {"1="}  # every interval overlaps or touches ERM's [0.0075, 0.015]


def test_task_trade_off_plots_draw_the_standard_setting_only(site):
    """Drawn with every sweep, the epsilon plot had 15-18 series and 17 reference lines (ERM at n = 500
    beside DP-SGD at 4,000); at the standard setting it holds DP-SGD's budgets, epsilon inf and ERM."""
    svg = (site / "plots" / "mnist_patch-dpsgd-alpha-vs-target_epsilon.svg").read_text()
    legend = re.findall(r"<!-- (.*?) -->", svg.split('<g id="legend_1">')[1])
    assert legend == [
        "epochs=16, lr=1",
        "epochs=8, lr=1",
        "epochs=8, lr=2",
        "epochs=16, lr=2, target_epsilon=inf: α* 0.111",
        "erm(epochs=10, source=embedded): α* 0.018",
    ]
    assert not (site / "plots" / "mnist_patch-dpsgd-alpha-vs-max_grad_norm.svg").exists()  # C: privacy page
