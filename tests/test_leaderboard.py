"""The leaderboard site: pages, tables, plots and downloads as a pure function of the store + registry.

The stores here are fabricated test fixtures (they exercise DP-SGD and group metrics before those
algorithms exist); nothing in them is a result.
"""

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from aca_bench.benchmark.ids import canonical
from aca_bench.benchmark.store import Store

ENV_CPU = {
    "device": "cpu",
    "device_name": "x86_64",
    "git_commit": "0123456789abcdef0123",
    "python": "3.11.7",
    "platform": "Linux-x86_64",
    "threads": 2,
    "packages": {"aca-bench": "0.1.0", "torch": "2.9.0", "numpy": "2.1.0", "opacus": "1.6.0"},
}
ENV_GPU = {**ENV_CPU, "device": "cuda", "device_name": "NVIDIA H100 80GB HBM3", "threads": 16}
MNIST_STRATEGY = {"name": "patch", "size": 3, "row": 25, "col": 25, "value": 255, "y_star": 8}
BIRDS_STRATEGY = {"name": "patch", "size": 8, "row": 0, "col": 0, "value": 255, "y_star": 1}
GROUPS = ("landbird/land", "landbird/water", "waterbird/land", "waterbird/water")
XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'


def record(
    task: str,
    algo: str,
    hparams: dict,
    alpha: float,
    seed: int,
    success: float,
    clean: float,
    metrics: dict | None = None,
    algorithm_record: dict | None = None,
    env: dict | None = None,
    strategy: dict | None = None,
) -> dict:
    """A run record shaped like aca_bench.benchmark.runner's (fabricated numbers, for tests only)."""
    config = {
        "task": {"name": task, "version": "1", "params": {"source": "fixture"}},
        "algorithm": {"name": algo, "hparams": hparams},
        "alpha": alpha,
        "seed": seed,
    }
    return {
        "run_id": hashlib.sha256(canonical(config).encode()).hexdigest()[:16],
        "experiment": f"{task}-{algo}",
        **config,
        "strategy": strategy or MNIST_STRATEGY,
        "n_train": 4000,
        "n_collective": round(4000 * alpha),
        "metrics": {"success": success, "clean_accuracy": clean, "n_success_eval": 900, **(metrics or {})},
        "algorithm_record": algorithm_record or {},
        "stack_size": 8,
        "wall_time_s": 1.5,
        "stack_wall_time_s": 12.0,
        "finished_at": "2026-01-01T00:00:00+00:00",
        "environment": env or ENV_CPU,
    }


ALPHAS = (0.0, 0.001, 0.01, 0.1)


def fabricated_records() -> list[dict]:
    """ERM and a DP-SGD (epsilon x C) grid on mnist_patch; ERM and GroupDRO with groups on waterbirds."""
    recs = []
    erm = {"lr": 0.05, "epochs": 2}
    for seed, jitter in enumerate((0.0, 0.02)):
        for alpha, s in zip(ALPHAS, (0.01, 0.35, 0.93, 1.0), strict=True):
            recs.append(
                record("mnist_patch", "erm", erm, alpha, seed, min(1.0, s + jitter), 0.97 - alpha / 10)
            )
        for eps in (1.0, 8.0):
            for clip in (0.5, 1.0):
                # smaller epsilon and C make the collective's job harder (not reached at eps 1, C 0.5)
                reach = {
                    (8.0, 1.0): (0.02, 0.4, 0.95, 1.0),
                    (8.0, 0.5): (0.02, 0.1, 0.6, 0.97),
                    (1.0, 1.0): (0.02, 0.05, 0.3, 0.92),
                    (1.0, 0.5): (0.02, 0.03, 0.1, 0.5),
                }[(eps, clip)]
                hp = {"lr": 0.05, "epochs": 2, "target_epsilon": eps, "max_grad_norm": clip}
                for alpha, s in zip(ALPHAS, reach, strict=True):
                    recs.append(
                        record(
                            "mnist_patch",
                            "dpsgd",
                            hp,
                            alpha,
                            seed,
                            min(1.0, s + jitter),
                            0.9 - 0.1 / eps,
                            env=ENV_GPU,
                            algorithm_record={
                                "epsilon_spent": eps * 0.98,
                                "delta": 1e-5,
                                "noise_multiplier": 4.0 / eps,
                                "accountant": "rdp",
                            },
                        )
                    )
        for algo, curve, worst in (
            ("erm", (0.05, 0.4, 0.97, 1.0), 0.62),
            ("groupdro", (0.05, 0.93, 1.0, 1.0), 0.81),
        ):
            for alpha, s in zip(ALPHAS, curve, strict=True):
                groups = dict(zip(GROUPS, (0.97, worst + 0.1, worst, 0.95), strict=True))
                recs.append(
                    record(
                        "waterbirds",
                        algo,
                        {"lr": 0.001, "epochs": 3},
                        alpha,
                        seed,
                        min(1.0, s + jitter),
                        0.9,
                        strategy=BIRDS_STRATEGY,
                        metrics={"group_accuracy": groups, "worst_group_accuracy": worst},
                    )
                )
    return recs


