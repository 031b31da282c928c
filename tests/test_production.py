"""Production, tried (issue 10, part 9): the Dagster daemon started exactly as
deploy/bildungsmonitor-daemon.service starts it — its command line, working directory and
environment (the unit's variables and its environment file), nothing else — on a copy of the
demo instance. Within about a minute its inbox sensor launches a run for a partner file (one
the partner had sent before: a short run), the run takes it and publishes, and the nightly
schedule ticks (every minute, from operations.yaml): it skips while that run is in progress, or
launches its own run once it has ended."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
from pathlib import Path

import duckdb
import pytest

from tests.conftest import REPO, DemoRuns, copy_data_dir
from tests.nights import KITA, instance_of, unsuccessful_runs, wait_for

pytestmark = pytest.mark.slow

UNIT = REPO / "deploy" / "bildungsmonitor-daemon.service"
# what systemd gives a service besides the unit's own variables
SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def service(unit: Path, places: dict[str, Path]) -> tuple[list[str], dict[str, str], Path]:
    """The unit's ExecStart, environment and working directory, its paths moved to `places`."""

    def moved(text: str) -> str:
        for path, place in places.items():
            text = text.replace(path, str(place))
        return text

    env = {"PATH": SYSTEMD_PATH, "LANG": "C.UTF-8", "HOME": str(places["/srv/bildungsmonitor"])}
    command: list[str] = []
    workdir = Path("/")
    for line in unit.read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition("=")
        if key == "Environment":
            name, _, setting = value.partition("=")
            env[name] = moved(setting)
        elif key == "EnvironmentFile":
            for entry in Path(moved(value.lstrip("-"))).read_text(encoding="utf-8").splitlines():
                if entry.strip() and not entry.startswith("#"):
                    name, _, setting = entry.partition("=")
                    env[name] = setting
        elif key == "WorkingDirectory":
            workdir = Path(moved(value))
        elif key == "ExecStart":
            command = moved(value).split()
    return command, env, workdir


def ticks(data: Path, name: str) -> list[dict]:
    """The ticks of a schedule or sensor, oldest first, as the daemon recorded them."""
    database = data / "dagster_home" / "schedules" / "schedules.db"
    if not database.exists():
        return []
    with sqlite3.connect(database) as conn:
        bodies = [
            json.loads(body)
            for (body,) in conn.execute("SELECT tick_body FROM job_ticks ORDER BY id")
        ]
    # evaluated ticks only (a tick is recorded as STARTED first)
    return [
        b
        for b in bodies
        if b.get("job_name") == name
        and any(s in json.dumps(b.get("status")) for s in ("SUCCESS", "SKIPPED"))
    ]


def test_the_daemon_started_as_the_unit_file_runs_the_sensor_and_the_schedule(
    demo_runs: DemoRuns, tmp_path: Path
) -> None:
    srv = tmp_path / "srv"
    data = copy_data_dir(demo_runs, srv / "data")
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "bildungsmonitor.env").write_text(
        "# the demo instance: bundled files, no credentials\nBILDUNGSMONITOR_PROFILE=demo\n",
        encoding="utf-8",
    )
    (etc / "operations.yaml").write_text(
        'schedule:\n  cron: "* * * * *"\n  timezone: Europe/Berlin\n', encoding="utf-8"
    )
    command, env, workdir = service(
        UNIT,
        {"/opt/bildungsmonitor": REPO, "/srv/bildungsmonitor": srv,
         "/etc/bildungsmonitor": etc},
    )  # fmt: skip
    assert command == [str(REPO / ".venv" / "bin" / "bildungsmonitor"), "daemon"]
    assert env["BILDUNGSMONITOR_DATA_DIR"] == str(data) and workdir == REPO
    # a partner sends again what it sent before: a file for the sensor, a short run
    inbox = data / "inbox" / "kita_betreuung"
    inbox.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(KITA, inbox / "kita_2026.csv")
    log = tmp_path / "daemon.log"
    with log.open("w", encoding="utf-8") as handle:
        daemon = subprocess.Popen(
            command, cwd=workdir, env=env, stdout=handle, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:

        def sensor_and_schedule_done() -> bool:
            assert daemon.poll() is None, log.read_text(encoding="utf-8")
            with instance_of(data) as instance:
                runs = instance.get_runs()
            return (
                not (inbox / "kita_2026.csv").exists()
                and bool(runs)
                and all(r.is_finished for r in runs)
                and bool(ticks(data, "nightly_schedule"))
                and bool(ticks(data, "inbox_sensor"))
            )

        wait_for(sensor_and_schedule_done, "the daemon's sensor and schedule ticks", 300)
    finally:
        os.killpg(daemon.pid, signal.SIGKILL)
        daemon.wait(timeout=60)

    with instance_of(data) as instance:
        runs = {r.run_id: r for r in instance.get_runs()}
    assert all(r.status.value == "SUCCESS" for r in runs.values()), unsuccessful_runs(data)
    with duckdb.connect(str(data / "published" / "bildungsmonitor.duckdb"), read_only=True) as c:
        (picked_up,) = c.execute(
            "SELECT run_id FROM meta.delivery_log WHERE file_name = 'kita_2026.csv' "
            "AND action = 'skipped_unchanged'"
        ).fetchone()
    # the daemon's run took the partner's file from the inbox and published the night
    assert runs[picked_up].tags["trigger"] in ("inbox", "schedule")
    sensor = [t for t in ticks(data, "inbox_sensor") if t.get("run_ids")]
    if sensor:  # the sensor asked for the run (usually: its first tick comes at once)
        assert runs[sensor[0]["run_ids"][0]].tags["sources"] == "kita_betreuung"
    else:  # the schedule's run was working: the files waited for it (and it took them)
        reasons = [t.get("skip_reason") or "" for t in ticks(data, "inbox_sensor")]
        assert any(r.startswith("new files wait for run ") for r in reasons), reasons
    tick = ticks(data, "nightly_schedule")[0]
    if tick.get("skip_reason"):  # the sensor's run was still working: one run at a time
        assert tick["skip_reason"].endswith(" is still in progress; one run at a time"), tick
    else:  # it had ended: the schedule launched the nightly run
        (run_id,) = tick["run_ids"]
        assert runs[run_id].tags["trigger"] == "schedule"
