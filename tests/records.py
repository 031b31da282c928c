"""Test helpers: the SQL steps of the delivery path, read back as pandas frames."""

from __future__ import annotations

import duckdb
import pandas as pd

from sources import canonical, grain
from sources.canonical import FRAME_COLUMNS, RegionResolver
from sources.readers.base import RawTable
from sources.registry import Source


def frame_of(conn: duckdb.DuckDBPyConnection, relation: str) -> pd.DataFrame:
    """A relation of canonical records as a frame, in its order, FRAME_COLUMNS only."""
    columns = {name for name, *_ in conn.execute(f"DESCRIBE {relation}").fetchall()}
    order = next((c for c in ("row_id", "row_order") if c in columns), "source_line, measure")
    return conn.execute(f"SELECT {', '.join(FRAME_COLUMNS)} FROM {relation} ORDER BY {order}").df()


def to_records(raw: RawTable, source: Source, resolver: RegionResolver) -> pd.DataFrame:
    conn = raw.conn or duckdb.connect()
    return frame_of(conn, canonical.to_records(raw, source, resolver, conn))


def relation_of(conn: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> str:
    name = f"frame_{id(frame)}_{len(conn.execute('SHOW TABLES').fetchall())}"
    conn.register("frame_in", frame)
    conn.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM frame_in")
    conn.unregister("frame_in")
    return name


def aggregate_school_grain(
    records: pd.DataFrame,
    source: Source,
    covered: list[str],
    held_back: pd.DataFrame | None = None,
) -> pd.DataFrame:
    conn = duckdb.connect()
    held = relation_of(conn, held_back) if held_back is not None else None
    result = grain.aggregate_school_grain(
        conn, relation_of(conn, records), source, covered, held_back=held
    )
    return frame_of(conn, result)


def combine_rows(records: pd.DataFrame) -> pd.DataFrame:
    conn = duckdb.connect()
    return frame_of(conn, grain.combine_rows(conn, relation_of(conn, records)))


def derive_totals(records: pd.DataFrame, dimensions: tuple[str, ...]) -> pd.DataFrame:
    conn = duckdb.connect()
    return frame_of(conn, grain.derive_totals(conn, relation_of(conn, records), dimensions))


def record_types(raw: RawTable, source: Source, resolver: RegionResolver) -> dict[str, str]:
    """The SQL types of the records relation's columns."""
    conn = raw.conn or duckdb.connect()
    relation = canonical.to_records(raw, source, resolver, conn)
    return {name: kind for name, kind, *_ in conn.execute(f"DESCRIBE {relation}").fetchall()}