def write_store(root: Path, records: list[dict]) -> Path:
    Store(root).append(records)
    return root


XSS_MODULE = """
from aca_bench.algorithms.erm import ERM


class XssAlgo(ERM):
    name = "xss-algo"

    def update(self, *args):
        return super().update(*args)
"""


def xss_registry(folder: Path) -> Path:
    """A registry folder with one entry whose card fields hold HTML and a javascript: link."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "xss_algo_impl.py").write_text(XSS_MODULE)
    (folder / "xss_algo.yaml").write_text(
        "name: xss-algo\nimplementation: xss_algo_impl:XssAlgo\n"
        f"description: {json.dumps(XSS)}\n"
        "authors: ['<b>Mallory</b>']\npaper: 'javascript:alert(1)'\ncode: https://example.org/x?a=1&b=2\n"
        "license: MIT\nneeds: []\nstackable: true\n"
    )
    return folder


def build(store: Path, out: Path, registry_folder: Path | None = None) -> Path:
    from aca_bench.leaderboard.build import build_site

    result = build_site(store, out, [registry_folder] if registry_folder else [])
    assert not [w for w in result.warnings if "xss" in w], result.warnings
    return out


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """(store, registry folder): the fabricated store and a folder with the xss registry entry."""
    root = tmp_path_factory.mktemp("inputs")
    return write_store(root / "store", fabricated_records()), xss_registry(root / "reg")


@pytest.fixture(scope="module")
def site(inputs, tmp_path_factory):
    """The site built from `inputs` (built once per module)."""
    return build(*inputs[:1], tmp_path_factory.mktemp("site") / "site", inputs[1])


def _read(site: Path, rel: str) -> str:
    return (site / rel).read_text()


def test_pages_plots_and_downloads_are_written(site):
    files = {str(p.relative_to(site)) for p in site.rglob("*") if p.is_file()}
    expected = {
        "index.html",
        "methodology.html",
        "tasks/mnist_patch.html",
        "tasks/waterbirds.html",
        "algorithms/erm.html",
        "algorithms/dpsgd.html",
        "algorithms/groupdro.html",
        "plots/mnist_patch-curves.svg",
        "plots/waterbirds-curves.svg",
        "plots/mnist_patch-dpsgd-alpha-vs-target_epsilon.svg",
        "plots/mnist_patch-dpsgd-alpha-vs-max_grad_norm.svg",
        "submit.html",
        "data/leaderboard.csv",
        "data/leaderboard.json",
        "data/curves.csv",
        "assets/style.css",
        "assets/sortable.js",
    }
    assert expected <= files
    assert "algorithms/xss-algo.html" in files  # a registry entry without results still gets its card
    # trade-off plots only for axes a card declares and the configurations sweep (groupdro's eta_q is not)
    assert not [f for f in files if f.startswith("plots/waterbirds-") and "-alpha-vs-" in f]


def test_many_configurations_split_into_figures_of_at_most_eight_per_algorithm():
    from aca_bench.leaderboard.plots import MAX_CURVES, curve_panels

    few = [f"erm(lr={i})" for i in range(MAX_CURVES)]
    assert curve_panels(few[::-1]) == [("", sorted(few))]
    dp = [f"dpsgd(lr={i:02d})" for i in range(33)]
    panels = curve_panels(few + dp)
    assert [name for name, _ in panels] == [f"dpsgd, {i} of 5" for i in range(1, 6)] + ["erm"]
    assert [len(c) for _, c in panels] == [7, 7, 7, 7, 5, 8]
    assert [c for _, part in panels for c in part] == sorted(dp) + sorted(few)


def test_index_table_values_not_reached_and_optional_columns(site):
    html = _read(site, "index.html")
    mnist = html.split('id="results-mnist_patch"')[1].split("</table>")[0]
    birds = html.split('id="results-waterbirds"')[1].split("</table>")[0]
    # epsilon column on the DP task only, worst-group column on the group task only
    assert "\u03b5 spent</button>" in mnist and "Worst-group" not in mnist
    assert "Worst-group" in birds and "\u03b5 spent</button>" not in birds
    assert mnist.count("<tr data-config=") == 5 and birds.count("<tr data-config=") == 2
    nr = mnist.split('data-config="dpsgd(max_grad_norm=0.5, target_epsilon=1.0)"')[1].split("</tr>")[0]
    assert 'data-status="not_reached"' in nr and ">not reached (&gt; 0.1)<" in nr
    assert 'col-rank" data-sort-value="5">5<' in nr  # certainly above every reached alpha*
    assert 'class="num col-epsilon" data-sort-value="0.98">0.98<' in nr
    erm = mnist.split('data-config="erm"')[1].split("</tr>")[0]
    assert 'data-status="reached"' in erm and 'col-s0" data-sort-value="0.02">0.020<' in erm
    assert 'col-seeds" data-sort-value="2">2<' in erm and 'col-runs" data-sort-value="8">8<' in erm
    assert 'class="interval"' not in mnist  # 2 seeds: no interval shown
    dro = birds.split('data-config="groupdro"')[1].split("</tr>")[0]
    assert 'data-status="at_most"' in dro and "&lt;= 0.001" in dro  # crossed between 0 and the first alpha
    assert 'col-worst" data-sort-value="0.81">0.810<' in dro
    # rows ranked by alpha*, not reached last; the order is stated above each table
    assert mnist.index('data-config="erm"') < mnist.index('data-status="not_reached"')
    assert html.count("Ranked least resistant first") == 2
    # provenance: date, device and the full commit, linked
    assert "2026-01-01" in nr and "NVIDIA H100 80GB HBM3" in nr
    assert 'href="https://github.com/aca-bench/aca-bench/commit/0123456789abcdef0123"' in nr


def test_task_algorithm_and_methodology_pages(site):
    task = _read(site, "tasks/mnist_patch.html")
    assert (
        'src="../plots/mnist_patch-curves.svg"' in task
        and 'src="../plots/mnist_patch-dpsgd-alpha-vs-max_grad_norm.svg"' in task
    )
    privacy = task.split('id="privacy"')[1].split("</table>")[0]
    assert ">0.98<" in privacy and ">4<" in privacy  # epsilon spent, noise at eps 1
    # the privacy table's hyperparameter columns are the axes dpsgd's card declares
    assert "privacy budget epsilon (nominal)" in privacy and "clipping threshold C" in privacy
    assert "target_delta" not in task
    assert "the collective stamps a small square patch" in task  # description from the task's docstring
    birds = _read(site, "tasks/waterbirds.html")
    assert 'id="groups"' in birds and "waterbird/land" in birds and 'id="privacy"' not in birds
    erm = _read(site, "algorithms/erm.html")
    assert "Empirical risk minimisation" in erm and "<dt>Licence</dt><dd>MIT</dd>" in erm
    assert 'href="../tasks/mnist_patch.html"' in erm and 'href="../tasks/waterbirds.html"' in erm
    dp = _read(site, "algorithms/dpsgd.html")
    assert "<dt>Licence</dt>" in dp and "<code>engine: opacus</code>" in dp  # card Markdown rendered
    # the grids the built-in suites run, as their YAML sets them
    suites = dp.split('id="suites"')[1].split("</table>")[0]
    assert "<td>dp_epsilon</td><td>mnist-dpsgd-epsilon-0.5</td>" in suites and "<code>lr: 1</code>" in suites
    submit = _read(site, "submit.html")
    assert "aca-bench validate" in submit and "tradeoff_axes" in submit
    method = _read(site, "methodology.html")
    assert "NVIDIA H100 80GB HBM3" in method and "torch 2.9.0" in method
    assert "0123456789abcdef0123" in method
    assert "<dt>y_star</dt><dd><code>8</code></dd>" in method and "Student t" in method


def test_registry_strings_are_escaped_and_unsafe_links_are_text(site):
    page = _read(site, "algorithms/xss-algo.html")
    assert "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in page
    assert "<script>window" not in page and "<img src=x" not in page
    assert "&lt;b&gt;Mallory&lt;/b&gt;" in page
    assert 'href="javascript:' not in page and "javascript:alert(1)" in page
    assert 'href="https://example.org/x?a=1&amp;b=2"' in page
    assert page.count("<script") == 1  # the site's own sortable.js only


def test_an_outside_entry_is_suggested_with_its_registry_path(site, inputs):
    """Without --registry an outside entry fails with 'unknown algorithm': the page's command names it."""
    page = _read(site, "algorithms/xss-algo.html")
    assert f"aca-bench run standard --algorithm xss-algo --registry {inputs[1]}</code>" in page
    from aca_bench.leaderboard.sources import Card

    assert Card("erm", "algorithms/erm.yaml", {}).command == "aca-bench run standard --algorithm erm"
    assert Card("a b", "x.yaml", {}, registry="my reg").command.endswith(
        "--algorithm 'a b' --registry 'my reg'"
    )


