"""The results store: atomic appends, no duplicates, truncated records reported and repaired."""

import json
import multiprocessing as mp

import pytest

from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.store import Store, load_records


def _rec(i, **extra):
    """A minimal run record that passes the store's schema (`aca_bench.benchmark.record_schema`)."""
    return {
        "run_id": f"r{i}",
        "task": {"name": "t", "params": {}},
        "algorithm": {"name": "erm", "hparams": {}},
        "alpha": 0.0,
        "seed": i,
        "n_collective": 0,
        "metrics": {"success": i % 10 / 10, "clean_accuracy": 0.9},
        "wall_time_s": 1.0,
        **extra,
    }


def test_append_skips_run_ids_already_stored(tmp_path):
    store = Store(tmp_path)
    assert store.append([_rec(1), _rec(2)]) == 2
    assert store.append([_rec(2), _rec(3)]) == 1
    records, problems = store.read()
    assert [r["run_id"] for r in records] == ["r1", "r2", "r3"] and problems == []
    assert store.done_ids() == {"r1", "r2", "r3"}


def test_truncated_last_record_is_reported_and_moved_aside(tmp_path):
    store = Store(tmp_path)
    store.append([_rec(1), _rec(2)])
    with open(store.path, "ab") as f:
        f.write(json.dumps(_rec(3)).encode()[:15])  # a crash mid-write
    records, problems = store.read()
    assert [r["run_id"] for r in records] == ["r1", "r2"]
    assert len(problems) == 1 and "line 3: truncated last record" in problems[0]
    store.append([_rec(4)])
    records, problems = store.read()
    assert [r["run_id"] for r in records] == ["r1", "r2", "r4"] and problems == []
    damaged = (tmp_path / "records.jsonl.damaged").read_text()
    assert damaged.startswith('{"run_id": "r3"')


def test_corrupt_middle_line_is_reported_not_dropped_silently(tmp_path):
    store = Store(tmp_path)
    store.path.write_text(json.dumps(_rec(1)) + "\n{garbage\n" + json.dumps(_rec(2)) + "\n")
    records, problems = store.read()
    assert [r["run_id"] for r in records] == ["r1", "r2"]
    assert problems == [f"{store.path}: line 2: unreadable record; skipped, its cell will be rerun"]


def test_damaged_middle_line_is_moved_aside_by_the_next_writer_and_said_once(tmp_path):
    store = Store(tmp_path)
    store.path.write_text(json.dumps(_rec(1)) + "\n{garbage\n[1, 2]\n" + json.dumps(_rec(2)) + "\n")
    assert len(store.read()[1]) == 2  # readers report it, as long as it is there
    moved = store.check()  # what a sweep does first
    assert moved == [
        f"{store.path}: line 2: unreadable record; moved to {tmp_path / 'records.jsonl.damaged'}, "
        "its cell is rerun",
        f"{store.path}: line 3: unreadable record; moved to {tmp_path / 'records.jsonl.damaged'}, "
        "its cell is rerun",
    ]
    records, problems = store.read()
    assert [r["run_id"] for r in records] == ["r1", "r2"] and problems == []
    assert (tmp_path / "records.jsonl.damaged").read_text() == "{garbage\n[1, 2]\n"
    assert store.check() == []  # healed: nothing more to say


def test_append_heals_a_damaged_middle_line(tmp_path):
    store = Store(tmp_path)
    store.path.write_text(json.dumps(_rec(1)) + "\n{garbage\n" + json.dumps(_rec(2)) + "\n")
    assert store.append([_rec(3)]) == 1
    records, problems = store.read()
    assert [r["run_id"] for r in records] == ["r1", "r2", "r3"] and problems == []


def test_an_intact_last_record_without_newline_is_kept(tmp_path):
    store = Store(tmp_path)
    store.path.write_text(json.dumps(_rec(1)))
    store.append([_rec(2)])
    assert [r["run_id"] for r in store.read()[0]] == ["r1", "r2"]


def test_forget_removes_only_named_records(tmp_path):
    store = Store(tmp_path)
    store.append([_rec(1), _rec(2), _rec(3)])
    assert store.forget({"r2"}) == 1
    assert [r["run_id"] for r in store.read()[0]] == ["r1", "r3"]


def test_missing_results_folder_is_a_one_line_error(tmp_path):
    with pytest.raises(BenchError, match="no results in"):
        load_records(tmp_path / "none")


def test_a_store_of_the_other_kind_is_a_one_line_error(tmp_path):
    runs, perf = Store(tmp_path / "runs"), Store(tmp_path / "perf")
    runs.append([_rec(1)])
    perf.append([{"run_id": "p-erm-naive loop", "perf_run": "p"}])
    assert [r["run_id"] for r in load_records(runs.root)[0]] == ["r1"]
    assert [r["run_id"] for r in load_records(perf.root, "perf")[0]] == ["p-erm-naive loop"]
    with pytest.raises(BenchError, match="holds `aca-bench perf` timings, not run records"):
        load_records(perf.root)
    with pytest.raises(BenchError, match=r"holds run records \(sweep, run\), not `aca-bench perf` timings"):
        load_records(runs.root, "perf")


def _writer(root, start):
    store = Store(root)
    for i in range(start, start + 40):
        store.append([_rec(i, pad="x" * 5000)])


def test_concurrent_writers_do_not_corrupt_the_store(tmp_path):
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(tmp_path, s)) for s in (0, 20, 40)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    records, problems = Store(tmp_path).read()
    assert problems == []
    ids = [r["run_id"] for r in records]
    assert sorted(ids) == sorted({f"r{i}" for i in range(80)}) and len(ids) == len(set(ids)) == 80


def test_a_leased_cell_goes_to_one_owner_until_released(tmp_path):
    store = Store(tmp_path)
    assert store.claim("a", ["r1", "r2"]) == ({"r1", "r2"}, set())
    assert store.claim("b", ["r1", "r2", "r3"]) == ({"r3"}, set())
    store.release("a", {"r1"})
    assert store.claim("b", ["r1", "r2"]) == ({"r1"}, set())
    store.append([_rec(2)])
    assert store.claim("b", ["r2"]) == (set(), {"r2"})  # stored: nothing to claim


def test_a_lease_not_renewed_goes_stale(tmp_path, monkeypatch):
    import aca_bench.benchmark.store as store_module

    store = Store(tmp_path)
    store.claim("a", ["r1"])
    assert store.claim("b", ["r1"], timeout_s=60) == (set(), set())
    now = store_module.time.time()
    monkeypatch.setattr(store_module.time, "time", lambda: now + 61)
    assert store.claim("b", ["r1"], timeout_s=60) == ({"r1"}, set())


def test_a_lease_of_a_dead_process_is_stale_at_once(tmp_path):
    ctx = mp.get_context("fork")
    proc = ctx.Process(target=Store(tmp_path).claim, args=("gone", ["r1"]))
    proc.start()
    proc.join(30)
    assert Store(tmp_path).claim("here", ["r1"]) == ({"r1"}, set())


def test_claims_are_released_when_the_block_ends(tmp_path):
    from aca_bench.benchmark.store import Claims

    store = Store(tmp_path)
    with Claims(store) as claims:
        assert claims.claim(["r1"]) == ({"r1"}, set())
        assert store.claim("other", ["r1"]) == (set(), set())
    assert store.claim("other", ["r1"]) == ({"r1"}, set())
