"""The results store: atomic appends, no duplicates, truncated records reported and repaired."""

import json
import multiprocessing as mp

import pytest

from benchmark.errors import BenchError
from benchmark.store import Store, load_records


def _rec(i, **extra):
    return {"run_id": f"r{i}", "metrics": {"success": i / 10}, **extra}


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


def test_forget_removes_only_named_records(tmp_path):
    store = Store(tmp_path)
    store.append([_rec(1), _rec(2), _rec(3)])
    assert store.forget({"r2"}) == 1
    assert [r["run_id"] for r in store.read()[0]] == ["r1", "r3"]


def test_missing_results_folder_is_a_one_line_error(tmp_path):
    with pytest.raises(BenchError, match="no results in"):
        load_records(tmp_path / "none")


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
