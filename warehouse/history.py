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
from sources.scratch import drop, temp_name
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
    present = _history_columns(conn)
    if not present:
        conn.execute(
            f"CREATE OR REPLACE TABLE {NEXT} AS SELECT {columns}, {at} AS valid_from, "
            "NULL::TIMESTAMP AS valid_to FROM marts.indicator_values"
        )
        return NEXT
    # older rows in today's types (a hash differs by type); a column marts.indicator_values
    # gained since is NULL in them
    types = dict(
        conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_catalog "
            "= current_database() AND table_schema = 'marts' AND table_name = 'indicator_values'"
        ).fetchall()
    )
    old = [f"CAST({c if c in present else 'NULL'} AS {types[c]})" for c in VALUE_COLUMNS]
    keys = ", ".join(KEY)
    values = ", ".join(c for c in VALUE_COLUMNS if c not in KEY)
    old_values = ", ".join(o for o, c in zip(old, VALUE_COLUMNS, strict=True) if c not in KEY)
    on = " AND ".join(f"o.{k} IS NOT DISTINCT FROM c.{k}" for k in KEY)
    kept = temp_name("kept")
    # An open row is kept when the same key is published again with the same value. Compared
    # on narrow rows (key, row id, one hash of the value columns): a join carrying every value
    # column took 3x as long at national scale. (Two different values with one 64-bit hash
    # would keep the old row: at a million keys, a chance of about 1 in 10^13.)
    conn.execute(
        f"""CREATE TEMP TABLE {kept} AS
        SELECT o.rid AS old_rid, c.rid AS new_rid
        FROM (SELECT rowid AS rid, {keys}, hash({old_values}) AS h FROM {HISTORY}
              WHERE valid_to IS NULL) o
        JOIN (SELECT rowid AS rid, {keys}, hash({values}) AS h FROM marts.indicator_values) c
        ON {on} AND o.h = c.h"""
    )
    try:
        conn.execute(
            f"""CREATE OR REPLACE TABLE {NEXT} AS
            -- closed rows stay; open rows not published again close now
            SELECT {", ".join(f"{o} AS {c}" for o, c in zip(old, VALUE_COLUMNS, strict=True))},
                valid_from,
                CASE WHEN valid_to IS NULL AND k.old_rid IS NULL THEN {at} ELSE valid_to END
                    AS valid_to
            FROM {HISTORY} h LEFT JOIN {kept} k ON k.old_rid = h.rowid
            UNION ALL
            -- new or changed values open a row
            SELECT {columns}, {at}, NULL::TIMESTAMP
            FROM marts.indicator_values v ANTI JOIN {kept} k ON k.new_rid = v.rowid"""
        )
    finally:
        drop(conn, kept)
    return NEXT


def adopt_next_history(conn: duckdb.DuckDBPyConnection) -> None:
    """After the rename: the history just published is the history."""
    conn.execute(f"DROP TABLE IF EXISTS {HISTORY}")
    conn.execute(f"ALTER TABLE {NEXT} RENAME TO {HISTORY.split('.')[1]}")


def _history_columns(conn: duckdb.DuckDBPyConnection) -> set[str]:
    """The columns of the kept history; none before the first publication."""
    return {
        name
        for (name,) in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_catalog = "
            "current_database() AND table_schema || '.' || table_name = ?",
            [HISTORY],
        ).fetchall()
    }
