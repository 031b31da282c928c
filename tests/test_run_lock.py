"""One run at a time (the run lock) and self-healing (a dead run is marked failed by whoever
starts the next one) — with real processes holding the lock and a real Dagster instance."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from pipelines.jobs import build_inbox_sensor, build_nightly_schedule, nightly_job
from pipelines.resources import WarehouseResource
from tests.conftest import REPO
from warehouse.db import DataPaths
from warehouse.runlock import RunInProgress, RunLock

HOLDER = """
import sys, time
from pathlib import Path
from warehouse.db import DataPaths
from warehouse.runlock import RunLock
lock = RunLock.acquire(DataPaths(Path(sys.argv[1])), sys.argv[2] or None, "cli")
print("locked", flush=True)
time.sleep(600)
"""
RUN_ID = "0f0f0f0f-0000-4000-8000-000000000001"


def hold_lock(data_dir: Path, run_id: str = "") -> subprocess.Popen:
    """Another process that takes the run lock (as a run does) and keeps it."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(data_dir), run_id],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "locked"
    return process


def killed(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def test_a_second_start_is_refused_naming_the_run_that_holds_the_lock(tmp_path: Path) -> None:
    paths = DataPaths(tmp_path)
    holder = hold_lock(tmp_path, RUN_ID)
    try:
        with pytest.raises(RunInProgress) as refused:
            RunLock.acquire(paths, "another-run", "cli")
        record = json.loads((tmp_path / "run.lock").read_text())
        assert str(refused.value) == (
            f"Another run of the pipeline is in progress (run {RUN_ID} via cli, process "
            f"{holder.pid}, since {record['since']} UTC); one run at a time. Nothing was "
            "done; start again when it has finished."
        )
        # waiting a little does not help while the holder works
        started = time.monotonic()
        with pytest.raises(RunInProgress):
            RunLock.acquire(paths, "another-run", "cli", wait=0.5)
        assert time.monotonic() - started >= 0.5
    finally:
        killed(holder)
    # the kernel released the dead holder's lock; its record says who it was
    with RunLock.acquire(paths, "next-run", "cli") as lock:
        assert lock.previous is not None
        assert (lock.previous.run_id, lock.previous.pid) == (RUN_ID, holder.pid)
        # re-entrant within one process: the CLI holds it, then the run's resource
        again = RunLock.acquire(paths, "next-run", "cli")
        assert again is lock
        again.release()
        assert RunLock.held(paths) is lock
    assert RunLock.held(paths) is None


def dead_run(instance: dg.DagsterInstance, data_dir: Path) -> str:
    """A run marked STARTED whose process took the lock and was killed (SIGKILL), leaving a
    publication temp file and its WAL behind."""
    instance.add_run(
        dg.DagsterRun(job_name=nightly_job.name, run_id=RUN_ID, status=dg.DagsterRunStatus.STARTED)
    )
    killed(hold_lock(data_dir, RUN_ID))
    published = data_dir / "published"
    published.mkdir()
    (published / f".bildungsmonitor.duckdb.{RUN_ID[:8]}.4242.tmp").write_bytes(b"half")
    (published / f".bildungsmonitor.duckdb.{RUN_ID[:8]}.4242.tmp.wal").write_bytes(b"half")
    (published / "bildungsmonitor.duckdb").write_bytes(b"the publication")
    return RUN_ID


def failure_message(instance: dg.DagsterInstance, run_id: str) -> str:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    return records.records[-1].event_log_entry.dagster_event.message


def test_the_inbox_sensor_marks_a_dead_run_failed_and_starts_the_next(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    run_id = dead_run(instance, tmp_path)
    inbox = tmp_path / "inbox" / "kita_betreuung"
    inbox.mkdir(parents=True)
    (inbox / "kita.csv").write_text("x", encoding="utf-8")
    sensor = build_inbox_sensor(DataPaths(tmp_path), ["kita_betreuung"])
    context = dg.build_sensor_context(instance=instance, cursor=None)
    assert isinstance(sensor(context), dg.RunRequest)
    assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
    assert failure_message(instance, run_id).startswith(
        f"Run {run_id} marked failed by the inbox sensor: its process "
    )
    assert "it was killed, ran out of memory or the machine restarted." in failure_message(
        instance, run_id
    )
    assert sorted(p.name for p in (tmp_path / "published").iterdir()) == ["bildungsmonitor.duckdb"]


def test_the_schedule_marks_a_dead_run_failed_and_starts_the_next(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    run_id = dead_run(instance, tmp_path)
    schedule = build_nightly_schedule(DataPaths(tmp_path))
    assert isinstance(schedule(dg.build_schedule_context(instance=instance)), dg.RunRequest)
    assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
    assert "marked failed by the nightly schedule: its process" in failure_message(instance, run_id)


def test_schedule_and_sensor_skip_while_a_live_run_holds_the_lock(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    instance.add_run(
        dg.DagsterRun(job_name=nightly_job.name, run_id=RUN_ID, status=dg.DagsterRunStatus.STARTED)
    )
    holder = hold_lock(tmp_path, RUN_ID)
    try:
        schedule = build_nightly_schedule(DataPaths(tmp_path))
        skipped = schedule(dg.build_schedule_context(instance=instance))
        assert isinstance(skipped, dg.SkipReason)
        assert skipped.skip_message.startswith(f"run {RUN_ID} via cli, process {holder.pid}, since")
        assert skipped.skip_message.endswith("is still in progress; one run at a time")
        assert instance.get_run_by_id(RUN_ID).status == dg.DagsterRunStatus.STARTED
    finally:
        killed(holder)


@dg.asset
def touches_the_warehouse(warehouse: WarehouseResource) -> None:
    with warehouse.connect() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS meta.touched AS SELECT 1 AS n")


def test_a_run_started_any_other_way_is_refused_by_its_resource(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    """A run the daemon launches (schedule, sensor, UI) takes the lock in its warehouse
    resource: while another run holds it, the run fails at once, naming the holder."""
    holder = hold_lock(tmp_path, RUN_ID)
    try:
        result = dg.materialize(
            [touches_the_warehouse],
            resources={"warehouse": WarehouseResource(data_dir=str(tmp_path))},
            instance=instance,
            raise_on_error=False,
        )
    finally:
        killed(holder)
    assert not result.success
    messages = " ".join(
        str(e.event_specific_data.error.to_string())
        for e in result.all_events
        if e.is_failure and getattr(e.event_specific_data, "error", None)
    )
    assert f"Another run of the pipeline is in progress (run {RUN_ID} via cli" in messages
    assert not (tmp_path / "warehouse" / "work.duckdb").exists()  # it never touched it
    # and once the holder is gone, a run gets the lock and works
    again = dg.materialize(
        [touches_the_warehouse],
        resources={"warehouse": WarehouseResource(data_dir=str(tmp_path))},
        instance=instance,
    )
    assert again.success
    assert json.loads((tmp_path / "run.lock").read_text())["run_id"] == again.run_id
    assert RunLock.held(DataPaths(tmp_path)) is None  # released when the run ended
    assert os.path.exists(tmp_path / "warehouse" / "work.duckdb")
