"""The nightly job, its schedule and the inbox sensor.

At most one pipeline run at a time: every run holds the run lock of the data directory while it
works (pipelines/resources.py, warehouse/runlock.py), dagster.yaml limits the run queue to one,
and the schedule and the sensor skip while a run of the job is queued or in progress. Before
they decide, they mark runs whose process is gone failed (pipelines/recovery.py), so a killed
run never stops the next night.
"""

from __future__ import annotations

import hashlib
import json

import dagster as dg

from pipelines.recovery import NIGHTLY_JOB, recover_if_idle
from warehouse.db import DataPaths
from warehouse.inbox import scan_inbox

IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]

nightly_job = dg.define_asset_job(
    NIGHTLY_JOB,
    selection=dg.AssetSelection.all(),
    description=(
        "The whole pipeline: ingest every source, validate and stage new deliveries, rebuild "
        "core, indicators and marts, publish data/published/bildungsmonitor.duckdb."
    ),
    tags={"dagster/max_retries": "0"},
)


def run_in_progress(instance: dg.DagsterInstance) -> str | None:
    records = instance.get_run_records(
        dg.RunsFilter(job_name=NIGHTLY_JOB, statuses=IN_PROGRESS), limit=1
    )
    return records[0].dagster_run.run_id if records else None


def live_run_in_progress(instance: dg.DagsterInstance, paths: DataPaths, by: str) -> str | None:
    """The run in progress ("run <id>…"), if any, after runs whose process is gone were marked
    failed."""
    if run_in_progress(instance) is None:
        return None
    holder = recover_if_idle(instance, paths, by)
    if holder is not None:
        return holder
    running = run_in_progress(instance)
    return f"run {running}" if running else None


def build_nightly_schedule(
    paths: DataPaths, cron: str = "0 2 * * *", timezone: str = "Europe/Berlin"
) -> dg.ScheduleDefinition:
    """The nightly run; its time is operations.yaml's `schedule` (default 02:00 Berlin)."""

    @dg.schedule(
        name="nightly_schedule",
        job=nightly_job,
        cron_schedule=cron,
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"The nightly run: '{cron}' ({timezone}; operations.yaml, `schedule`).",
    )
    def nightly_schedule(context: dg.ScheduleEvaluationContext):
        running = live_run_in_progress(context.instance, paths, "the nightly schedule")
        if running:
            return dg.SkipReason(f"{running} is still in progress; one run at a time")
        return dg.RunRequest(tags={"trigger": "schedule"})

    return nightly_schedule


def inbox_state(paths: DataPaths, source_ids: list[str]) -> dict[str, str]:
    """source id -> fingerprint of the files waiting in its inbox (names, sizes, mtimes); odd
    entries (links, folders, fifos …) are not deliveries and start nothing."""
    state = {}
    for source_id in source_ids:
        files = scan_inbox(paths, source_id).files
        if files:
            listing = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files]
            state[source_id] = hashlib.sha256(json.dumps(listing).encode()).hexdigest()[:16]
    return state


def build_inbox_sensor(paths: DataPaths, source_ids: list[str]) -> dg.SensorDefinition:
    @dg.sensor(
        job=nightly_job,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Starts a pipeline run when a partner drops a file into data/inbox/<source-id>/. "
            "The cursor remembers the files already seen, so one file starts one run."
        ),
    )
    def inbox_sensor(context: dg.SensorEvaluationContext):
        seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        current = inbox_state(paths, source_ids)
        new = {s: fp for s, fp in current.items() if seen.get(s) != fp}
        if not new:
            return dg.SkipReason("no new files in the inbox")
        running = live_run_in_progress(context.instance, paths, "the inbox sensor")
        if running:
            return dg.SkipReason(f"new files wait for {running} to finish")
        context.update_cursor(json.dumps(current, sort_keys=True))
        run_key = (
            "inbox-" + hashlib.sha256(json.dumps(new, sort_keys=True).encode()).hexdigest()[:16]
        )
        return dg.RunRequest(
            run_key=run_key,
            tags={"trigger": "inbox", "sources": ",".join(sorted(new))},
        )

    return inbox_sensor
