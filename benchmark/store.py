"""The results store: one JSON record per line in DIR/records.jsonl, appended atomically under a lock.

A crash mid-write leaves at most a partial last line: readers report it in one line and skip it,
the next writer moves it to records.jsonl.damaged before appending, so nothing is lost silently.
"""

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmark.errors import BenchError

RECORDS = "records.jsonl"


class Store:
    """Append-only run records in a folder; run ids make reruns skip finished cells."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.path = self.root / RECORDS

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def read(self) -> tuple[list[dict], list[str]]:
        """(records, problems): every intact record, and one line per damaged one."""
        if not self.path.exists():
            return [], []
        raw = self.path.read_bytes()
        records, problems = [], []
        lines = raw.split(b"\n")
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            last = number == len(lines)
            try:
                rec = json.loads(line)
                if not isinstance(rec, dict) or "run_id" not in rec:
                    raise ValueError("not a run record")
            except ValueError:
                what = "truncated last record (a crash mid-write?)" if last else "unreadable record"
                problems.append(f"{self.path}: line {number}: {what}; skipped, its cell will be rerun")
                continue
            records.append(rec)
        return records, problems

    def done_ids(self) -> set[str]:
        return {r["run_id"] for r in self.read()[0]}

    def append(self, records: list[dict]) -> int:
        """Append records whose run id is not yet stored; returns how many were written."""
        if not records:
            return 0
        with self._locked():
            self._repair_tail()
            done = self.done_ids()
            fresh = [r for r in records if r["run_id"] not in done]
            if not fresh:
                return 0
            blob = "".join(json.dumps(r, sort_keys=True) + "\n" for r in fresh).encode()
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, blob)
                os.fsync(fd)
            finally:
                os.close(fd)
            return len(fresh)

    def forget(self, run_ids: set[str]) -> int:
        """Drop the records of `run_ids` (for --force reruns); atomic rewrite; returns how many."""
        with self._locked():
            self._repair_tail()
            if not self.path.exists():
                return 0
            lines = self.path.read_bytes().splitlines(keepends=True)
            keep = [ln for ln in lines if not ln.strip() or _run_id(ln) not in run_ids]
            if len(keep) == len(lines):
                return 0
            tmp = self.path.with_suffix(".jsonl.tmp")
            tmp.write_bytes(b"".join(keep))
            os.replace(tmp, self.path)
            return len(lines) - len(keep)

    def _repair_tail(self) -> None:
        """Move a partial last line (no trailing newline) aside to records.jsonl.damaged."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        raw = self.path.read_bytes()
        if raw.endswith(b"\n"):
            return
        cut = raw.rfind(b"\n") + 1
        with open(self.path.with_suffix(".jsonl.damaged"), "ab") as f:
            f.write(raw[cut:] + b"\n")
        with open(self.path, "r+b") as f:
            f.truncate(cut)


def _run_id(line: bytes) -> str | None:
    try:
        return json.loads(line).get("run_id")
    except (ValueError, AttributeError):
        return None


def load_records(root: str | Path) -> tuple[list[dict], list[str]]:
    """Records of a results folder, or a BenchError when it holds none."""
    store = Store(root)
    if not store.path.exists():
        raise BenchError(f"no results in '{root}' (expected {store.path}); run a sweep with --out {root}")
    return store.read()
