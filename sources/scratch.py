"""Temporary tables a delivery passes through: one naming scheme for every layer.

Readers, the mapping, the grain steps and the evaluation of suites each create temporary
tables in the caller's DuckDB connection; their names come from one counter per process, so
two steps never pick the same name.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

_counter = itertools.count(1)


def temp_name(stem: str) -> str:
    """A fresh name for a temporary table of this process, e.g. bm_records_17."""
    return f"bm_{stem}_{next(_counter)}"


def drop(conn: duckdb.DuckDBPyConnection, *tables: str | None) -> None:
    """Drop temporary tables or views (None and already dropped ones are fine). Whether a
    name is a view comes from its relation, not from duckdb_views(): the first look at the
    catalog on a connection builds DuckDB's system views (30 ms of every screening)."""
    for name in filter(None, tables):
        try:
            kind = conn.table(name).type
        except duckdb.CatalogException:
            continue  # dropped already
        conn.execute(f"DROP {'TABLE' if kind == 'TABLE_RELATION' else 'VIEW'} IF EXISTS {name}")


def register(conn: duckdb.DuckDBPyConnection, name: str, data: object) -> None:
    """conn.register(name, data) — after running to its end a result a caller left unread
    (a fetchone() of a one-row answer): DuckDB 2.0 registers nothing while a result is pending
    ("connection has an unfinished result"), which broke a catalogue rebuild after a registry
    change."""
    conn.complete()
    conn.register(name, data)


@contextmanager
def unordered(conn: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Statements that may write their rows in any order: a table made from an UNPIVOT
    cannot be written in parallel while DuckDB keeps the insertion order (at national scale
    the canonical records took 5.2 s instead of 4.0). Whoever needs an order says it (every
    reader of such a table orders by row_id)."""
    (kept,) = conn.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
    conn.execute("SET preserve_insertion_order = false")
    try:
        yield
    finally:
        conn.execute(f"SET preserve_insertion_order = {'true' if kept else 'false'}")
