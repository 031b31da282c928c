"""Where the generated files live, and connections to the working warehouse.

Everything generated lives under one data directory (default ./data, env BILDUNGSMONITOR_DATA_DIR):

    raw/                    immutable payloads + manifest (sources/archive.py)
    inbox/<source-id>/      partners drop files here; the sensor watches it
    warehouse/work.duckdb   the working warehouse: only the pipeline opens it
    published/bildungsmonitor.duckdb   the analysts' file, replaced atomically by publish
    dagster_home/           Dagster instance: run and event storage, compute logs
    reports/data_docs/<run>/ Great Expectations Data Docs of each run
    reports/bericht/        the indicator report of the latest publication (report/site.py)

The pipeline never writes into the published file (analysts may hold it open): it builds a new
file beside it and renames it over the old one (warehouse/publish.py).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from schemas.tables import (
    API_STATE_COLUMNS,
    CHECK_RESULT_COLUMNS,
    DELIVERY_COLUMNS,
    DELIVERY_EVENT_COLUMNS,
    DELIVERY_LOG_COLUMNS,
    FINDING_COLUMNS,
    QUARANTINE_COLUMNS,
    RECORD_COLUMNS,
    Column,
    ddl,
)
from sources.scratch import register

if TYPE_CHECKING:
    import pandas as pd

REPO_ROOT = Path(__file__).resolve().parent.parent
SQL_DIR = Path(__file__).resolve().parent / "sql"
SCHEMAS = ("meta", "staging", "quality", "core", "marts")
PUBLISHED_NAME = "bildungsmonitor.duckdb"

REFERENCE_TABLES: dict[str, tuple[Column, ...]] = {
    "staging.school_directory": (
        Column("delivery_id", "VARCHAR", "payload the row came from"),
        Column("school_number", "VARCHAR", "NRW Schulnummer (6 digits)"),
        Column("school_form_key", "VARCHAR", "NRW school form key, e.g. 02 Grundschule"),
        Column("name_1", "VARCHAR", "Schulbezeichnung 1"),
        Column("name_2", "VARCHAR", "Schulbezeichnung 2"),
        Column("name_3", "VARCHAR", "Schulbezeichnung 3"),
        Column("short_name", "VARCHAR", "Kurzbezeichnung"),
        Column("postcode", "VARCHAR", "PLZ"),
        Column("town", "VARCHAR", "Ort"),
        Column("street", "VARCHAR", "Straße"),
        Column("legal_form_key", "VARCHAR", "1 öffentlich, 2 privat"),
        Column("region_code", "VARCHAR", "Gemeindeschlüssel (AGS)"),
        Column("operating_status_key", "VARCHAR", "Schulbetriebsschlüssel"),
        Column("operating_since", "VARCHAR", "Schulbetriebsdatum"),
        Column("epsg", "VARCHAR", "coordinate reference system"),
        Column("utm_east", "VARCHAR", "UTM Rechtswert"),
        Column("utm_north", "VARCHAR", "UTM Hochwert"),
        Column("source_line", "INTEGER", "line in the delivered file"),
    ),
    "staging.school_social_index": (
        Column("delivery_id", "VARCHAR", "payload the row came from"),
        Column("school_number", "VARCHAR", "NRW Schulnummer"),
        Column("short_name", "VARCHAR", "Kurzbezeichnung"),
        Column("social_index", "VARCHAR", "Sozialindexstufe 1–9 or 'ohne'"),
        Column("school_year", "VARCHAR", "school year the index applies to"),
        Column("source_line", "INTEGER", "line in the delivered file"),
    ),
}
# meta.build_state: the inputs each built table was last built from (warehouse/fingerprints.py)
BUILD_STATE_COLUMNS: tuple[Column, ...] = (
    Column("model", "VARCHAR", "the built table, e.g. marts.indicator_values"),
    Column("fingerprint", "VARCHAR", "hash of its SQL and of everything it read"),
    Column("run_id", "VARCHAR", "the run that built it"),
    Column("built_at", "TIMESTAMP", "when (UTC)"),
)
DATASET_TABLES = {
    "school_directory": "staging.school_directory",
    "school_social_index": "staging.school_social_index",
}


@dataclass(frozen=True)
class DataPaths:
    root: Path

    @classmethod
    def from_env(cls) -> DataPaths:
        configured = os.environ.get("BILDUNGSMONITOR_DATA_DIR")
        return cls(Path(configured).resolve() if configured else REPO_ROOT / "data")

    @property
    def work_db(self) -> Path:
        return self.root / "warehouse" / "work.duckdb"

    @property
    def published_db(self) -> Path:
        return self.root / "published" / PUBLISHED_NAME

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    def data_docs(self, run_id: str) -> Path:
        """Great Expectations Data Docs of one run (HTML)."""
        return self.root / "reports" / "data_docs" / run_id

    @property
    def report(self) -> Path:
        """The indicator report (HTML) of the latest publication."""
        return self.root / "reports" / "bericht"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster_home"

    def inbox_for(self, source_id: str) -> Path:
        return self.inbox / source_id


def utc_now() -> dt.datetime:
    """Naive UTC timestamp, the form DuckDB TIMESTAMP columns hold."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def init_schema(conn: duckdb.DuckDBPyConnection) -> None:
    for schema in SCHEMAS:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    conn.execute(ddl("meta.deliveries", DELIVERY_COLUMNS))
    conn.execute(ddl("meta.delivery_log", DELIVERY_LOG_COLUMNS))
    conn.execute(ddl("meta.delivery_events", DELIVERY_EVENT_COLUMNS))
    conn.execute(ddl("meta.api_state", API_STATE_COLUMNS))
    conn.execute(ddl("staging.records", RECORD_COLUMNS))
    conn.execute(ddl("quality.quarantine", QUARANTINE_COLUMNS))
    conn.execute(ddl("quality.check_results", CHECK_RESULT_COLUMNS))
    conn.execute(ddl("quality.findings", FINDING_COLUMNS))
    for table, columns in REFERENCE_TABLES.items():
        conn.execute(ddl(table, columns))
    conn.execute(ddl("meta.build_state", BUILD_STATE_COLUMNS))


