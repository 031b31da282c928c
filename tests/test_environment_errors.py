"""Errors of the environment: one line naming the path and the cause, exit code 6
(docs/operations.md, "Exit codes"), nothing started. A full disk at ingest, in the build and at
publication is tried on real runs in test_unattended.py."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.nights import cli_env
from warehouse.environment import ErrorText, exception_chain, find_problem

CLI = [sys.executable, "-m", "pipelines.cli", "run", "--data-dir"]


def run(command: list[str]) -> tuple[int, str]:
    done = subprocess.run(
        command, cwd=REPO, env=cli_env(), capture_output=True, text=True, timeout=300
    )
    return done.returncode, done.stdout + done.stderr


def test_a_missing_data_directory(tmp_path: Path) -> None:
    data = tmp_path / "not-mounted" / "disk" / "data"
    code, output = run([*CLI, str(data)])
    assert (code, output) == (
        6,
        f"Cannot run: {data.parent}: no such file or directory — create it, mount the disk, "
        "or fix --data-dir / BILDUNGSMONITOR_DATA_DIR\n",
    )
    assert not data.parent.exists()


def test_a_data_directory_that_is_a_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.write_text("oops", encoding="utf-8")
    code, output = run([*CLI, str(data)])
    assert (code, output) == (
        6,
        f"Cannot run: {data}: not a directory — point --data-dir / BILDUNGSMONITOR_DATA_DIR "
        "at a folder\n",
    )


def test_a_read_only_data_directory(tmp_path: Path) -> None:
    """A read-only mount (a bind mount in a private mount namespace)."""
    if not shutil.which("unshare"):
        pytest.skip("needs unshare(1)")
    data = tmp_path / "data"
    data.mkdir()
    (data / "kept.txt").write_text("as before", encoding="utf-8")
    mount = (
        f'mount --bind "{data}" "{data}" && mount -o remount,bind,ro "{data}" && exec '
        + " ".join(f'"{part}"' for part in [*CLI, str(data)])
    )
    code, output = run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", mount])
    if "mount:" in output or "unshare:" in output:
        pytest.skip(f"no private mount namespace here: {output.strip()}")
    assert (code, output) == (
        6,
        f"Cannot run: {data}: read-only file system — mount it writable or choose another "
        "--data-dir\n",
    )
    assert sorted(p.name for p in data.iterdir()) == ["kept.txt"]


def test_a_data_directory_without_permission(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    if os.geteuid() == 0:  # root may write anywhere: run the CLI as nobody
        if not shutil.which("setpriv"):
            pytest.skip("needs setpriv(1) to drop root")
        tmp_path.chmod(0o755)
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *CLI]
    else:
        data.chmod(0o555)
        command = CLI
    code, output = run([*command, str(data)])
    assert (code, output) == (
        6,
        f"Cannot run: {data}: permission denied — give the user running the pipeline write "
        "access\n",
    )


@pytest.mark.parametrize(
    ("error", "path", "cause"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), "/data", "no space left on device"),
        (
            RuntimeError(
                'IO Error: Could not write file "/d/w.duckdb.wal": No space left on device'
            ),
            "/d/w.duckdb.wal",
            "no space left on device",
        ),
        (
            RuntimeError("(sqlite3.OperationalError) database or disk is full"),
            "/data",
            "no space left on device",
        ),
        (
            PermissionError(errno.EACCES, "Permission denied", "/d/raw/x"),
            "/d/raw/x",
            "permission denied",
        ),
        (
            RuntimeError("(sqlite3.OperationalError) disk I/O error"),
            "/data",
            "disk I/O error",
        ),
        (
            RuntimeError("(sqlite3.OperationalError) attempt to write a readonly database"),
            "/data",
            "read-only file system",
        ),
    ],
)
def test_the_causes_are_found_in_what_python_duckdb_and_sqlite_say(
    error: Exception, path: str, cause: str
) -> None:
    try:
        try:
            raise error
        except Exception as inner:
            raise RuntimeError("a step failed") from inner
    except RuntimeError as outer:
        problem = find_problem(exception_chain(outer), Path("/data"))
    assert problem is not None
    assert (problem.path, problem.cause) == (path, cause)


def test_other_errors_are_not_blamed_on_the_environment() -> None:
    chain = [ErrorText("KeyError", "'dropout_rate'"), ErrorText("FileNotFoundError", "x", 2)]
    assert find_problem(chain, Path("/data")) is None
