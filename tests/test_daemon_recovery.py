"""Through the Dagster daemon: a run killed during staging, then a partner file in the inbox. The
daemon's inbox sensor marks the dead run failed, requests a run, the run queue launches it, and
the run — holding the run lock in its own process — picks up the interrupted delivery and
publishes. No manual step."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from tests.conftest import REPO, DemoRuns, copy_data_dir
from tests.nights import (
    KITA,
    LEAVERS,
    cli_env,
    file_digest,
    flipped_copy,
    instance_of,
    leftovers,
    run_status,
    start_cli,
    wait_for,
    wait_for_step,
)

pytestmark = pytest.mark.slow


def inbox_runs(data: Path) -> list[dg.DagsterRun]:
    with instance_of(data) as instance:
        return [
            r.dagster_run
            for r in instance.get_run_records(dg.RunsFilter(tags={"trigger": "inbox"}))
        ]


def test_the_daemon_sensor_heals_a_killed_run_and_the_next_run_publishes(
    demo_runs: DemoRuns, tmp_path: Path
) -> None:
    data = copy_data_dir(demo_runs, tmp_path / "data")
    flipped_copy(LEAVERS, data / "inbox" / "schulabgaenger_abschlussart" / "abgaenger_neu.csv")
    killed = start_cli(data, tmp_path / "killed.log")
    dead_run = wait_for_step(killed, data, ("staging__schulabgaenger_abschlussart",))
    killed.kill_tree()
    publication = file_digest(data / "published" / "bildungsmonitor.duckdb")

    # a partner drops a file: the sensor will see it on its first tick
    flipped_copy(KITA, data / "inbox" / "kita_betreuung" / "kita_2025.csv")
    env = {
        **cli_env(),
        "DAGSTER_HOME": str(data / "dagster_home"),
        "BILDUNGSMONITOR_DATA_DIR": str(data),
    }
    log = (tmp_path / "daemon.log").open("w", encoding="utf-8")
    daemon = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-m", "pipelines.definitions"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:

        def finished() -> bool:
            assert daemon.poll() is None, (tmp_path / "daemon.log").read_text()
            runs = inbox_runs(data)
            return bool(runs) and all(r.is_finished for r in runs)

        wait_for(finished, "the inbox run launched by the daemon", timeout=600)
    finally:
        os.killpg(daemon.pid, signal.SIGKILL)
        daemon.wait(timeout=60)
        log.close()

    (run,) = inbox_runs(data)
    assert run.status == dg.DagsterRunStatus.SUCCESS, (tmp_path / "daemon.log").read_text()
    status, message = run_status(data, dead_run)
    assert status == "FAILURE"
    assert message.startswith(f"Run {dead_run} marked failed by the inbox sensor: its process ")
    assert file_digest(data / "published" / "bildungsmonitor.duckdb") != publication
    with duckdb.connect(str(data / "published" / "bildungsmonitor.duckdb"), read_only=True) as c:
        assert c.execute("SELECT run_id FROM meta.publication").fetchone()[0] == run.run_id
        states = dict(
            c.execute(
                "SELECT file_name, state FROM meta.deliveries WHERE file_name IN "
                "('abgaenger_neu.csv', 'kita_2025.csv')"
            ).fetchall()
        )
    assert states == {"abgaenger_neu.csv": "loaded", "kita_2025.csv": "loaded"}
    assert leftovers(data) == []
