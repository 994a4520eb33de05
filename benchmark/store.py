"""The results store: one JSON record per line in DIR/records.jsonl, appended atomically under a lock.

A crash mid-write leaves at most a partial last line. Readers report a damaged line (partial, not
JSON, or a record that fails `aca_bench.benchmark.record_schema`: a missing field, a metric that is not a
finite fraction) in one line and skip it; the next writer moves every damaged line to records.jsonl.damaged
before it appends, so the warning is said until then, nothing is lost silently, and the store heals.

Cells are claimed before they train: DIR/leases.json maps a run id to the sweep that holds it. A lease is
renewed while its sweep runs, released when the cell is stored or the sweep exits, and is stale when its
process is gone (same host) or it was not renewed for `LEASE_TIMEOUT_S`; so two sweeps on one folder
split the cells instead of training each twice, and a sweep killed with SIGKILL is resumed at once.
"""

import contextlib
import fcntl
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.record_schema import record_problem

RECORDS = "records.jsonl"
DAMAGED = "records.jsonl.damaged"
LEASES = "leases.json"
LOCK = ".lock"
SITE_MARKER = ".aca-bench-site"  # written by `leaderboard build` into its folder: never a results folder
LOCK_WAIT_S = 60.0  # how long the folder check waits for another process's lock
LEASE_TIMEOUT_S = 300.0  # a lease not renewed for this long is stale (its sweep is gone)
HOST = socket.gethostname()


