"""Shared fixtures: the real demo pipeline, run once per test session through the CLI.

The session runs `bildungsmonitor run` twice on the bundled demo data in a temporary data
directory (a real DuckDB file, a real Dagster instance under <data>/dagster_home): the first run
parses everything, the second finds every payload unchanged. Tests that only read share these
runs; tests that change inputs copy the data directory first.

Under pytest-xdist (`./go test` runs the suite on every core) the workers share one demo: the
first worker that needs it runs it under a file lock in the run's common temp folder, the others
wait for it and read the same directory.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from filelock import FileLock

from sources.registry import load_registry
from warehouse.db import DataPaths, init_schema
from warehouse.ingest import ingest_source
from warehouse.staging import StagingResult, stage_source

REPO = Path(__file__).resolve().parents[1]
# The longest modules (each several pipeline runs), longest first: under pytest-xdist the workers
# take modules in collection order, so these start at once instead of ending the run one by one.
LONGEST_FIRST = (
    "test_workflows.py",
    "test_unattended.py",
    "test_corpus.py",
    "test_daemon_recovery.py",
    "test_one_run_at_a_time.py",
    "test_held_back.py",
    "test_production.py",
    "test_api_sources.py",
    "test_genesis_recordings.py",
    "test_portal.py",
    "test_benchmarks.py",
    "test_report.py",
    "test_history.py",
)
RUN_ID = re.compile(r"^Run ([0-9a-f-]{36}) ", re.MULTILINE)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: others keep order


@dataclass(frozen=True)
class CliRun:
    returncode: int
    output: str

    @property
    def run_id(self) -> str:
        match = RUN_ID.search(self.output)
        assert match, f"no run id in the CLI output:\n{self.output}"
        return match.group(1)


def run_cli(data_dir: Path, *args: str, timeout: int = 900) -> CliRun:
    """`bildungsmonitor run --data-dir DIR` in a fresh process, as a user would call it."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "BILDUNGSMONITOR_DATA_DIR")
    }
    completed = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--data-dir", str(data_dir), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return CliRun(completed.returncode, completed.stdout + completed.stderr)


@dataclass(frozen=True)
class DemoRuns:
    data_dir: Path
    first: CliRun
    second: CliRun

    @property
    def published(self) -> Path:
        return self.data_dir / "published" / "bildungsmonitor.duckdb"

    @property
    def work_db(self) -> Path:
        return self.data_dir / "warehouse" / "work.duckdb"


def _run_demo(data_dir: Path) -> DemoRuns:
    first = run_cli(data_dir)
    assert first.returncode == 0, first.output
    second = run_cli(data_dir)
    assert second.returncode == 0, second.output
    return DemoRuns(data_dir, first, second)


@pytest.fixture(scope="session")
def demo_runs(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> DemoRuns:
    if worker_id == "master":  # one process: no one to share with
        return _run_demo(tmp_path_factory.mktemp("demo") / "data")
    shared = tmp_path_factory.getbasetemp().parent / "demo"
    outputs = shared / "outputs.json"
    shared.mkdir(exist_ok=True)
    with FileLock(str(shared) + ".lock"):
        if not outputs.exists():
            runs = _run_demo(shared / "data")
            outputs.write_text(
                json.dumps([runs.first.returncode, runs.first.output,
                            runs.second.returncode, runs.second.output]),
                encoding="utf-8",
            )  # fmt: skip
    code_1, output_1, code_2, output_2 = json.loads(outputs.read_text(encoding="utf-8"))
    return DemoRuns(shared / "data", CliRun(code_1, output_1), CliRun(code_2, output_2))


@pytest.fixture(scope="session")
def published(demo_runs: DemoRuns) -> Iterator[duckdb.DuckDBPyConnection]:
    conn = duckdb.connect(str(demo_runs.published), read_only=True)
    yield conn
    conn.close()


def copy_data_dir(demo_runs: DemoRuns, target: Path) -> Path:
    """A private copy of the demo's data directory, for tests that add deliveries."""
    shutil.copytree(demo_runs.data_dir, target)
    return target


def stage_bytes(tmp_path: Path, source_id: str, payload: bytes, file_name: str):
    """Ingest and stage one file as the only delivery of `source_id` (real archive, real DB)."""
    paths = DataPaths(tmp_path / "data")
    delivered = tmp_path / file_name
    delivered.write_bytes(payload)
    source = load_registry()[source_id].model_copy(update={"location": (str(delivered),)})
    paths.work_db.parent.mkdir(parents=True, exist_ok=True)
    conn = duckdb.connect(str(paths.work_db))
    init_schema(conn)
    ingest_source(conn, source, paths, "test-run")
    result = stage_source(conn, source, paths, "test-run")
    return result, conn


@pytest.fixture
def staged(tmp_path: Path):
    """stage_bytes into one data directory per test, closing what it opened afterwards."""
    opened: list[duckdb.DuckDBPyConnection] = []

    def _stage(
        source_id: str, payload: bytes, file_name: str
    ) -> tuple[StagingResult, duckdb.DuckDBPyConnection]:
        result, conn = stage_bytes(tmp_path, source_id, payload, file_name)
        opened.append(conn)
        return result, conn

    yield _stage
    for conn in opened:
        conn.close()
