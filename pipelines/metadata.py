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


def table_metadata(
    conn: duckdb.DuckDBPyConnection, table: str, where: str = "", rows: int | None = None
) -> dict:
    """Row count (counted unless given) and the actual column schema of a warehouse table, for
    a materialization."""
    if rows is None:
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


def counts_of_last_build(
    context: dg.AssetExecutionContext, built_in_run: str | None, counted: tuple[str, ...]
) -> dict | None:
    """The `counted` metadata of the asset's last materialization, if that materialization is
    of the build the table still holds (its `built_in_run`): an unchanged table is not counted
    again (at national scale a view's count(*) cost most of a night with nothing new). None
    when there is no such materialization."""
    if not built_in_run or context.instance is None:
        return None
    event = context.instance.get_latest_materialization_event(context.asset_key)
    materialization = event.asset_materialization if event is not None else None
    if materialization is None:
        return None
    metadata = materialization.metadata
    built = metadata.get("built_in_run")
    if built is None or built.value != built_in_run or any(k not in metadata for k in counted):
        return None
    return {key: metadata[key] for key in counted}


def data_docs_metadata(paths: DataPaths, run_id: str) -> dict:
    """Build this run's Great Expectations Data Docs and link them (nothing if GX did not run
    in this process)."""
    from expectations.data_docs import build

    index = build(paths.data_docs(run_id))
    if index is None:
        return {}
    return {"data_docs": dg.MetadataValue.url(index.as_uri())}
