"""Helpers of the unattended-night tests: start `bildungsmonitor run` as its own process group,
watch its Dagster run through the instance, kill it, inspect what a night leaves behind."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
from dagster._core.instance.ref import InstanceRef

from tests.conftest import REPO

SHIM_SOURCE = REPO / "tests" / "native" / "enospc.c"

# the demo deliveries the nights drop into inboxes
DELIVERIES = REPO / "sources" / "demo" / "deliveries"
LEAVERS = (
    DELIVERIES / "schulabgaenger" / "SYNTHETISCH_schulabgaenger_abschlussart_nrw_2012-2023.csv"
)
KITA = DELIVERIES / "kita_betreuung" / "SYNTHETISCH_kindertagesbetreuung_berichtigung_2024.csv"


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "BILDUNGSMONITOR_DATA_DIR")
    }
    return {**env, **(extra or {})}


@dataclass
class Started:
    """A `bildungsmonitor run` started in its own process group (a session)."""

    process: subprocess.Popen
    log: Path

    @property
    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def kill_tree(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=60)

    def wait(self, timeout: int = 900) -> int:
        return self.process.wait(timeout=timeout)


def start_cli(data_dir: Path, log: Path, env: dict[str, str] | None = None) -> Started:
    handle = log.open("w", encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "run", "--data-dir", str(data_dir)],
        cwd=REPO,
        env=cli_env(env),
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    handle.close()
    return Started(process, log)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def lock_record(data_dir: Path) -> dict:
    path = data_dir / "run.lock"
    try:
        return json.loads(path.read_text(encoding="utf-8") or "{}")
    except (FileNotFoundError, ValueError):
        return {}


def instance_of(data_dir: Path) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(data_dir / "dagster_home")))


def unsuccessful_runs(data_dir: Path) -> str:
    """Each run that did not succeed: its status, tags and the errors its events recorded."""
    lines: list[str] = []
    failing = (
        dg.DagsterEventType.STEP_FAILURE,
        dg.DagsterEventType.RUN_FAILURE,
        dg.DagsterEventType.RUN_CANCELED,
        dg.DagsterEventType.ENGINE_EVENT,
    )
    with instance_of(data_dir) as instance:
        for run in instance.get_runs():
            if run.status.value == "SUCCESS":
                continue
            lines.append(f"run {run.run_id} {run.status.value} tags={dict(run.tags)}")
            for entry in instance.all_logs(run.run_id, of_type=set(failing)):
                event = entry.dagster_event
                error = getattr(event.event_specific_data, "error", None) if event else None
                text = error.to_string() if error else entry.user_message
                lines.append(f"  {entry.step_key or '-'}: {text[-1500:]}")
    return "\n".join(lines)


def started_steps(data_dir: Path, run_id: str) -> list[str]:
    with instance_of(data_dir) as instance:
        records = instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.STEP_START
        ).records
        return [r.event_log_entry.step_key or "" for r in records]


def wait_for_step(started: Started, data_dir: Path, prefixes: tuple[str, ...]) -> str:
    """Wait until the run of `started` has started a step whose key begins with a prefix."""
    found: list[str] = []

    def reached() -> bool:
        assert started.process.poll() is None, f"the run ended early:\n{started.output}"
        record = lock_record(data_dir)  # this process's, not the last run's
        run_id = record.get("run_id") if record.get("pid") == started.process.pid else None
        if not run_id:
            return False
        found[:] = [s for s in started_steps(data_dir, run_id) if s.startswith(prefixes)]
        return bool(found)

    wait_for(reached, f"a step {prefixes}")
    return lock_record(data_dir)["run_id"]


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def readable_publication(path: Path) -> tuple[str, int]:
    """The run id a publication names and its indicator rows (it opens and answers)."""
    with duckdb.connect(str(path), read_only=True) as conn:
        run_id = conn.execute("SELECT run_id FROM meta.publication").fetchone()[0]
        rows = conn.execute("SELECT count(*) FROM marts.indicator_values").fetchone()[0]
    return run_id, rows


def leftovers(data_dir: Path) -> list[str]:
    """Temp files a run may leave: publication temp files and WALs, DuckDB spill files,
    half-written archive payloads."""
    published = data_dir / "published"
    found = [p for p in published.iterdir() if p.name != "bildungsmonitor.duckdb"]
    spill = data_dir / "warehouse" / "tmp"
    if spill.is_dir():
        found += list(spill.iterdir())
    found += list((data_dir / "raw").glob("sha256/*/.*.tmp"))
    return sorted(str(p.relative_to(data_dir)) for p in found)


def flipped_copy(original: Path, target: Path) -> Path:
    """A new delivery with the same records: the file with its line endings swapped."""
    data = original.read_bytes()
    flipped = data.replace(b"\r\n", b"\n") if b"\r\n" in data else data.replace(b"\n", b"\r\n")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(flipped)
    return target


def run_status(data_dir: Path, run_id: str) -> tuple[str, str]:
    """The run's status and the message of its failure event, if any."""
    with instance_of(data_dir) as instance:
        run = instance.get_run_by_id(run_id)
        assert run is not None, run_id
        failures = instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.RUN_FAILURE
        ).records
        message = failures[-1].event_log_entry.dagster_event.message if failures else ""
        return run.status.value, message or ""


def build_enospc_shim(target_dir: Path) -> Path | None:
    """tests/native/enospc.c built as a preload library, or None without a C compiler."""
    compiler = next((c for c in ("cc", "gcc", "clang") if _which(c)), None)
    if compiler is None:
        return None
    library = target_dir / "enospc.so"
    subprocess.run(
        [compiler, "-shared", "-fPIC", "-O2", "-o", str(library), str(SHIM_SOURCE), "-ldl"],
        check=True,
        capture_output=True,
    )
    return library


def _which(name: str) -> bool:
    from shutil import which

    return which(name) is not None
