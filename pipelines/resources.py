"""Dagster resources: where the data directory is, and connections to the working warehouse.

The data directory is configuration (env BILDUNGSMONITOR_DATA_DIR, default ./data), so moving
the warehouse to another disk — or, later, another catalogue — is a configuration change.

The warehouse resource is also what makes a run exclusive: it takes the run lock of the data
directory (warehouse/runlock.py) when the run starts and holds it until the run ends, whichever
way the run was started (CLI, schedule, sensor, UI). A run that finds the lock held fails at
once with the name of the run holding it; one that gets it first clears up after dead runs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import PrivateAttr

from pipelines.recovery import operations_or_default, recover
from pipelines.retention import prune_runs
from warehouse.db import DataPaths, connect
from warehouse.runlock import RunLock, remove_leftovers

# the schedule and the sensor hold the lock for a moment while they look for dead runs
LOCK_WAIT_SECONDS = 5
FINISHED = (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


class WarehouseResource(dg.ConfigurableResource):
    """The working DuckDB warehouse and the data directory around it."""

    data_dir: str
    _lock: RunLock | None = PrivateAttr(default=None)

    @property
    def paths(self) -> DataPaths:
        return DataPaths(Path(self.data_dir))

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # with the in-process executor this runs once per run, before its first step
        run = context.dagster_run
        if run is None:  # built outside a run (a test, a script): nothing to guard
            return
        self.paths.root.mkdir(parents=True, exist_ok=True)
        self._lock = RunLock.acquire(
            self.paths, run.run_id, run.tags.get("trigger"), wait=LOCK_WAIT_SECONDS
        )
        instance = context.instance
        if instance is None:
            return
        current = instance.get_run_by_id(run.run_id)
        if current is not None and current.status in FINISHED:
            # another start found this run's process slow and marked it failed: stay failed
            self._release()
            raise RuntimeError(f"run {run.run_id} was already marked {current.status.value}")
        for line in recover(
            instance, self.paths, self._lock, run.run_id, f"run {run.run_id}"
        ).lines():
            context.log.warning(line)
        days = operations_or_default(self.paths, context.log.warning).retention.runs
        removed = prune_runs(instance, self.paths, days)
        if removed:
            context.log.info(f"retention: deleted {len(removed)} run(s) older than {days} days")

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._lock is not None:
            # what a failed step left (a temp file on a full disk); never hide the run's error
            with contextlib.suppress(OSError):
                remove_leftovers(self.paths)
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with connect(self.paths) as conn:
            yield conn
