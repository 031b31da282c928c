"""Publish: write a complete new DuckDB file and rename it over the analysts' file.

Analysts may hold data/published/bildungsmonitor.duckdb open at any time (a read-only DuckDB
reader blocks writers), so the pipeline never writes into it. It builds the whole publication
in a temporary file in the same folder, checkpoints and closes it, and renames it over the old
file: readers that had the old file open keep reading the old inode; new readers see the new
file. A run that fails before this step leaves the previous publication untouched.

The file is written in DuckDB storage version v1.0.0, which every DuckDB client from 1.0 on
reads — the R package, the DBeaver driver and the `duckdb` CLI of PyPI's duckdb-cli (1.5)
lag behind the Python package and cannot open the 2.0 default format.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from warehouse.db import DataPaths, run_sql_file, utc_now

STORAGE_VERSION = os.environ.get("BILDUNGSMONITOR_STORAGE_VERSION", "v1.0.0")

# The analysts' contract (docs/analysts.md): published table -> table of the working warehouse.
PUBLISHED_TABLES: dict[str, str] = {
    "marts.regions": "marts.regions",
    "marts.goals": "marts.goals",
    "marts.indicators": "marts.indicators",
    "marts.measure_values": "marts.measure_values",
    "marts.indicator_values": "marts.indicator_values",
    "marts.indicator_trends": "marts.indicator_trends",
    "marts.schools": "marts.schools",
    "quality.check_results": "quality.check_results",
    "quality.quarantine": "quality.quarantine",
    "quality.findings": "quality.findings",
    "meta.deliveries": "meta.deliveries",
    "meta.delivery_log": "meta.delivery_log",
    "meta.sources": "core.sources",
}


PUBLISHED_VIEWS: tuple[str, ...] = ("quality/source_health.sql",)


@dataclass(frozen=True)
class Publication:
    path: Path
    tables: dict[str, int]  # table -> rows
    storage_version: str
    size_bytes: int


def publish(conn: duckdb.DuckDBPyConnection, paths: DataPaths, run_id: str) -> Publication:
    target = paths.published_db
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{run_id[:8]}.{os.getpid()}.tmp")
    for leftover in (temporary, temporary.with_name(temporary.name + ".wal")):
        leftover.unlink(missing_ok=True)
    conn.execute(f"ATTACH '{temporary}' AS publication (STORAGE_VERSION '{STORAGE_VERSION}')")
    counts: dict[str, int] = {}
    try:
        for schema in sorted({t.split(".")[0] for t in PUBLISHED_TABLES}):
            conn.execute(f"CREATE SCHEMA publication.{schema}")
        for table, working in PUBLISHED_TABLES.items():
            conn.execute(f"CREATE TABLE publication.{table} AS SELECT * FROM {working}")
            counts[table] = conn.execute(f"SELECT count(*) FROM publication.{table}").fetchone()[0]
        conn.execute(
            "CREATE TABLE publication.meta.publication AS SELECT ? AS run_id, ? AS published_at, "
            "? AS storage_version",
            [run_id, utc_now(), STORAGE_VERSION],
        )
        # views live in the publication and name its tables without a catalogue, so they
        # resolve wherever the file is opened
        home = conn.execute("SELECT current_database()").fetchone()[0]
        conn.execute("USE publication")
        try:
            for view in PUBLISHED_VIEWS:
                run_sql_file(conn, view)
        finally:
            conn.execute(f'USE "{home}"')
        conn.execute("CHECKPOINT publication")
    except BaseException:
        conn.execute("DETACH publication")
        temporary.unlink(missing_ok=True)
        raise
    conn.execute("DETACH publication")
    with open(temporary, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, target)  # atomic on POSIX: readers see the old or the new file
    return Publication(target, counts, STORAGE_VERSION, target.stat().st_size)
