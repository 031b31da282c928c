"""Run a command in its own process group and measure it: wall time, CPU time and peak RSS.

Peak RSS comes from os.wait4: the kernel's ru_maxrss of the child, which also covers the
descendants it waited for (the largest of them, not a sum). CPU time (user + system) counts
every thread of the child and of its waited-for descendants; on a busy machine it says more
about the work done than the wall time.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# variables that would point a child at another data directory, instance or registry — and
# PYTHONDONTWRITEBYTECODE: without a bytecode cache every process compiles the sources of
# Dagster, Great Expectations and pandas again (about 10 CPU seconds), which no installation
# does; the children run as an installed pipeline runs
CLEARED_VARIABLES = (
    "DAGSTER_HOME",
    "BILDUNGSMONITOR_DATA_DIR",
    "BILDUNGSMONITOR_PROFILE",
    "BILDUNGSMONITOR_REGISTRY_DIR",
    "PYTHONDONTWRITEBYTECODE",
)


@dataclass(frozen=True)
class Measured:
    label: str
    command: tuple[str, ...]
    returncode: int | None  # None: killed after the timeout
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    log: Path

    @property
    def timed_out(self) -> bool:
        return self.returncode is None

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def tail(self, lines: int = 25) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def clean_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The current environment without the variables of CLEARED_VARIABLES."""
    env = {k: v for k, v in os.environ.items() if k not in CLEARED_VARIABLES}
    env.update(extra or {})
    return env


def run_measured(
    label: str,
    command: Sequence[str],
    *,
    log: Path,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> Measured:
    """Run `command` (stdout and stderr to `log`); kill its process group after `timeout`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    killed = threading.Event()
    with log.open("wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a timeout ends all of it
        )

        def kill() -> None:
            killed.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill) if timeout else None
        if timer:
            timer.daemon = True
            timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            if timer:
                timer.cancel()
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait again
    return Measured(
        label=label,
        command=tuple(command),
        returncode=None if killed.is_set() else process.returncode,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,  # Linux: kilobytes
        log=log,
    )
