"""A results store and a leaderboard site cannot be confused (issue 35 case 1): a site build deletes only
the files the last build wrote, refuses a folder that holds a results store, and a sweep refuses a site
folder; each refusal is one line, and no record is lost."""

import json

import pytest

from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.store import SITE_MARKER, Store
from aca_bench.leaderboard.build import write_site


def _one_line_error(result, *fragments):
    assert result.exit_code != 0 and "Traceback" not in result.output, result.output
    errors = [ln for ln in result.output.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1, result.output
    for frag in fragments:
        assert frag in errors[0], result.output


def _store(folder, tiny_record):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "records.jsonl").write_text(json.dumps(tiny_record) + "\n")
    return folder


def test_the_issue_sequence_loses_no_record(cli, tmp_path, tiny_record):
    """build R -> S, sweep --out S, build --results S --out S: S/records.jsonl was deleted."""
    results, site = _store(tmp_path / "r", tiny_record), tmp_path / "site"
    assert cli("leaderboard", "build", "--results", results, "--out", site).exit_code == 0
    sweep = ("sweep", "--task", "mnist_patch", "--algorithm", "erm", "--seeds", "1", "--alphas", "0.1")
    _one_line_error(
        cli(*sweep, "--out", site), f"results folder '{site}' holds a leaderboard site ({SITE_MARKER})"
    )
    assert not (site / "records.jsonl").exists()
    # records put there by other means (a copy, an older version) are refused as the site's folder
    (site / "records.jsonl").write_text(json.dumps(tiny_record) + "\n")
    _one_line_error(
        cli("leaderboard", "build", "--results", site, "--out", site),
        f"--out {site} holds a results store (records.jsonl)",
    )
    assert (site / "records.jsonl").read_text() == json.dumps(tiny_record) + "\n"


def test_a_build_refuses_a_results_store_as_its_out(cli, tmp_path, tiny_record):
    results = _store(tmp_path / "r", tiny_record)
    before = sorted(p.name for p in results.iterdir())
    _one_line_error(
        cli("leaderboard", "build", "--results", results, "--out", results),
        f"--out {results} holds a results store (records.jsonl); a site is written to a folder of its own",
    )
    assert sorted(p.name for p in results.iterdir()) == before


def test_store_check_refuses_a_site_folder(tmp_path):
    write_site({"index.html": b"x", SITE_MARKER: b"marker\n"}, tmp_path)
    with pytest.raises(BenchError, match="holds a leaderboard site"):
        Store(tmp_path).check()
    assert not (tmp_path / "records.jsonl").exists()


def test_a_rebuild_deletes_only_files_the_last_build_wrote(cli, tmp_path, tiny_record):
    results, site = _store(tmp_path / "r", tiny_record), tmp_path / "site"
    assert cli("leaderboard", "build", "--results", results, "--out", site).exit_code == 0
    listed = (site / SITE_MARKER).read_text().splitlines()[1:]
    assert "index.html" in listed and SITE_MARKER not in listed
    (site / "notes.txt").write_text("mine")  # not the build's
    (site / "old").mkdir()
    (site / "old" / "page.html").write_text("a page an earlier build wrote")
    (tmp_path / "outside.txt").write_text("not the site's")
    with open(site / SITE_MARKER, "a") as f:
        f.write("old/page.html\n../outside.txt\n")
    assert cli("leaderboard", "build", "--results", results, "--out", site).exit_code == 0
    assert (site / "notes.txt").read_text() == "mine"
    assert not (site / "old").exists()  # its page went, and the folder it left empty
    assert (tmp_path / "outside.txt").exists()  # a marker cannot name files outside the site
    assert (site / "index.html").exists()


def test_a_marker_of_an_older_build_deletes_nothing(tmp_path):
    (tmp_path / SITE_MARKER).write_text("built by aca-bench leaderboard build; the folder is replaced\n")
    (tmp_path / "page.html").write_text("old")
    written = write_site({"index.html": b"new", SITE_MARKER: b"m\n"}, tmp_path)
    assert written == ["index.html"]
    assert (tmp_path / "page.html").read_text() == "old"
