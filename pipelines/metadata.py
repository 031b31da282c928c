"""Metadata every asset carries: column schema and row count, from the warehouse itself."""

from __future__ import annotations

import dagster as dg
import duckdb

from schemas.tables import Column
from warehouse.contract import CORE_COLUMNS, MART_COLUMNS
from warehouse.db import DataPaths


def column_schema(columns: tuple[Column, ...]) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[dg.TableColumn(c.name, c.type, description=c.description) for c in columns]
    )


def table_metadata(conn: duckdb.DuckDBPyConnection, table: str, where: str = "") -> dict:
    """Row count and the actual column schema of a warehouse table, for a materialization."""
    rows = conn.execute(f"SELECT count(*) FROM {table} {where}").fetchone()[0]
    described = conn.execute(f"DESCRIBE {table}").fetchall()
    # the contract's descriptions: a materialization's schema replaces the definition's in the UI
    meaning = {c.name: c.description for c in {**CORE_COLUMNS, **MART_COLUMNS}.get(table, ())}
    schema = dg.TableSchema(
        columns=[
            dg.TableColumn(name, str(kind), description=meaning.get(name))
            for name, kind, *_ in described
        ]
    )
    return {
        "dagster/row_count": rows,
        "dagster/column_schema": schema,
        "table": table,
    }


def data_docs_metadata(paths: DataPaths, run_id: str) -> dict:
    """Build this run's Great Expectations Data Docs and link them (nothing if GX did not run
    in this process)."""
    from expectations.data_docs import build

    index = build(paths.data_docs(run_id))
    if index is None:
        return {}
    return {"data_docs": dg.MetadataValue.url(index.as_uri())}
