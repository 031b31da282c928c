"""The last N publications, kept; one of them republished on demand (rollback).

Every publication is also kept as `<data dir>/publications/<published at>_<run id>.duckdb` (a
read-only copy, written before the publication is renamed into place); the oldest beyond the
number operations.yaml keeps (`retention.publications`, default 7) are removed after each
publication. `rollback` republishes a kept one by the same rules as a normal publication: a copy
in a temp file beside the analysts' file, read-only, a stale WAL removed, renamed over it.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from warehouse.db import DataPaths
from warehouse.held_back import held_back_sources

STAMP = "%Y%m%dT%H%M%SZ"


def history_dir(paths: DataPaths) -> Path:
    return paths.root / "publications"


def keep_copy(paths: DataPaths, written: Path, run_id: str, published_at: dt.datetime) -> Path:
    """A read-only copy of the publication just written (before its rename into place)."""
    folder = history_dir(paths)
    folder.mkdir(parents=True, exist_ok=True)
    entry = folder / f"{published_at:{STAMP}}_{run_id}.duckdb"
    temporary = folder / f".{entry.name}.tmp"
    shutil.copyfile(written, temporary)
    with open(temporary, "rb") as handle:
        os.fsync(handle.fileno())
    os.chmod(temporary, 0o444)
    os.replace(temporary, entry)
    return entry


def prune(paths: DataPaths, keep: int) -> list[Path]:
    """Remove all but the newest `keep` kept publications (and leftovers of broken copies)."""
    folder = history_dir(paths)
    if not folder.is_dir():
        return []
    entries = sorted(folder.glob("*.duckdb"), reverse=True)
    removed = entries[keep:] + list(folder.glob(".*.tmp"))
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


@dataclass(frozen=True)
class KeptPublication:
    path: Path
    run_id: str
    published_at: dt.datetime
    sources: int
    held_back: tuple[str, ...]
    checks: dict[str, int]  # outcome -> checks of that run
    current: bool  # the one analysts see now

    def line(self) -> str:
        checks = ", ".join(
            f"{self.checks.get(outcome, 0)} {label}"
            for outcome, label in (
                ("PASS", "passed"),
                ("WARNING", "warnings"),
                ("FAIL", "failed"),
                ("NOT_EVALUATED", "not evaluated"),
            )
        )
        held = f" (held back: {', '.join(self.held_back)})" if self.held_back else ""
        return (
            f"{'*' if self.current else ' '} {self.published_at:%Y-%m-%d %H:%M:%S} UTC  run "
            f"{self.run_id}  {self.sources} sources{held}  checks: {checks}"
        )


def _published_run(path: Path) -> str | None:
    if not path.exists():
        return None
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute("SELECT run_id FROM meta.publication").fetchone()[0]


def kept_publications(paths: DataPaths) -> list[KeptPublication]:
    """The kept publications, newest first."""
    folder = history_dir(paths)
    current = _published_run(paths.published_db)
    kept = []
    for path in sorted(folder.glob("*.duckdb"), reverse=True) if folder.is_dir() else []:
        with duckdb.connect(str(path), read_only=True) as conn:
            run_id, published_at = conn.execute(
                "SELECT run_id, published_at FROM meta.publication"
            ).fetchone()
            sources = conn.execute("SELECT count(*) FROM meta.sources").fetchone()[0]
            held = tuple(h.source_id for h in held_back_sources(conn, run_id))
            checks = dict(
                conn.execute(
                    "SELECT outcome, count(*) FROM quality.check_results WHERE run_id = ? "
                    "GROUP BY outcome",
                    [run_id],
                ).fetchall()
            )
        kept.append(
            KeptPublication(path, run_id, published_at, sources, held, checks, run_id == current)
        )
    return kept


class UnknownPublication(LookupError):
    pass


def find_kept(paths: DataPaths, run_id: str) -> KeptPublication:
    """The kept publication of `run_id` (its first 8 or more characters are enough)."""
    kept = kept_publications(paths)
    found = [k for k in kept if len(run_id) >= 8 and k.run_id.startswith(run_id)]
    if len(found) != 1:
        listed = "\n".join(k.line() for k in kept) or "  (none)"
        raise UnknownPublication(
            f"No kept publication of run {run_id!r}"
            + (" (the id is ambiguous)" if found else "")
            + f"; these are kept:\n{listed}"
        )
    return found[0]


def republish(paths: DataPaths, kept: KeptPublication, by: str) -> Path:
    """Make a kept publication the analysts' file again, atomically (publish-by-rename)."""
    from warehouse.publish import stale_publication_files  # (publish keeps copies: a cycle)

    target = paths.published_db
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{by}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(kept.path, temporary)
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o444)
        for stale in stale_publication_files(target, keep=temporary):
            stale.unlink(missing_ok=True)  # an analyst's WAL must not be replayed over it
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return target