def test_downloads_hold_the_aggregated_table(site):
    csv = pd.read_csv(site / "data/leaderboard.csv")
    doc = json.loads(_read(site, "data/leaderboard.json"))
    assert len(csv) == len(doc["rows"]) == 7 and doc["target"] == 0.9
    nr = [r for r in doc["rows"] if r["status"] == "not_reached"]
    assert len(nr) == 1 and nr[0]["alpha_star"] is None and nr[0]["hparams"]["max_grad_norm"] == 0.5
    assert set(csv["task"]) == {"mnist_patch", "waterbirds"}
    assert "config_id" not in csv.columns and json.loads(csv["hparams"].iloc[0])
    curves = pd.read_csv(site / "data/curves.csv")
    assert len(curves) == 7 * len(ALPHAS)


def test_same_inputs_give_byte_identical_files(site, inputs, tmp_path):
    again = build(inputs[0], tmp_path / "again", inputs[1])
    a = {p.relative_to(site): p.read_bytes() for p in site.rglob("*") if p.is_file()}
    b = {p.relative_to(again): p.read_bytes() for p in again.rglob("*") if p.is_file()}
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []
    svg = a[Path("plots/mnist_patch-curves.svg")].decode()
    assert "<dc:date>" not in svg and "<svg" in svg


