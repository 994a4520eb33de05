"""The leaderboard says no more than the data: per-configuration bounds, ranks by what is known,
degenerate rows unranked, no interval below 3 seeds, strict downloads, and a torch-free build.

Stores here are fabricated test fixtures; nothing in them is a result.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from test_leaderboard import fabricated_records, record, write_store

from aca_bench.benchmark.aggregate import non_monotone
from aca_bench.benchmark.ids import canonical

ROOT = Path(__file__).resolve().parents[1]
NEVER = (0.01, 0.05, 0.2, 0.5)  # S at the alphas of a grid: never reaches 0.9


def _mixed_grid_records() -> list[dict]:
    """DP-SGD at epsilon 8 on a grid to 0.4 and at epsilon 1 on a grid to 0.002, neither reaching the
    target, 3 seeds each; ERM reaching it."""
    recs = []
    for seed in range(3):
        for eps, alphas in ((8.0, (0.0, 0.1, 0.2, 0.4)), (1.0, (0.0, 0.0005, 0.001, 0.002))):
            hp = {"lr": 0.05, "epochs": 2, "target_epsilon": eps, "max_grad_norm": 1.0}
            for alpha, s in zip(alphas, NEVER, strict=True):
                recs.append(
                    record(
                        "mnist_patch",
                        "dpsgd",
                        hp,
                        alpha,
                        seed,
                        s + 0.01 * seed,
                        0.85,
                        {},
                        {"epsilon_spent": eps},
                    )
                )
        for alpha, s in zip((0.0, 0.001, 0.01, 0.1), (0.01, 0.4, 0.95, 1.0), strict=True):
            recs.append(record("mnist_patch", "erm", {"lr": 0.05, "epochs": 2}, alpha, seed, s, 0.97))
    return recs


def _row(html: str, config: str) -> str:
    return html.split(f'data-config="{config}"')[1].split("</tr>")[0]


def test_a_store_mixing_grids_renders_each_bound(tmp_path, monkeypatch):
    """Each configuration's "not reached" names its own largest alpha: in the tables, the notes, the
    downloads and the trade-off plot."""
    import aca_bench.leaderboard.pages as pages
    from aca_bench.leaderboard.build import build_site

    drawn = []
    real = pages.tradeoff_svg
    monkeypatch.setattr(pages, "tradeoff_svg", lambda *a: drawn.append(a) or real(*a))
    build_site(write_store(tmp_path / "store", _mixed_grid_records()), tmp_path / "site")
    site = tmp_path / "site"
    for page in ("index.html", "tasks/mnist_patch.html", "algorithms/dpsgd.html"):
        html = (site / page).read_text()
        wide, narrow = _row(html, "dpsgd(target_epsilon=8.0)"), _row(html, "dpsgd(target_epsilon=1.0)")
        assert ">not reached (&gt; 0.4)<" in wide and ">not reached (&gt; 0.002)<" in narrow, page
        assert "0.4" not in narrow
        # ERM's 0.0054 is certainly below "> 0.4" but cannot be ordered against "> 0.002"
        assert 'col-rank" data-sort-value="2">2<' in wide and ">1=<" in narrow
    doc = json.loads((site / "data/leaderboard.json").read_text())
    by_eps = {r["hparams"].get("target_epsilon"): r for r in doc["rows"]}
    assert by_eps[8.0]["alpha_max"] == 0.4 and by_eps[1.0]["alpha_max"] == 0.002
    assert by_eps[8.0]["alpha_star_text"] == "not reached (> 0.4)"
    assert by_eps[1.0]["alpha_star_text"].startswith("not reached (> 0.002)")
    csv = pd.read_csv(site / "data/leaderboard.csv")
    assert sorted(csv["alpha_max"]) == [0.002, 0.1, 0.4]
    # the plot draws each bound at its own largest alpha (arrow up from there), ERM as a reference line
    (title, xlabel, points, refs) = next(a for a in drawn if "epsilon" in a[1])
    assert {(p.x, p.status, p.alpha_max) for p in points} == {
        (8.0, "not_reached", 0.4),
        (1.0, "not_reached", 0.002),
    }
    assert [r.label.split(":")[0] for r in refs] == ["erm"] and xlabel == "privacy budget epsilon (nominal)"
    svg = (site / "plots/mnist_patch-dpsgd-alpha-vs-target_epsilon.svg").read_text()
    assert "<svg" in svg


def _crit(rows: list[dict]) -> pd.DataFrame:
    base = {
        "task": "t",
        "algorithm": "a",
        "alpha_star_low": None,
        "alpha_star_high": None,
        "success_at_0": 0.0,
        "clean_accuracy_at_0": 0.9,
        "worst_group_accuracy_at_0": None,
        "epsilon": None,
        "runs": 10,
        "alpha_max": 0.1,
        "non_monotone": False,
    }
    out = []
    for r in rows:
        row = {**base, **r}
        row["config_id"] = canonical(
            {"task": {"name": "t"}, "algorithm": {"name": "a", "hparams": {"k": row["config"]}}}
        )
        out.append(row)
    return pd.DataFrame(out)


def test_ranks_use_what_is_known_and_degenerate_rows_come_last():
    """A rank counts the rows whose alpha* is certainly smaller (their interval ends before this one's
    begins): overlapping intervals, a point against an upper bound, two lower bounds are ties."""
    from aca_bench.benchmark.critical import CriticalMass
    from aca_bench.leaderboard.rows import make_rows

    def row(config, status, value, low, high, seeds, reason=None):
        cm = CriticalMass(
            value, status, low, high, seeds, 0.9, 0.1 if status == "not_reached" else 0.4, reason
        )
        return {"config": config, "status": status, "alpha_star": value, "seeds": seeds, "critical": cm}

    reason = "degenerate: clean accuracy 0.10 at alpha 0"
    crit = _crit(
        [
            row("A", "reached", 0.01, 0.008, 0.012, 5),
            row("G", "reached", 0.011, 0.009, 0.02, 5),  # overlaps A's interval
            row("B", "at_most", 0.001, None, 0.001, 5),
            row("C", "reached", 0.0005, None, None, 1),  # one seed: a point, no interval
            row("D", "not_reached", None, None, None, 5),
            row("E", "reached", 0.2, 0.15, 0.3, 5),
            row("F", "degenerate", None, None, None, 5, reason),
        ]
    )
    rows = make_rows(crit, {})
    assert [(r.config, r.rank) for r in rows] == [
        ("C", "1="),  # 0.0005 and "<= 0.001" cannot be ordered
        ("B", "1="),
        ("A", "3="),  # [0.008, 0.012] and [0.009, 0.02] overlap: a tie, not an order
        ("G", "3="),
        ("E", "5="),  # [0.15, 0.3] and "> 0.1" cannot be ordered
        ("D", "5="),
        ("F", "\u2013"),  # never ranked, last
    ]
    by = {r.config: r for r in rows}
    assert by["A"].interval == "[0.008, 0.012]" and by["C"].interval == ""  # no interval below 3 seeds
    assert by["B"].alpha_star == "<= 0.001" and by["B"].interval == "[0, 0.001]"
    assert by["D"].alpha_star == "not reached (> 0.1)"
    assert by["F"].alpha_star == "degenerate" and by["F"].note == reason
    assert by["F"].rank_sort == "" and by["F"].alpha_sort == ""
    assert [r.alpha_sort for r in rows[:6]] == ["0", "1", "2", "3", "4", "5"]
    # touching intervals are not an order either; a gap is
    crit = _crit([row("A", "reached", 0.01, 0.0075, 0.015, 5), row("B", "reached", 0.005, 0.002, 0.0075, 5)])
    assert [r.rank for r in make_rows(crit, {})] == ["1=", "1="]
    crit = _crit([row("A", "reached", 0.01, 0.008, 0.015, 5), row("B", "reached", 0.005, 0.002, 0.0075, 5)])
    assert [(r.config, r.rank) for r in make_rows(crit, {})] == [("B", "1"), ("A", "2")]


def test_a_degenerate_configuration_is_shown_with_its_reason_and_never_ranked(tmp_path, monkeypatch):
    """Rendering of the status the aggregation layer gives a model that did not learn."""
    import aca_bench.leaderboard.build as build
    from aca_bench.benchmark.aggregate import critical_table

    reason = "degenerate: clean accuracy 0.10 at alpha 0"

    def with_degenerate(runs, target):
        crit = critical_table(runs, target)
        hit = crit["config"] == "dpsgd(max_grad_norm=1.0, target_epsilon=8.0)"
        crit.loc[hit, ["status", "alpha_star", "alpha_star_low", "alpha_star_high"]] = [
            "degenerate",
            None,
            None,
            None,
        ]
        crit["degenerate_reason"] = None
        crit.loc[hit, "degenerate_reason"] = reason
        crit.loc[hit, "critical"] = [cm.degenerate(reason) for cm in crit.loc[hit, "critical"]]
        return crit

    monkeypatch.setattr(build, "critical_table", with_degenerate)
    build.build_site(write_store(tmp_path / "store", fabricated_records()), tmp_path / "site")
    html = (tmp_path / "site/index.html").read_text()
    table = html.split('id="results-mnist_patch"')[1].split("</table>")[0]
    configs = re.findall(r'<tr data-config="([^"]+)" data-status="([^"]+)"', table)
    assert configs[-1] == ("dpsgd(max_grad_norm=1.0, target_epsilon=8.0)", "degenerate")
    row = _row(table, "dpsgd(max_grad_norm=1.0, target_epsilon=8.0)")
    assert reason in row and 'col-rank" data-sort-value="">\u2013<' in row
    assert re.findall(r'col-rank" data-sort-value="(\d*)"', table) == ["1", "2", "3", "4", ""]
    doc = json.loads((tmp_path / "site/data/leaderboard.json").read_text())
    (deg,) = [r for r in doc["rows"] if r["status"] == "degenerate"]
    assert deg["degenerate_reason"] == reason and deg["alpha_star"] is None


def test_downloads_are_strict_json_with_one_type_per_field(tmp_path):
    from aca_bench.leaderboard.build import build_site

    recs = fabricated_records() + [
        record(
            "mnist_patch",
            "dpsgd",
            {"lr": 0.05, "epochs": 2, "target_epsilon": float("inf"), "max_grad_norm": 1.0},
            a,
            0,
            s,
            0.9,
            {},
            {"epsilon_spent": float("inf")},
        )
        for a, s in zip((0.0, 0.001, 0.01, 0.1), (0.02, 0.5, 0.95, 1.0), strict=True)
    ]
    build_site(write_store(tmp_path / "store", recs), tmp_path / "site")
    text = (tmp_path / "site/data/leaderboard.json").read_text()
    doc = json.loads(text, parse_constant=pytest.fail)  # no NaN / Infinity tokens
    types: dict[str, set[str]] = {}
    for row in doc["rows"]:
        for key, value in row.items():
            if value is not None:
                types.setdefault(key, set()).add(type(value).__name__)
    mixed = {k: t for k, t in types.items() if len(t) > 1}
    assert mixed == {} and types["epsilon"] == {"float"} and types["infinite_fields"] == {"list"}
    assert types["alpha_max"] == {"float"} and types["seeds"] == {"int"} and types["non_monotone"] == {"bool"}
    assert sum(r["infinite_fields"] == ["epsilon", "hparams.target_epsilon"] for r in doc["rows"]) == 1


@pytest.mark.parametrize(
    ("sd", "seeds", "flagged"),
    [(0.005, 5, True), (0.05, 5, False), (0.0, 1, False)],
)
def test_non_monotone_is_judged_against_the_seed_spread(sd, seeds, flagged):
    """Group DRO's 0.912 at 0.003 then 0.880 at 0.005: a fall beyond the spread is flagged, one within it
    is not, and one seed cannot be judged."""
    rows = []
    for alpha, mean in ((0.0, 0.1), (0.003, 0.912), (0.005, 0.880), (0.01, 0.95)):
        for seed in range(seeds):
            sign = 1 if seed % 2 else -1
            rows.append({"alpha": alpha, "seed": seed, "success": mean + (sign * sd if seeds > 1 else 0.0)})
    assert non_monotone(pd.DataFrame(rows)) is flagged


def test_every_header_has_a_tooltip_and_synthetic_data_has_a_banner(tmp_path):
    from aca_bench.leaderboard.build import build_site

    recs = fabricated_records()
    for r in recs:
        if r["task"]["name"] == "waterbirds":
            r["task"]["params"] = {"source": "synthetic"}
    build_site(write_store(tmp_path / "store", recs), tmp_path / "site")
    pages = sorted((tmp_path / "site").rglob("*.html"))
    cards = len(list((Path(__file__).parents[1] / "algorithms").glob("*.yaml")))
    # index, methodology, submit, privacy (the DP-SGD fixture sweeps epsilon and C), 2 tasks, one per card
    assert len(pages) == 6 + cards
    for page in pages:
        html = page.read_text()
        headers = re.findall(r"<th\b[^>]*>", html)
        assert [h for h in headers if 'title="' not in h] == [], page
        assert "<title>" in html and "Leaderboard · aca-bench leaderboard" not in html
    birds = (tmp_path / "site/tasks/waterbirds.html").read_text()
    assert 'class="banner"' in birds and "source = synthetic" in birds
    assert 'class="banner"' not in (tmp_path / "site/tasks/mnist_patch.html").read_text()


def test_building_the_site_imports_neither_torch_nor_opacus(tmp_path):
    """The site is a function of records and cards as data: a fresh interpreter builds it without
    loading torch or Opacus."""
    store = write_store(tmp_path / "store", fabricated_records())
    code = (
        "import sys\n"
        "from aca_bench.leaderboard.build import build_site\n"
        f"build_site({str(store)!r}, {str(tmp_path / 'site')!r})\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'opacus', 'torchvision')))\n"
    )
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
    assert (tmp_path / "site/index.html").exists() and (tmp_path / "site/algorithms/dpsgd.html").exists()