class Store:
    """Append-only run records in a folder; run ids make reruns skip finished cells."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.path = self.root / RECORDS

    @contextmanager
    def _locked(self, wait_s: float | None = None) -> Iterator[None]:
        """The folder's exclusive lock; with `wait_s`, a BenchError when it is not free within that time."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / LOCK, "a") as lock:
            if wait_s is None:
                fcntl.flock(lock, fcntl.LOCK_EX)
            else:
                deadline = time.monotonic() + wait_s
                while True:
                    try:
                        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() > deadline:
                            raise BenchError(
                                f"results folder '{self.root}': its lock {self.root / LOCK} is held by "
                                f"another process for over {wait_s:g} s"
                            ) from None
                        time.sleep(0.1)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @contextmanager
    def _reported(self, what: str) -> Iterator[None]:
        """An OSError inside (disk full, permission, a symlink loop) as a one-line BenchError naming the
        folder, what was being done and the cause."""
        try:
            yield
        except OSError as exc:
            raise BenchError(f"results folder '{self.root}': cannot {what}: {fault(exc)}") from None

    def check(self) -> list[str]:
        """Make sure a sweep can store what it trains, before it trains anything: the folder is not a
        leaderboard site, is created and writable, and its lock can be taken; damaged records are moved
        aside. Returns one line per
        record moved; a folder that cannot be used is a one-line BenchError."""
        try:
            if (self.root / SITE_MARKER).exists():
                raise BenchError(
                    f"results folder '{self.root}' holds a leaderboard site ({SITE_MARKER}); "
                    "write results to a folder of their own"
                )
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".write-check-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
            for existing in (self.path, self.root / LEASES):
                if existing.exists() and not os.access(existing, os.W_OK):
                    raise PermissionError(13, "Permission denied", str(existing))
            with self._locked(wait_s=LOCK_WAIT_S):
                return self._repair()
        except OSError as exc:
            raise BenchError(f"results folder '{self.root}' cannot be used: {fault(exc)}") from None

    def read(self) -> tuple[list[dict], list[str]]:
        """(records, problems): every intact record, and one line per damaged one."""
        if not self.path.exists():
            return [], []
        records, problems = [], []
        for number, rec, what in _parse(self.path.read_bytes()):
            if what:
                problems.append(f"{self.path}: line {number}: {what}; skipped, its cell will be rerun")
            else:
                records.append(rec)
        return records, problems

    def done_ids(self) -> set[str]:
        return {r["run_id"] for r in self.read()[0]}

    def append(self, records: list[dict]) -> int:
        """Append records whose run id is not yet stored; returns how many were written. A record that
        fails the record schema, or a write that fails (disk full, permission), stores nothing and is a
        one-line BenchError."""
        if not records:
            return 0
        with self._reported("store records"), self._locked():
            self._repair()
            done = self.done_ids()
            fresh = [r for r in records if r["run_id"] not in done]
            if not fresh:
                return 0
            wrong = [(r["run_id"], problem) for r in fresh if (problem := record_problem(r))]
            if wrong:  # it would be moved aside on the next read, its cell retrained without end
                raise BenchError(
                    f"results folder '{self.root}': record {wrong[0][0]} is {wrong[0][1]}; nothing was stored"
                )
            blob = "".join(json.dumps(r, sort_keys=True) + "\n" for r in fresh).encode()
            try:
                _append_whole(self.path, blob)
            except OSError as exc:
                raise BenchError(
                    f"results folder '{self.root}': {len(fresh)} trained records could not be stored: "
                    f"{fault(exc)}; nothing partial was kept, and their cells are retrained when the "
                    "sweep is run again"
                ) from None
            return len(fresh)

    def forget(self, run_ids: set[str]) -> int:
        """Drop the records of `run_ids` (for --force reruns); atomic rewrite; returns how many."""
        with self._reported("rewrite its records"), self._locked():
            self._repair()
            if not self.path.exists():
                return 0
            lines = self.path.read_bytes().splitlines(keepends=True)
            keep = [ln for ln in lines if not ln.strip() or _run_id(ln) not in run_ids]
            if len(keep) == len(lines):
                return 0
            _replace(self.path, b"".join(keep))
            return len(lines) - len(keep)

    def _repair(self) -> list[str]:
        """Move every damaged line (a partial last line, or a line that is not a run record) to
        records.jsonl.damaged and keep the rest; one line per record moved. Call under the lock."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return []
        raw = self.path.read_bytes()
        lines = raw.split(b"\n")
        parsed = list(_parse(raw))
        bad = [(number, what) for number, _, what in parsed if what]
        if not bad and raw.endswith(b"\n"):
            return []
        bad_numbers = {number for number, _ in bad}
        damaged = self.root / DAMAGED
        if bad:
            with open(damaged, "ab") as f:
                f.write(b"".join(lines[n - 1] + b"\n" for n in sorted(bad_numbers)))
                f.flush()
                os.fsync(f.fileno())
        keep = [ln + b"\n" for n, ln in enumerate(lines, start=1) if ln.strip() and n not in bad_numbers]
        _replace(self.path, b"".join(keep))
        return [f"{self.path}: line {n}: {what}; moved to {damaged}, its cell is rerun" for n, what in bad]

    # Leases: which sweep is training which cell.

    def _leases(self) -> dict[str, dict]:
        try:
            leases = json.loads((self.root / LEASES).read_text())
        except (OSError, ValueError):
            return {}
        return leases if isinstance(leases, dict) else {}

    def _write_leases(self, leases: dict[str, dict]) -> None:
        """Write the leases; no file when none is held (a finished results folder holds only results)."""
        if leases:
            _replace(self.root / LEASES, json.dumps(leases, sort_keys=True).encode())
        else:
            (self.root / LEASES).unlink(missing_ok=True)

    def claim(
        self, owner: str, run_ids: list[str], timeout_s: float = LEASE_TIMEOUT_S
    ) -> tuple[set[str], set[str]]:
        """Lease the cells of `run_ids` that are neither stored nor held by a live lease of another
        owner. Returns (granted, stored): the run ids now leased to `owner`, and those already stored."""
        with self._reported("lease cells"), self._locked():
            done = self.done_ids()
            now = time.time()
            leases = {
                rid: lease
                for rid, lease in self._leases().items()
                if rid not in done and not _stale(lease, now, timeout_s)
            }
            granted = set()
            for rid in run_ids:
                if rid in done or leases.get(rid, {}).get("owner", owner) != owner:
                    continue
                leases[rid] = {"owner": owner, "host": HOST, "pid": os.getpid(), "renewed": now}
                granted.add(rid)
            self._write_leases(leases)
            return granted, done & set(run_ids)

    def renew(self, owner: str) -> None:
        """Mark every lease of `owner` as renewed now."""
        with self._locked():
            leases = self._leases()
            for lease in leases.values():
                if lease.get("owner") == owner:
                    lease["renewed"] = time.time()
            self._write_leases(leases)

    def release(self, owner: str, run_ids: set[str] | None = None) -> None:
        """Drop `owner`'s leases on `run_ids` (all of them when None)."""
        with self._reported("release leases"), self._locked():
            leases = self._leases()
            kept = {
                rid: lease
                for rid, lease in leases.items()
                if lease.get("owner") != owner or (run_ids is not None and rid not in run_ids)
            }
            if kept != leases:
                self._write_leases(kept)