# DuckDB may use this much memory for the warehouse (env BILDUNGSMONITOR_DUCKDB_MEMORY); beyond
# it, joins and sorts spill to <data>/warehouse/tmp. The pipeline's memory then stays flat
# however large a delivery is: 1.5 GB of DuckDB plus the Python process around it. (At 1 GB the
# national benchmark's indicator mart spilled its windows and sorts: 29 s against 22 s.)
DEFAULT_MEMORY_LIMIT = "1.5GB"


def memory_limit() -> str:
    return os.environ.get("BILDUNGSMONITOR_DUCKDB_MEMORY", DEFAULT_MEMORY_LIMIT)


@contextmanager
def connect(paths: DataPaths, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the working warehouse (created with all base tables on first use)."""
    paths.work_db.parent.mkdir(parents=True, exist_ok=True)
    spill = paths.work_db.parent / "tmp"
    conn = duckdb.connect(
        str(paths.work_db),
        read_only=read_only,
        config={"memory_limit": memory_limit(), "temp_directory": str(spill)},
    )
    try:
        if not read_only:
            init_schema(conn)
        yield conn
    finally:
        conn.close()


def stored_kind(conn: duckdb.DuckDBPyConnection, name: str) -> str | None:
    """'TABLE' or 'VIEW' if `name` (schema.name) is stored in the connection's own database,
    else None."""
    schema, table = name.split(".")
    row = conn.execute(
        "SELECT kind FROM (SELECT 'TABLE' AS kind, database_name, schema_name, table_name "
        "AS name, temporary FROM duckdb_tables() UNION ALL SELECT 'VIEW', database_name, "
        "schema_name, view_name, temporary FROM duckdb_views()) WHERE NOT temporary "
        "AND database_name = current_database() AND schema_name = ? AND name = ?",
        [schema, table],
    ).fetchone()
    return row[0] if row else None


def run_sql_file(conn: duckdb.DuckDBPyConnection, relative: str, **params: object) -> None:
    """Execute warehouse/sql/<relative>; `{name}` placeholders are filled from params."""
    sql = (SQL_DIR / relative).read_text(encoding="utf-8")
    if params:
        sql = sql.format(**params)
    conn.execute(sql)


def insert_frame(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    frame: pd.DataFrame,
    *,
    replacing: str | None = None,
    params: Sequence[object] = (),
) -> None:
    """Insert `frame` into `table` by column name. `replacing` is the WHERE condition of the rows
    the frame takes the place of, deleted first: a step run twice never doubles its rows."""
    register(conn, "frame_to_insert", frame)
    try:
        if replacing is not None:
            conn.execute(f"DELETE FROM {table} WHERE {replacing}", list(params))
        conn.execute(f"INSERT INTO {table} BY NAME SELECT * FROM frame_to_insert")
    finally:
        conn.unregister("frame_to_insert")
