"""Filesystem faults (disk full, permission) are one line naming the cause, with no temporary file and no
partial record left (issue 35 case 5: an ENOSPC traceback on leases.json that left leases.json.tmp, and
"4 cells were trained but left no records" with a partial record at append)."""

import errno
import json
import os

import pytest

from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.store import Claims, Store

FULL = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _rec(run_id: str, tiny_record: dict, **change) -> dict:
    return {**tiny_record, "run_id": run_id, **change}


def _half_then_full(monkeypatch):
    """os.write writes half of what it is given once, then the disk is full."""
    real, calls = os.write, []

    def write(fd, data):
        calls.append(len(data))
        if len(calls) == 1:
            return real(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", write)
    return calls


def _fsync_fails(monkeypatch, error: OSError = FULL):
    def fsync(fd):
        raise error

    monkeypatch.setattr(os, "fsync", fsync)


def test_a_full_disk_while_leasing_leaves_no_temporary_file(tmp_path, monkeypatch):
    store = Store(tmp_path)
    store.claim("a", ["r1"])
    before = (tmp_path / "leases.json").read_bytes()
    _fsync_fails(monkeypatch)
    with pytest.raises(BenchError) as info:
        store.claim("b", ["r2"])
    assert info.value.message == (f"results folder '{tmp_path}': cannot lease cells: No space left on device")
    assert not (tmp_path / "leases.json.tmp").exists()
    assert (tmp_path / "leases.json").read_bytes() == before


def test_no_permission_on_the_leases_is_named(tmp_path, monkeypatch):
    _fsync_fails(monkeypatch, OSError(errno.EACCES, os.strerror(errno.EACCES), str(tmp_path / "x")))
    with pytest.raises(BenchError, match=f"cannot lease cells: Permission denied \\({tmp_path / 'x'}\\)"):
        Store(tmp_path).claim("a", ["r1"])
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock"]


def test_a_full_disk_at_append_leaves_no_partial_record(tmp_path, monkeypatch, tiny_record):
    store = Store(tmp_path)
    store.append([_rec("r1", tiny_record)])
    before = store.path.read_bytes()
    calls = _half_then_full(monkeypatch)
    with pytest.raises(BenchError) as info:
        store.append([_rec("r2", tiny_record), _rec("r3", tiny_record)])
    assert len(calls) == 2  # half was written before the disk filled
    assert info.value.message == (
        f"results folder '{tmp_path}': 2 trained records could not be stored: No space left on device; "
        "nothing partial was kept, and their cells are retrained when the sweep is run again"
    )
    monkeypatch.undo()
    assert store.path.read_bytes() == before
    assert store.read() == ([json.loads(before)], [])


def test_claims_ending_on_a_full_disk_keep_that_error(tmp_path, monkeypatch):
    store = Store(tmp_path)
    store.claim("another sweep", ["r2"])  # so the release at exit rewrites leases.json
    with pytest.raises(BenchError, match="could not be stored"), Claims(store) as claims:
        claims.claim(["r1"])
        _fsync_fails(monkeypatch)  # the release at exit fails too, and must not replace the first error
        raise BenchError("results folder: 1 trained records could not be stored")


def test_a_sweep_on_a_full_disk_says_so_in_one_line(cli, tmp_path, monkeypatch, tiny_record):
    from aca_bench.benchmark.executors import local

    def trained(cells, device, on_progress=None):
        return [_rec(c.run_id, tiny_record, alpha=c.alpha, seed=c.seed) for c in cells]

    monkeypatch.setattr(local, "run_cells", trained)
    real_append, real_write = Store.append, os.write

    def full_append(self, records):  # the disk fills while the records are written
        _half_then_full(monkeypatch)
        try:
            return real_append(self, records)
        finally:
            monkeypatch.setattr(os, "write", real_write)

    monkeypatch.setattr(Store, "append", full_append)
    result = cli(
        "sweep", "--task", "mnist_patch", "--algorithm", "erm", "--seeds", "1", "--alphas", "0.1",
        "--out", tmp_path, "--device", "cpu",
    )  # fmt: skip
    assert result.exit_code != 0 and "Traceback" not in result.output, result.output
    errors = [ln for ln in result.output.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1, result.output
    assert "trained records could not be stored: No space left on device" in errors[0]
    assert "retrained when the sweep is run again" in errors[0]
    assert "left no records" not in result.output
    assert not (tmp_path / "records.jsonl").exists() or (tmp_path / "records.jsonl").read_bytes() == b""
    assert not (tmp_path / "leases.json.tmp").exists()


def test_a_full_disk_while_writing_the_site_is_one_line(tmp_path, monkeypatch):
    from pathlib import Path

    from aca_bench.leaderboard.build import write_site

    def full(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(BenchError, match="cannot write the site: No space left on device"):
        write_site({"index.html": b"x"}, tmp_path / "site")
