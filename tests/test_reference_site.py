"""The committed reference records render as one site (`--results leaderboard/reference`)."""

import json
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
