"""Publish: a complete new file renamed over the old one, in a storage version DuckDB 1.x reads;
an analyst holding the old file open is never disturbed; a failure leaves the old file."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from warehouse.contract import MART_COLUMNS
from warehouse.db import DataPaths, init_schema
from warehouse.publish import PUBLISHED_MODELS, PUBLISHED_TABLES, publish


def fill(conn: duckdb.DuckDBPyConnection, table: str, rows: int, published: str = "") -> None:
    """`table` with the contract's columns (those of the table `published` from it) and `rows`
    rows: keys and values 0, 1, 2 …"""
    columns = MART_COLUMNS[published or table]
    cells = {
        "BOOLEAN": "true",
        "TIMESTAMP": "TIMESTAMP '2026-01-01 01:00:00'",
        "DATE": "DATE '2026-01-01'",
    }
    select = ", ".join(
        f"{cells.get(c.type, f'CAST(range AS {c.type})')} AS {c.name}" for c in columns
    )
    conn.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT {select} FROM range({rows})")


def working_warehouse(paths: DataPaths, rows: int) -> duckdb.DuckDBPyConnection:
    paths.work_db.parent.mkdir(parents=True, exist_ok=True)
    conn = duckdb.connect(str(paths.work_db))
    init_schema(conn)
    for published, working in PUBLISHED_TABLES.items():
        if not conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema || '.' || "
            "table_name = ?",
            [working],
        ).fetchone()[0]:
            fill(conn, working, rows, published)
    conn.execute("DELETE FROM meta.deliveries")
    return conn


def test_publish_writes_every_table_in_storage_version_v1(tmp_path: Path) -> None:
    paths = DataPaths(tmp_path)
    conn = working_warehouse(paths, 3)
    publication = publish(conn, paths, "run-1")
    conn.close()
    assert publication.path == tmp_path / "published" / "bildungsmonitor.duckdb"
    assert set(publication.tables) == set(PUBLISHED_TABLES)
    assert publication.tables["marts.indicator_history"] == 3
    assert publication.storage_version == "v1.3.0"
    with duckdb.connect(str(publication.path), read_only=True) as published:
        run_id, storage = published.execute(
            "SELECT run_id, storage_version FROM meta.publication"
        ).fetchone()
        assert (run_id, storage) == ("run-1", "v1.3.0")
        # what the file itself says: the storage format of DuckDB 1.3 and later
        version = published.execute(
            "SELECT tags['storage_version'] FROM duckdb_databases() WHERE database_name = "
            "current_database()"
        ).fetchone()[0]
        assert version == "v1.3.0+"
    assert [p.name for p in (tmp_path / "published").iterdir()] == ["bildungsmonitor.duckdb"]


READER = """
import sys, time, duckdb
conn = duckdb.connect(sys.argv[1], read_only=True)
print(conn.execute("SELECT count(*) FROM marts.indicator_values").fetchone()[0], flush=True)
sys.stdin.readline()          # hold the file open until told to read again
print(conn.execute("SELECT count(*) FROM marts.indicator_values").fetchone()[0], flush=True)
"""


def test_an_open_reader_keeps_its_file_and_new_readers_see_the_new_one(tmp_path: Path) -> None:
    paths = DataPaths(tmp_path)
    conn = working_warehouse(paths, 5)
    publish(conn, paths, "run-1")
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(paths.published_db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout.readline().strip() == "5"
        # the analyst's read-only connection would block any writer of that file: publish
        # must not write into it, only rename a new file over it
        fill(conn, "marts.indicator_values", 7)
        publish(conn, paths, "run-2")
        reader.stdin.write("\n")
        reader.stdin.flush()
        assert reader.stdout.readline().strip() == "5"  # still the old publication
    finally:
        reader.communicate(timeout=30)
    conn.close()
    with duckdb.connect(str(paths.published_db), read_only=True) as fresh:
        assert fresh.execute("SELECT count(*) FROM marts.indicator_values").fetchone()[0] == 7
        assert fresh.execute("SELECT run_id FROM meta.publication").fetchone()[0] == "run-2"


def test_a_failed_publication_leaves_the_previous_one_and_no_temporary_file(
    tmp_path: Path,
) -> None:
    paths = DataPaths(tmp_path)
    conn = working_warehouse(paths, 4)
    publish(conn, paths, "run-1")
    before = paths.published_db.read_bytes()
    mtime = paths.published_db.stat().st_mtime_ns
    conn.execute("DROP TABLE marts.schools")  # the copy fails half way
    with pytest.raises(duckdb.CatalogException, match="schools"):
        publish(conn, paths, "run-2")
    conn.close()
    time.sleep(0.01)
    assert paths.published_db.read_bytes() == before
    assert paths.published_db.stat().st_mtime_ns == mtime
    assert [p.name for p in paths.published_db.parent.iterdir()] == ["bildungsmonitor.duckdb"]


ANALYST_SESSION = """
import os, signal, sys, duckdb
conn = duckdb.connect(sys.argv[1])  # read-write: the DuckDB CLI without -readonly
conn.execute("UPDATE marts.indicator_history SET value = -1")
if sys.argv[2] == "killed":
    os.kill(os.getpid(), signal.SIGKILL)  # dies before it closes: the change stays in the WAL
