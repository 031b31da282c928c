"""Retention of Dagster's run storage and of the runs' Data Docs.

Dagster keeps every run, its event log and its compute logs forever; the Data Docs of a run take
about 200 KB (the static files are shared: expectations/data_docs.py). At the start of every run
(under the run lock) the finished runs of the nightly job older than `retention.runs` days
(operations.yaml, default 90) are deleted from the run storage, with their Data Docs folders.
The ticks of the schedule and the sensors are purged by Dagster itself (dagster.yaml,
`retention:`). The kept publications have their own retention (warehouse/publications.py).
"""

from __future__ import annotations

import datetime as dt
import shutil

import dagster as dg

from pipelines.recovery import NIGHTLY_JOB
from warehouse.db import DataPaths

FINISHED = [
    dg.DagsterRunStatus.SUCCESS,
    dg.DagsterRunStatus.FAILURE,
    dg.DagsterRunStatus.CANCELED,
]


def prune_runs(instance: dg.DagsterInstance, paths: DataPaths, days: int) -> list[str]:
    """Delete the finished nightly runs older than `days` days and their Data Docs; their ids."""
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    old = instance.get_run_records(
        dg.RunsFilter(job_name=NIGHTLY_JOB, statuses=FINISHED, created_before=cutoff)
    )
    removed = []
    for record in old:
        run_id = record.dagster_run.run_id
        instance.delete_run(run_id)
        shutil.rmtree(paths.data_docs(run_id), ignore_errors=True)
        removed.append(run_id)
    return removed
