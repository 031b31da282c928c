"""Temporary tables a delivery passes through: one naming scheme for every layer.

Readers, the mapping, the grain steps and the evaluation of suites each create temporary
tables in the caller's DuckDB connection; their names come from one counter per process, so
two steps never pick the same name.
"""

from __future__ import annotations

import itertools

import duckdb

_counter = itertools.count(1)


def temp_name(stem: str) -> str:
    """A fresh name for a temporary table of this process, e.g. bm_records_17."""
    return f"bm_{stem}_{next(_counter)}"


def drop(conn: duckdb.DuckDBPyConnection, *tables: str | None) -> None:
    """Drop temporary tables or views (None and already dropped ones are fine)."""
    names = [t for t in tables if t]
    if not names:
        return
    views = {
        name
        for (name,) in conn.execute(
            "SELECT view_name FROM duckdb_views() WHERE temporary AND list_contains(?, view_name)",
            [names],
        ).fetchall()
    }
    for name in names:
        conn.execute(f"DROP {'VIEW' if name in views else 'TABLE'} IF EXISTS {name}")


def register(conn: duckdb.DuckDBPyConnection, name: str, data: object) -> None:
    """conn.register(name, data) — after running to its end a result a caller left unread
    (a fetchone() of a one-row answer): DuckDB 2.0 registers nothing while a result is pending
    ("connection has an unfinished result"), which broke a catalogue rebuild after a registry
    change."""
    conn.complete()
    conn.register(name, data)