conn.close()  # closed: the change is checkpointed into the file itself
"""


def analyst(published: Path, how: str) -> None:
    published.chmod(0o644)  # an analyst who may write (the file's owner, or root)
    subprocess.run([sys.executable, "-c", ANALYST_SESSION, str(published), how], timeout=60)


def indicator_values(published: Path) -> list[int]:
    with duckdb.connect(str(published), read_only=True) as conn:
        values = conn.execute("SELECT value FROM marts.indicator_values").fetchall()
        return sorted(int(value) for (value,) in values)


def test_the_publication_is_read_only_and_a_stale_wal_or_temp_file_never_reaches_it(
    tmp_path: Path,
) -> None:
    paths = DataPaths(tmp_path)
    conn = working_warehouse(paths, 3)
    publish(conn, paths, "run-1")
    assert paths.published_db.stat().st_mode & 0o777 == 0o444
    analyst(paths.published_db, "killed")
    wal = paths.published_db.with_name("bildungsmonitor.duckdb.wal")
    assert wal.exists()
    assert indicator_values(paths.published_db) == [-1, -1, -1]  # every reader sees it
    dead = paths.published_db.with_name(".bildungsmonitor.duckdb.deadbeef.999.tmp")
    dead.write_bytes(b"half a publication")
    dead.with_name(dead.name + ".wal").write_bytes(b"its wal")
    publish(conn, paths, "run-2")
    conn.close()
    assert indicator_values(paths.published_db) == [0, 1, 2]
    assert [p.name for p in paths.published_db.parent.iterdir()] == ["bildungsmonitor.duckdb"]
    assert paths.published_db.stat().st_mode & 0o777 == 0o444


def test_a_publication_someone_wrote_to_is_written_anew_not_copied_forward(
    tmp_path: Path,
) -> None:
    paths = DataPaths(tmp_path)
    conn = working_warehouse(paths, 3)
    for model in PUBLISHED_MODELS:  # every mart recorded as built: the next one may copy
        conn.execute("INSERT INTO meta.build_state VALUES (?, 'f', 'run-1', now())", [model])
    assert not publish(conn, paths, "run-1").refreshed
    assert publish(conn, paths, "run-2").refreshed  # nothing new: the marts are copied forward
    analyst(paths.published_db, "closed")  # changed and checkpointed into the file itself
    assert indicator_values(paths.published_db) == [-1, -1, -1]
    assert not publish(conn, paths, "run-3").refreshed  # not the file this pipeline wrote
    conn.close()
    assert indicator_values(paths.published_db) == [0, 1, 2]


def test_the_history_keeps_what_each_publication_said(tmp_path: Path, monkeypatch) -> None:
    """marts.indicator_history: an unchanged value keeps its valid_from, a changed or vanished
    one is closed at the next publication; indicator_values_as_of returns either state; an
    analyst who writes into the publication cannot rewrite the history."""
    import datetime as dt

    import warehouse.publish

    nights = iter(dt.datetime(2026, 3, day, 1, 0) for day in (1, 2, 3))
    monkeypatch.setattr(warehouse.publish, "utc_now", lambda: next(nights))
    paths = DataPaths(tmp_path)
    conn = working_warehouse(paths, 3)  # values 0, 1, 2
    publish(conn, paths, "run-1")
    analyst(paths.published_db, "closed")  # the history in the file says -1 now
    conn.execute("UPDATE marts.indicator_values SET value = 10 WHERE value = 1")
    conn.execute("DELETE FROM marts.indicator_values WHERE value = 2")
    publish(conn, paths, "run-2")
    publish(conn, paths, "run-3")  # nothing changed since: the history stays
    conn.close()
    with duckdb.connect(str(paths.published_db), read_only=True) as published:
        history = published.execute(
            "SELECT indicator_id, value, valid_from, valid_to FROM marts.indicator_history "
            "ORDER BY indicator_id, valid_from"
        ).fetchall()
        first, second = (dt.datetime(2026, 3, day, 1, 0) for day in (1, 2))
        assert history == [
            ("0", 0.0, first, None),
            ("1", 1.0, first, second),
            ("1", 10.0, second, None),
            ("2", 2.0, first, second),
        ]
        as_of = {
            moment: published.execute(
                f"SELECT list(value ORDER BY indicator_id) FROM "
                f"marts.indicator_values_as_of({moment})"
            ).fetchone()[0]
            for moment in (
                "DATE '2026-02-28'",
                "DATE '2026-03-01'",
                "TIMESTAMP '2026-03-02 00:59:59'",
                "TIMESTAMP '2026-03-02 01:00:00'",
                "'2026-03-05'",
            )
        }
        assert as_of == {
            "DATE '2026-02-28'": None,  # nothing was published yet
            "DATE '2026-03-01'": [0.0, 1.0, 2.0],
            "TIMESTAMP '2026-03-02 00:59:59'": [0.0, 1.0, 2.0],
            "TIMESTAMP '2026-03-02 01:00:00'": [0.0, 10.0],
            "'2026-03-05'": [0.0, 10.0],
        }
        assert indicator_values(paths.published_db) == [0, 10]
