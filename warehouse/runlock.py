"""One pipeline run at a time: an OS-level lock on <data>/run.lock, held by the run's process.

Every way a run starts — `bildungsmonitor run`, a scheduled or sensor run launched by the
Dagster daemon, a run started from the UI — takes this lock before it touches the warehouse
and holds it until the run ends. The kernel releases a flock when its process ends however it
ends (SIGKILL, out of memory, a reboot), so a lock is never left behind by a dead run, and two
runs can never hold it at once: a second start is refused with the name of the run holding it.

The file also says who holds (or last held) the lock: its run id, process id and start time.
Whoever takes the lock next reads it first — a holder whose run is still marked in progress
died while running, and its run is marked failed (pipelines/recovery.py).
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from warehouse.db import DataPaths, utc_now

LOCK_NAME = "run.lock"


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) the run lock."""

    pid: int
    since: str  # UTC, ISO 8601
    run_id: str | None = None
    trigger: str | None = None
    stopped: str | None = None  # why the run stopped, when it could not record that itself

    def describe(self) -> str:
        if self.run_id:
            who = f"run {self.run_id}" + (f" via {self.trigger}" if self.trigger else "")
        else:  # the schedule or the sensor, clearing up after dead runs for a moment
            who = f"{self.trigger or 'another process'} looking for dead runs"
        return f"{who}, process {self.pid}, since {self.since} UTC"


class RunInProgress(RuntimeError):
    """Another run holds the lock: this start is refused."""

    def __init__(self, holder: Holder | None) -> None:
        self.holder = holder
        who = holder.describe() if holder else "another run"
        super().__init__(
            f"Another run of the pipeline is in progress ({who}); one run at a time. "
            "Nothing was done; start again when it has finished."
        )


def _read_holder(fd: int) -> Holder | None:
    try:
        raw = os.pread(fd, 4096, 0)
        return Holder(**json.loads(raw)) if raw.strip() else None
    except (ValueError, TypeError):  # a holder killed while writing its record
        return None


# locks this process holds, by lock file: a CLI run takes the lock before Dagster starts the
# run, and the run's resources take it again in the same process (the lock is re-entrant)
_HELD: dict[Path, RunLock] = {}
POLL_SECONDS = 0.1


class RunLock:
    """The run lock of one data directory. `acquire()` takes the lock (waiting at most `wait`
    seconds) or raises RunInProgress naming the holder."""

    def __init__(self, paths: DataPaths) -> None:
        self.path = paths.root / LOCK_NAME
        self._fd: int | None = None
        self._depth = 0
        self.previous: Holder | None = None  # the record found when the lock was taken
        self.holder: Holder | None = None

    @classmethod
    def held(cls, paths: DataPaths) -> RunLock | None:
        """The lock of this data directory if this process holds it."""
        return _HELD.get(paths.root / LOCK_NAME)

    @classmethod
    def acquire(
        cls, paths: DataPaths, run_id: str | None, trigger: str | None, wait: float = 0
    ) -> RunLock:
        """Take the lock for `run_id`; if this process already holds it, record the run id."""
        held = cls.held(paths)
        if held is not None:
            held._depth += 1
            if run_id:
                held.record(run_id, trigger)
            return held
        lock = cls(paths)
        paths.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + wait
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise RunInProgress(_read_holder(fd)) from None
                    time.sleep(POLL_SECONDS)
            lock._fd, lock._depth = fd, 1
            lock.previous = _read_holder(fd)
            lock.record(run_id, trigger)
        except BaseException:
            os.close(fd)  # closing the file gives the lock up
            raise
        _HELD[lock.path] = lock
        return lock

    def record(self, run_id: str | None, trigger: str | None) -> None:
        """Write who holds the lock into the lock file (a refused start names the holder)."""
        assert self._fd is not None
        since = self.holder.since if self.holder else utc_now().isoformat()
        trigger = trigger or (self.holder.trigger if self.holder else None)
        self.holder = Holder(os.getpid(), since, run_id, trigger)
        data = json.dumps(asdict(self.holder)).encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)

    def note_stop(self, reason: str) -> None:
        """The run stopped and its run storage cannot say so (a full disk): the lock file
        keeps the reason for whoever starts next."""
        assert self._fd is not None and self.holder is not None
        self.holder = Holder(**{**asdict(self.holder), "stopped": reason})
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, json.dumps(asdict(self.holder)).encode(), 0)

    def release(self) -> None:
        """Give the lock up when its outermost holder is done (the record stays: it names the
        last holder)."""
        if self._fd is None:
            return
        self._depth -= 1
        if self._depth > 0:
            return
        _HELD.pop(self.path, None)
        fd, self._fd = self._fd, None
        os.close(fd)

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def remove_leftovers(paths: DataPaths) -> list[Path]:
    """Remove what dead runs left behind: temp files of publications, DuckDB spill files,
    half-written archive payloads. Only safe while holding the run lock (no run is working)."""
    from warehouse.publish import stale_publication_files

    leftovers = stale_publication_files(paths.published_db)
    spill = paths.work_db.parent / "tmp"
    if spill.is_dir():
        leftovers += [p for p in spill.iterdir() if p.is_file() and not p.is_symlink()]
    # sources/archive.py writes a payload as raw/sha256/<ab>/.<sha>.<pid>.tmp, then renames it
    leftovers += [p for p in paths.raw.glob("sha256/*/.*.tmp") if not p.is_symlink()]
    removed = []
    for path in leftovers:
        try:
            path.unlink()
            removed.append(path)
        except FileNotFoundError:
            pass
    return removed