def test_cli_builds_and_refuses_a_folder_that_is_not_a_site(cli, tmp_path):
    erm_only = [
        r
        for r in fabricated_records()
        if r["algorithm"]["name"] == "erm" and r["task"]["name"] == "mnist_patch"
    ]
    store = write_store(tmp_path / "store", erm_only)
    other = tmp_path / "other"
    other.mkdir()
    (other / "precious.txt").write_text("keep me")
    result = cli("leaderboard", "build", "--out", other, "--results", store)
    assert result.exit_code != 0 and "not empty and holds no leaderboard site" in result.output
    assert (other / "precious.txt").exists()
    site = tmp_path / "site"
    (tmp_path / "site").mkdir()
    for _ in range(2):  # a second build replaces the first
        result = cli("leaderboard", "build", "--out", site, "--results", store, "--target", "0.95")
        assert result.exit_code == 0, result.output
    assert "site with" in result.output and (site / "index.html").exists()
    assert "S = 0.95" in (site / "index.html").read_text()
    result = cli("leaderboard", "build", "--out", tmp_path / "x", "--results", tmp_path / "nothing")
    assert result.exit_code != 0 and "no results in" in result.output and "Traceback" not in result.output


def test_slugs_are_safe_and_distinct():
    from aca_bench.leaderboard.text import safe_url, slug

    assert slug("erm") == "erm" and slug("mnist_patch") == "mnist_patch"
    names = ["ERM", "erm", "a/b", "a b", "../x", "<script>"]
    slugs = [slug(n) for n in names]
    assert len(set(slugs)) == len(names) and all("/" not in s and not s.startswith(".") for s in slugs)
    assert safe_url("https://arxiv.org/abs/1") and not safe_url("javascript:alert(1)") and not safe_url(3)


def test_a_non_private_reference_with_infinite_epsilon(tmp_path):
    """target_epsilon = inf (no noise) shows as inf, is a reference line off the trade-off axis; the JSON
    stays strict: the infinite value is null and its field is named in infinite_fields."""
    from aca_bench.leaderboard.build import build_site

    recs = []
    for eps in (float("inf"), 8.0, 1.0):
        hp = {"lr": 0.05, "epochs": 2, "target_epsilon": eps, "max_grad_norm": 1.0}
        for alpha, s in zip(ALPHAS, (0.02, 0.3, 0.95, 1.0), strict=True):
            recs.append(
                record(
                    "mnist_patch",
                    "dpsgd",
                    hp,
                    alpha,
                    0,
                    s,
                    0.9,
                    algorithm_record={"epsilon_spent": eps, "noise_multiplier": 0.0 if eps > 8 else 1.0},
                )
            )
    build_site(write_store(tmp_path / "store", recs), tmp_path / "site")
    doc = json.loads((tmp_path / "site/data/leaderboard.json").read_text(), parse_constant=pytest.fail)
    by_eps = {r["hparams"]["target_epsilon"]: r for r in doc["rows"]}
    assert set(by_eps) == {None, 8.0, 1.0} and by_eps[8.0]["epsilon"] == 8.0
    assert by_eps[None]["epsilon"] is None
    assert by_eps[None]["infinite_fields"] == ["epsilon", "hparams.target_epsilon"]
    assert by_eps[8.0]["infinite_fields"] == []
    csv = pd.read_csv(tmp_path / "site/data/leaderboard.csv", keep_default_na=False)
    assert sorted(csv["infinite_fields"]) == ["", "", "epsilon;hparams.target_epsilon"]
    index = (tmp_path / "site/index.html").read_text()
    assert 'col-epsilon" data-sort-value="Infinity">inf<' in index
    svg = (tmp_path / "site/plots/mnist_patch-dpsgd-alpha-vs-target_epsilon.svg").read_text()
    assert "<svg" in svg  # from the two finite epsilons, inf as a reference line
