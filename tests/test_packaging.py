"""One import namespace: the build maps the repository's folders under `aca_bench`, so an installed
aca-bench puts nothing generic (`benchmark`, `tasks`, ...) at the top of site-packages."""

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("benchmark", "tasks", "algorithms", "leaderboard")


def _setuptools() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def _packages_on_disk() -> set[str]:
    found = {"aca_bench"}
    for folder in FOLDERS:
        for init in (ROOT / folder).rglob("__init__.py"):
            found.add(".".join(("aca_bench", *init.parent.relative_to(ROOT).parts)))
    return found


def test_every_package_folder_is_listed_and_mapped_under_aca_bench():
    cfg = _setuptools()
    assert set(cfg["packages"]) == _packages_on_disk()
    assert cfg["package-dir"] == {"aca_bench": "aca_bench", **{f"aca_bench.{f}": f for f in FOLDERS}}


def test_entry_points_and_registry_implementations_name_the_namespace():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert all(v.startswith("aca_bench.") for v in project["scripts"].values())
    cards = sorted((ROOT / "algorithms").glob("*.yaml"))
    assert cards
    for card in cards:
        assert yaml.safe_load(card.read_text())["implementation"].startswith("aca_bench.algorithms."), card


def test_the_wheel_holds_one_top_level_package_with_its_data(tmp_path):
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run(
        [*pip, "-w", tmp_path, ROOT],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("aca_bench-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"aca_bench", wheel.name.split("-py")[0] + ".dist-info"}
    for data in ("aca_bench/benchmark/suites/quick.yaml", "aca_bench/algorithms/erm.yaml"):
        assert data in names
    assert "aca_bench/leaderboard/templates/index.html" in names
    assert "aca_bench/benchmark/executors/ray.py" in names and "aca_bench/benchmark/perf/ceiling.py" in names
