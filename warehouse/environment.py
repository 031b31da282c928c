"""Errors of the environment — a full disk, a read-only or missing data directory, a denied
permission — told as one line naming the path and the cause, not as a traceback.

They surface as Python OSErrors (errno), as DuckDB IO errors ('Could not write file "…": No
space left on device') and as SQLite errors of the Dagster instance ('database or disk is
full'), directly or as the cause of another error, and in Dagster's record of a failed step
(its error info: class name, message, cause). `find_problem` looks through all of them.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from warehouse.db import DataPaths

CAUSES: dict[int, str] = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EIO: "disk I/O error",
}
# how DuckDB and SQLite say it (they do not raise OSError)
TEXT_CAUSES: tuple[tuple[str, int], ...] = (
    ("no space left on device", errno.ENOSPC),
    ("database or disk is full", errno.ENOSPC),
    ("disk quota exceeded", errno.EDQUOT),
    ("read-only file system", errno.EROFS),
    ("attempt to write a readonly database", errno.EROFS),
    ("permission denied", errno.EACCES),
    ("operation not permitted", errno.EPERM),
    ("disk i/o error", errno.EIO),  # SQLite, when a write fails for a reason it does not name
)
WHAT_TO_DO: dict[int, str] = {
    errno.ENOSPC: "free space there and start the run again",
    errno.EDQUOT: "raise the quota or free space and start the run again",
    errno.EROFS: "mount it writable or choose another --data-dir",
    errno.EACCES: "give the user running the pipeline write access",
    errno.EPERM: "give the user running the pipeline write access",
    errno.EIO: "check the disk (free space, health) and start the run again",
    errno.ENOENT: "create it, mount the disk, or fix --data-dir / BILDUNGSMONITOR_DATA_DIR",
    errno.ENOTDIR: "point --data-dir / BILDUNGSMONITOR_DATA_DIR at a folder",
}
PATH_IN_TEXT = re.compile(r"""["'](/[^"']+)["']""")


@dataclass(frozen=True)
class EnvironmentProblem:
    path: str
    errno: int

    @property
    def cause(self) -> str:
        return CAUSES.get(self.errno, os.strerror(self.errno).lower())

    def line(self) -> str:
        hint = WHAT_TO_DO.get(self.errno)
        return f"{self.path}: {self.cause}" + (f" — {hint}" if hint else "")


class DataDirError(RuntimeError):
    def __init__(self, problem: EnvironmentProblem) -> None:
        self.problem = problem
        super().__init__(problem.line())


@dataclass(frozen=True)
class ErrorText:
    """One error of a chain: its class name and message (a live exception or Dagster's
    serialised error info), with the errno and file name when it is an OSError."""

    cls_name: str
    message: str
    errno: int | None = None
    filename: str | None = None


def exception_chain(exc: BaseException | None) -> list[ErrorText]:
    chain: list[ErrorText] = []
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError):
            filename = exc.filename if isinstance(exc.filename, str) else None
            chain.append(ErrorText(type(exc).__name__, str(exc), exc.errno, filename))
        else:
            chain.append(ErrorText(type(exc).__name__, str(exc)))
        exc = exc.__cause__ or exc.__context__
    return chain


def find_problem(chain: Iterable[ErrorText], fallback_path: Path) -> EnvironmentProblem | None:
    """The first error of the chain caused by the environment, or None (a bug, a bad file…).
    `fallback_path` is named when the error does not say which file (SQLite never does)."""
    for error in chain:
        if error.errno in CAUSES:
            return EnvironmentProblem(error.filename or str(fallback_path), error.errno)
        lowered = error.message.lower()
        for text, number in TEXT_CAUSES:
            if text in lowered:
                match = PATH_IN_TEXT.search(error.message)
                return EnvironmentProblem(match.group(1) if match else str(fallback_path), number)
    return None


def check_data_dir(paths: DataPaths) -> None:
    """Before a run: the data directory exists (or can be created in an existing folder) and
    can be written to. Raises DataDirError naming the path and the cause."""
    root = paths.root
    if root.exists() and not root.is_dir():
        raise DataDirError(EnvironmentProblem(str(root), errno.ENOTDIR))
    if not root.exists():
        if not root.parent.is_dir():  # a disk not mounted, a mistyped --data-dir
            raise DataDirError(EnvironmentProblem(str(root.parent), errno.ENOENT))
        try:
            root.mkdir()
        except OSError as exc:
            raise DataDirError(EnvironmentProblem(str(root), exc.errno or errno.EIO)) from exc
    probe = root / f".write-test.{os.getpid()}"
    try:
        probe.write_bytes(b"bildungsmonitor")
        probe.unlink()
    except OSError as exc:
        raise DataDirError(EnvironmentProblem(str(root), exc.errno or errno.EIO)) from exc
