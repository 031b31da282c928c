"""The nightly job, its schedule and the inbox sensor.

At most one pipeline run at a time: dagster.yaml limits the run queue to one, and schedule and
sensor skip while a run of the job is queued or in progress (the CLI refuses too).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import dagster as dg

from sources.archive import inbox_files

NIGHTLY_JOB = "nightly"
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


@dg.schedule(
    job=nightly_job,
    cron_schedule="0 2 * * *",
    execution_timezone="Europe/Berlin",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every night at 02:00 Berlin time.",
)
def nightly_schedule(context: dg.ScheduleEvaluationContext):
    running = run_in_progress(context.instance)
    if running:
        return dg.SkipReason(f"run {running} is still in progress; one run at a time")
    return dg.RunRequest(tags={"trigger": "schedule"})


def inbox_state(inbox_root: Path, source_ids: list[str]) -> dict[str, str]:
    """source id -> fingerprint of the files waiting in its inbox (names, sizes, mtimes)."""
    state = {}
    for source_id in source_ids:
        files = inbox_files(inbox_root / source_id)
        if files:
            listing = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files]
            state[source_id] = hashlib.sha256(json.dumps(listing).encode()).hexdigest()[:16]
    return state


def build_inbox_sensor(inbox_root: Path, source_ids: list[str]) -> dg.SensorDefinition:
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
        current = inbox_state(inbox_root, source_ids)
        new = {s: fp for s, fp in current.items() if seen.get(s) != fp}
        if not new:
            return dg.SkipReason("no new files in the inbox")
        running = run_in_progress(context.instance)
        if running:
            return dg.SkipReason(f"new files wait for run {running} to finish")
        context.update_cursor(json.dumps(current, sort_keys=True))
        run_key = (
            "inbox-" + hashlib.sha256(json.dumps(new, sort_keys=True).encode()).hexdigest()[:16]
        )
        return dg.RunRequest(
            run_key=run_key,
            tags={"trigger": "inbox", "sources": ",".join(sorted(new))},
        )

    return inbox_sensor