class Claims:
    """This process's leases on a store's cells, renewed by a background thread while it lives and all
    released when the `with` block ends (normally, by an exception or Ctrl-C)."""

    def __init__(self, store: Store, timeout_s: float = LEASE_TIMEOUT_S) -> None:
        self.store = store
        self.timeout_s = timeout_s
        self.owner = f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._heartbeat, daemon=True)

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.timeout_s / 4):
            with contextlib.suppress(OSError, BenchError):  # the next beat tries again till the timeout
                self.store.renew(self.owner)

    def __enter__(self) -> "Claims":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if exc[0] is None:
            self.store.release(self.owner)
            return
        # the block is ending on an error (a full disk, say): say that one; leases left behind go stale
        # once this process is gone
        with contextlib.suppress(BenchError, OSError):
            self.store.release(self.owner)

    def claim(self, run_ids: list[str]) -> tuple[set[str], set[str]]:
        """(granted, stored): see `Store.claim`."""
        return self.store.claim(self.owner, run_ids, self.timeout_s)

    def release(self, run_ids: set[str]) -> None:
        self.store.release(self.owner, run_ids)


def _stale(lease: dict, now: float, timeout_s: float) -> bool:
    """A lease whose process is gone (on this host), or that was not renewed within `timeout_s`."""
    if not isinstance(lease, dict):
        return True
    if lease.get("host") == HOST and isinstance(lease.get("pid"), int) and not _alive(lease["pid"]):
        return True
    renewed = lease.get("renewed")
    return not isinstance(renewed, int | float) or now - renewed > timeout_s


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _parse(raw: bytes) -> Iterator[tuple[int, dict | None, str]]:
    """(line number, record, problem) for each non-empty line; problem is '' for an intact record."""
    lines = raw.split(b"\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            if not isinstance(rec, dict):
                raise ValueError("not a JSON object")
        except (ValueError, RecursionError):
            last = number == len(lines)  # no newline after it: a write cut short
            yield number, None, "truncated last record (a crash mid-write?)" if last else "unreadable record"
            continue
        problem = record_problem(rec)
        yield number, None if problem else rec, problem


def _replace(path: Path, blob: bytes) -> None:
    """Write `blob` to `path` atomically (a temporary file renamed over it); a write that fails leaves
    `path` as it was and no temporary file."""
    tmp = path.with_name(f"{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _append_whole(path: Path, blob: bytes) -> None:
    """Append all of `blob` to `path`, or nothing: a write that fails part way (a full disk) is cut back
    to the file's size before it. Call under the store's lock (no other writer moves the end)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        start = os.fstat(fd).st_size
        try:
            view = memoryview(blob)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except BaseException:
            with contextlib.suppress(OSError):  # else the next writer moves the partial line aside
                os.ftruncate(fd, start)
            raise
    finally:
        os.close(fd)


def fault(exc: OSError) -> str:
    """An OSError in words that name its cause and file: 'No space left on device (DIR/leases.json)'."""
    return (exc.strerror or str(exc)) + (f" ({exc.filename})" if exc.filename else "")


def _run_id(line: bytes) -> str | None:
    try:
        return json.loads(line).get("run_id")
    except (ValueError, AttributeError, RecursionError):
        return None


KINDS = {"run": "run records (sweep, run)", "perf": "`aca-bench perf` timings"}


def load_records(root: str | Path, kind: str = "run") -> tuple[list[dict], list[str]]:
    """Records of a results folder, all of `kind` (`KINDS`; `aca-bench perf`'s carry a perf_run), and
    one line per damaged one; a BenchError when it holds none, or records of another kind."""
    store = Store(root)
    if not store.path.exists():
        raise BenchError(f"no results in '{root}' (expected {store.path}); run a sweep with --out {root}")
    records, problems = store.read()
    if any(("perf_run" in r) != (kind == "perf") for r in records):
        other = "run" if kind == "perf" else "perf"
        raise BenchError(f"'{root}' holds {KINDS[other]}, not {KINDS[kind]}")
    return records, problems
