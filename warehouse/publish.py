"""Publish: write a complete new DuckDB file and rename it over the analysts' file.

Analysts may hold data/published/bildungsmonitor.duckdb open at any time (a read-only DuckDB
reader blocks writers), so the pipeline never writes into it. It builds the whole publication
in a temporary file in the same folder, checkpoints and closes it, and renames it over the old
file: readers that had the old file open keep reading the old inode; new readers see the new
file. A run that fails before this step leaves the previous publication untouched.

Nobody can alter a publication: the file is made read-only (0444) before the rename, and a
`bildungsmonitor.duckdb.wal` beside it — left by an analyst who opened the file read-write and
was killed; DuckDB would replay it over whatever file bears the name — is removed before the
rename, as are temp files of publications whose runs died. (Only one run works at a time: the
run lock, warehouse/runlock.py.) A publication is only copied forward (below) when the file is
still exactly as written — same inode, size and modification time.

The file is written in DuckDB storage version v1.3.0, which every DuckDB client from 1.3 (May
2025) on reads — the R package, the DBeaver driver and the `duckdb` CLI of PyPI's duckdb-cli
(1.5) lag behind the Python package and cannot open the 2.0 default format. Not older: at
national scale the v1.0.0 format took half as long again to write (its string compression),
and BILDUNGSMONITOR_STORAGE_VERSION=v1.0.0 still writes it for a client older than 1.3.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from warehouse.build import build_sql_table
from warehouse.contract import MART_COLUMNS, comment_statements
from warehouse.db import DataPaths, utc_now
from warehouse.fingerprints import recorded
from warehouse.history import adopt_next_history, next_indicator_history
from warehouse.publications import keep_copy, prune

STORAGE_VERSION = os.environ.get("BILDUNGSMONITOR_STORAGE_VERSION", "v1.3.0")

# The analysts' contract (docs/analysts.md): published table -> table of the working warehouse.
PUBLISHED_TABLES: dict[str, str] = {
    "marts.regions": "marts.regions",
    "marts.region_changes": "marts.region_changes",
    "marts.goals": "marts.goals",
    "marts.indicators": "marts.indicators",
    # marts.measure_history's statements, without the names of measure, region and source:
    # each name is stored once (marts.measures, marts.regions, meta.sources) and the view
    # marts.measure_history joins them — at national scale the names, stored per statement,
    # took half the publication's time to compress
    "marts.measure_statements": "core.measure_history",
    "marts.measures": "core.measures",
    # what each publication said (warehouse/history.py); marts.indicator_values is its open rows
    "marts.indicator_history": "marts.indicator_values",
    "marts.schools": "marts.schools",
    "quality.check_results": "quality.check_results",
    "quality.quarantine": "quality.quarantine",
    "quality.findings": "quality.findings",
    "meta.deliveries": "meta.deliveries",
    "meta.delivery_log": "meta.delivery_log",
    "meta.delivery_events": "meta.delivery_events",
    "meta.sources": "core.sources",
}


# views of the publication over its tables (marts.measure_history: the statements with their
# names; marts.measure_values: its current rows, not written twice; marts.indicator_trends:
# computed when read)
PUBLISHED_VIEWS: tuple[str, ...] = (
    "quality/source_health.sql",
    "marts/measure_history_published.sql",
    "marts/measure_values.sql",
    "marts/indicator_values_published.sql",
    "indicators/indicator_trends.sql",
)
# what every run adds to (its checks, deliveries and log): refreshed in every publication; the
# other tables are copied from the previous publication when nothing they are built from changed
RUN_TABLES = (
    "quality.check_results",
    "quality.quarantine",
    "quality.findings",
    "meta.deliveries",
    "meta.delivery_log",
    "meta.delivery_events",
)
# the built models behind the other published tables
PUBLISHED_MODELS = (
    *(t for t in PUBLISHED_TABLES.values() if t.startswith("marts.")),
    "marts.measure_history",
    "marts.measure_values",
    "marts.indicator_trends",
    "core.catalogue",
)


@dataclass(frozen=True)
class Publication:
    path: Path
    tables: dict[str, int]  # table -> rows
    storage_version: str
    size_bytes: int
    refreshed: bool = False  # copied from the previous one, this run's tables replaced


def _publication_fingerprint(conn: duckdb.DuckDBPyConnection) -> str | None:
    """What the published marts were built from; None when a mart's build is not recorded
    (then nothing is copied: the publication is written whole)."""
    builds = [recorded(conn, m) for m in PUBLISHED_MODELS]
    if None in builds:
        return None
    parts = [STORAGE_VERSION, *(f"{m}:{b}" for m, b in zip(PUBLISHED_MODELS, builds, strict=True))]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def stale_publication_files(target: Path, keep: Path | None = None) -> list[Path]:
    """Files beside the publication that no reader may see: temp files of publications (and
    their WALs) other than `keep`, and a WAL of the published file itself."""
    folder = target.parent
    if not folder.is_dir():
        return []
    found = [*folder.glob(f".{target.name}.*.tmp"), *folder.glob(f".{target.name}.*.tmp.wal")]
    found.append(target.with_name(target.name + ".wal"))
    kept = {keep, keep.with_name(keep.name + ".wal")} if keep else set()
    return sorted(p for p in found if p not in kept and (p.exists() or p.is_symlink()))


def _file_signature(path: Path) -> str:
    """Changes whenever the file is replaced or written to."""
    stat = path.stat()
    return f"{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}"


def publish(
    conn: duckdb.DuckDBPyConnection, paths: DataPaths, run_id: str, keep: int = 7
) -> Publication:
    """A complete new publication, renamed over the previous one. When no published table is
    built from anything new, the previous publication is copied and only what this run adds
    (checks, deliveries, the log) is replaced — the marts are not written again. The last
    `keep` publications are kept for a rollback (warehouse/publications.py)."""
    target = paths.published_db
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{run_id[:8]}.{os.getpid()}.tmp")
    for leftover in (temporary, temporary.with_name(temporary.name + ".wal")):
        leftover.unlink(missing_ok=True)
    built_from = _publication_fingerprint(conn)
    published_at = utc_now()
    # copy forward only what this pipeline wrote: not a file someone has written to since
    refresh = (
        built_from is not None
        and target.exists()
        and recorded(conn, "publication") == f"{built_from}@{_file_signature(target)}"
    )
    if refresh:
        shutil.copyfile(target, temporary)
        conn.execute(f"ATTACH '{temporary}' AS publication")
    else:
        conn.execute(f"ATTACH '{temporary}' AS publication (STORAGE_VERSION '{STORAGE_VERSION}')")
    counts: dict[str, int] = {}
    try:
        if not refresh:
            for schema in sorted({t.split(".")[0] for t in PUBLISHED_TABLES}):
                conn.execute(f"CREATE SCHEMA publication.{schema}")
        copied = {
            name
            for (name,) in conn.execute(
                "SELECT schema_name || '.' || table_name FROM duckdb_tables() "
                "WHERE database_name = 'publication'"
            ).fetchall()
        }
        for table, working in PUBLISHED_TABLES.items():
            # (a copied publication lacks a table added to the contract since it was written)
            if not refresh or table in RUN_TABLES or table not in copied:
                if table == "marts.indicator_history":
                    working = next_indicator_history(conn, published_at)
                columns = ", ".join(f'"{c.name}"' for c in MART_COLUMNS[table])
                conn.execute(
                    f"CREATE OR REPLACE TABLE publication.{table} AS "
                    f"SELECT {columns} FROM {working}"
                )
            counts[table] = conn.execute(f"SELECT count(*) FROM publication.{table}").fetchone()[0]
        conn.execute(
            "CREATE OR REPLACE TABLE publication.meta.publication AS SELECT ? AS run_id, "
            "? AS published_at, ? AS storage_version",
            [run_id, published_at, STORAGE_VERSION],
        )
        # views live in the publication and name its tables without a catalogue, so they
        # resolve wherever the file is opened
        home = conn.execute("SELECT current_database()").fetchone()[0]
        conn.execute("USE publication")
        try:
            for view in PUBLISHED_VIEWS:
                # (a copied publication may hold it as a table: written before it was a view)
                build_sql_table(conn, view)
        finally:
            conn.execute(f'USE "{home}"')
        # every table and column says what it holds (a replaced table lost its comments)
        present = set(
            conn.execute(
                "SELECT schema_name || '.' || table_name, column_name FROM duckdb_columns() "
                "WHERE database_name = 'publication'"
            ).fetchall()
        )
        views = {
            name
            for (name,) in conn.execute(
                "SELECT schema_name || '.' || view_name FROM duckdb_views() "
                "WHERE database_name = 'publication' AND NOT internal"
            ).fetchall()
        }
        for statement in comment_statements("publication", present, views):
            conn.execute(statement)
        conn.execute("CHECKPOINT publication")
    except BaseException:
        with contextlib.suppress(duckdb.Error):  # e.g. the disk is full: keep the first error
            conn.execute("DETACH publication")
        for leftover in (temporary, temporary.with_name(temporary.name + ".wal")):
            leftover.unlink(missing_ok=True)
        raise
    conn.execute("DETACH publication")
    with open(temporary, "rb") as handle:
        os.fsync(handle.fileno())
    os.chmod(temporary, 0o444)  # analysts read; nobody writes into a publication
    try:
        keep_copy(paths, temporary, run_id, published_at)
    except BaseException:
        temporary.unlink(missing_ok=True)  # e.g. no space for the copy: publish nothing
        raise
    for stale in stale_publication_files(target, keep=temporary):
        stale.unlink(missing_ok=True)  # an analyst's WAL must not be replayed over the new file
    os.replace(temporary, target)  # atomic on POSIX: readers see the old or the new file
    if not refresh:
        adopt_next_history(conn)
    prune(paths, keep)
    conn.execute("DELETE FROM meta.build_state WHERE model = 'publication'")
    if built_from is not None:
        conn.execute(
            "INSERT INTO meta.build_state VALUES ('publication', ?, ?, ?)",
            [f"{built_from}@{_file_signature(target)}", run_id, utc_now()],
        )
    return Publication(target, counts, STORAGE_VERSION, target.stat().st_size, refreshed=refresh)
