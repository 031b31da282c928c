"""What each publication said: marts.indicator_history, kept from publication to publication.

A publication's indicator values are its history's open rows (valid_to NULL). Each new
publication carries the history forward: a value published again unchanged keeps its
valid_from; one that changed or vanished is closed (valid_to = this publication's time) and the
new value opens a row. So the published file itself answers "what did the publication say on
1 March?" (marts.indicator_values_as_of), in every DuckDB client.

The working warehouse keeps the history (core.indicator_history), not the previous
publication: analysts may have written into that file, and the history must be what this
pipeline published. The next history is built beside it (core.indicator_history_next) and takes
its place only once the publication is renamed into place, so a run that fails to publish
leaves the history as it was.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from expectations.rules import literal
from warehouse.contract import MART_COLUMNS

HISTORY = "core.indicator_history"
NEXT = "core.indicator_history_next"
KEY = ("indicator_id", "region_code", "school_year", "sex", "nationality")
VALUE_COLUMNS = tuple(c.name for c in MART_COLUMNS["marts.indicator_values"])


def next_indicator_history(conn: duckdb.DuckDBPyConnection, published_at: dt.datetime) -> str:
    """core.indicator_history_next: the history carried forward to the values of
    marts.indicator_values, as published at `published_at`."""
    columns = ", ".join(VALUE_COLUMNS)
    at = f"TIMESTAMP {literal(published_at.isoformat(sep=' '))}"
    old = _history(conn)
    if old is None:
        conn.execute(
            f"CREATE OR REPLACE TABLE {NEXT} AS SELECT {columns}, {at} AS valid_from, "
            "NULL::TIMESTAMP AS valid_to FROM marts.indicator_values"
        )
        return NEXT
    on = " AND ".join(f"o.{k} = c.{k}" for k in KEY)
    before = ", ".join(f"o.{c}" for c in VALUE_COLUMNS)
    now = ", ".join(f"c.{c}" for c in VALUE_COLUMNS)
    conn.execute(
        f"""CREATE OR REPLACE TABLE {NEXT} AS
        WITH old AS (SELECT * FROM {old}),
        open AS (SELECT * FROM old WHERE valid_to IS NULL),
        -- open rows whose value is published again unchanged keep their valid_from
        kept AS (
            SELECT o.* FROM open o JOIN marts.indicator_values c
            ON {on} AND ({before}) IS NOT DISTINCT FROM ({now})
        )
        SELECT {columns}, valid_from, valid_to FROM old WHERE valid_to IS NOT NULL
        UNION ALL
        SELECT {columns}, valid_from, {at} FROM open o
        WHERE NOT EXISTS (SELECT 1 FROM kept c WHERE {on})
        UNION ALL
        SELECT {columns}, valid_from, valid_to FROM kept
        UNION ALL
        SELECT {columns}, {at}, NULL::TIMESTAMP FROM marts.indicator_values o
        WHERE NOT EXISTS (SELECT 1 FROM kept c WHERE {on})"""
    )
    return NEXT


def adopt_next_history(conn: duckdb.DuckDBPyConnection) -> None:
    """After the rename: the history just published is the history."""
    conn.execute(f"DROP TABLE IF EXISTS {HISTORY}")
    conn.execute(f"ALTER TABLE {NEXT} RENAME TO {HISTORY.split('.')[1]}")


def _history(conn: duckdb.DuckDBPyConnection) -> str | None:
    """The kept history as a relation with today's columns (a column marts.indicator_values
    gained since is NULL in older rows), or None before the first publication."""
    present = {
        name
        for (name,) in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_catalog = "
            "current_database() AND table_schema || '.' || table_name = ?",
            [HISTORY],
        ).fetchall()
    }
    if not present:
        return None
    select = ", ".join(
        c if c in present else f"NULL AS {c}" for c in (*VALUE_COLUMNS, "valid_from", "valid_to")
    )
    return f"(SELECT {select} FROM {HISTORY})"
