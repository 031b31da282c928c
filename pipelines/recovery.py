"""Self-healing: whoever starts the next run first clears up after a run whose process is gone.

A run killed by SIGKILL, the out-of-memory killer or a reboot cannot mark itself failed: Dagster
keeps it STARTED forever. The run lock (warehouse/runlock.py) tells the dead from the living:
while we hold it no other run's process is working, so a run still marked in progress is dead —
certainly the one the lock file names as its last holder, and any other that has been in
progress for longer than a process needs to reach the lock. `recover()` marks those runs failed
with the reason, and removes what their processes left behind (publication temp files, DuckDB
spill files, half-written archive payloads). The interrupted deliveries stay `received` in
meta.deliveries (and in the inbox): the next run stages them.

Called, under the lock, by `bildungsmonitor run`, by every run's warehouse resource (so runs the
daemon launches for the schedule, the inbox sensor or the UI), and by the schedule and the
sensor before they decide whether a run is in progress.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from alerts.notify import dead_run_alerts, notify
from schemas.operations import OperationsConfig, load_operations
from schemas.yamlmodel import YamlError
from warehouse.db import DataPaths
from warehouse.runlock import RunInProgress, RunLock, remove_leftovers

NIGHTLY_JOB = "nightly"
# a run's process takes the lock within seconds of starting; one in progress for this long
# without ever holding it has no process any more
NEVER_LOCKED_GRACE_SECONDS = 300
MAYBE_RUNNING = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


@dataclass
class Recovery:
    failed_runs: list[str] = field(default_factory=list)  # "run <id>: <reason>"
    removed: list[Path] = field(default_factory=list)

    def lines(self) -> list[str]:
        lines = [f"Marked failed: {line}" for line in self.failed_runs]
        if self.removed:
            names = ", ".join(p.name for p in self.removed[:5])
            more = f" and {len(self.removed) - 5} more" if len(self.removed) > 5 else ""
            lines.append(
                f"Removed {len(self.removed)} stale file(s) (of dead runs, or a WAL beside the "
                f"publication): {names}{more}"
            )
        return lines


def recover(
    instance: dg.DagsterInstance,
    paths: DataPaths,
    lock: RunLock,
    own_run_id: str | None = None,
    by: str = "the next run",
) -> Recovery:
    """Mark dead runs of the nightly job failed and remove their leftovers. Only call it while
    holding `lock`."""
    result = Recovery()
    last = lock.previous
    now = time.time()
    for record in instance.get_run_records(
        dg.RunsFilter(job_name=NIGHTLY_JOB, statuses=MAYBE_RUNNING)
    ):
        run = record.dagster_run
        if run.run_id == own_run_id:
            continue
        if last is not None and last.run_id == run.run_id and last.stopped:
            reason = f"its process {last.pid} stopped and could not record it: {last.stopped}"
        elif last is not None and last.run_id == run.run_id:
            reason = (
                f"its process {last.pid} (started {last.since} UTC) ended while the run was "
                "working: it was killed, ran out of memory or the machine restarted"
            )
        elif now - record.update_timestamp.timestamp() > NEVER_LOCKED_GRACE_SECONDS:
            reason = "its process ended before the run began its work"
        else:
            continue  # a run starting right now: the lock decides whether it may work
        message = f"Run {run.run_id} marked failed by {by}: {reason}."
        instance.report_run_failed(run, message)
        result.failed_runs.append(f"run {run.run_id}: {reason}")
    result.removed = remove_leftovers(paths)
    tell_dead_runs(result.failed_runs, paths)
    return result


def operations_or_default(paths: DataPaths, log=print) -> OperationsConfig:
    """The settings in force; a mistaken file is said (loudly) and the alert log still written
    (`bildungsmonitor run` refuses to start with it; the daemon's ticks go on)."""
    try:
        return load_operations(paths.root)
    except YamlError as exc:
        log(f"operations.yaml is not valid, alerts go to the log file only:\n{exc}")
        return OperationsConfig()


def tell_dead_runs(failed_runs: list[str], paths: DataPaths, log=print) -> None:
    """Alerts for the runs marked failed because their process was gone."""
    pairs = []
    for line in failed_runs:  # "run <id>: <reason>"
        head, _, reason = line.partition(": ")
        pairs.append((head.removeprefix("run "), f"marked failed: {reason}"))
    report = dead_run_alerts(pairs)
    if report is not None:
        for problem in notify(report, operations_or_default(paths, log), paths.root):
            log(problem)


def recover_if_idle(instance: dg.DagsterInstance, paths: DataPaths, by: str) -> str | None:
    """For the schedule and the sensor: if no run holds the lock, recover (see above) and
    return None; else return who holds it."""
    try:
        lock = RunLock.acquire(paths, None, by)
    except RunInProgress as exc:
        return exc.holder.describe() if exc.holder else "another run"
    with lock:
        recover(instance, paths, lock, by=by)
    return None
