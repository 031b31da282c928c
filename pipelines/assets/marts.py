"""Indicator and mart layers: the analysts' tables, built by warehouse/sql/, validated."""

from typing import Any

import dagster as dg

from pipelines.checks import suite_check_specs, to_check_result
from pipelines.metadata import column_schema, data_docs_metadata, table_metadata
from pipelines.resources import WarehouseResource
from sources.registry import Source
from warehouse.build import (
    INDICATOR_SUITE,
    build_sql_table,
    check_indicator_values,
    sql_description,
)
from warehouse.contract import MART_COLUMNS

OWNER = "team:backbone-office"


def _key(*parts: str) -> dg.AssetKey:
    return dg.AssetKey(list(parts))


REGIONS = _key("core", "regions")
CATALOGUE = _key("core", "catalogue")
REVISIONS = _key("core", "measure_revisions")


def _sql_asset_args(
    table: str, sql_path: str, group: str, deps: list[dg.AssetKey]
) -> dict[str, Any]:
    """What every table built by one SQL file declares: key, lineage, description, schema."""
    return {
        "key": _key(*table.split(".")),
        "group_name": group,
        "deps": deps,
        "description": sql_description(sql_path),
        "kinds": {"duckdb", "sql"},
        "owners": [OWNER],
        "metadata": {
            "table": table,
            "sql": f"warehouse/sql/{sql_path}",
            "dagster/column_schema": column_schema(MART_COLUMNS[table]),
        },
    }


def _sql_asset(table: str, sql_path: str, group: str, deps: list[dg.AssetKey]):
    @dg.asset(**_sql_asset_args(table, sql_path, group, deps))
    def _build(warehouse: WarehouseResource):
        with warehouse.connect() as conn:
            build_sql_table(conn, sql_path)
            metadata = table_metadata(conn, table)
        return dg.MaterializeResult(metadata=metadata)

    return _build


def indicator_values_asset() -> dg.AssetsDefinition:
    table = "marts.indicator_values"
    sql_path = "indicators/indicator_values.sql"
    key = _key("marts", "indicator_values")

    @dg.asset(
        **_sql_asset_args(table, sql_path, "indicators", [REVISIONS, REGIONS, CATALOGUE]),
        check_specs=suite_check_specs(INDICATOR_SUITE, key),
    )
    def indicator_values(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        with warehouse.connect() as conn:
            build_sql_table(conn, sql_path)
            metadata = table_metadata(conn, table)
            outcomes, counts = check_indicator_values(conn, context.run_id)
            metadata.update(counts)
        metadata.update(data_docs_metadata(warehouse.paths, context.run_id))
        yield dg.MaterializeResult(metadata=metadata)
        for outcome in outcomes:
            yield to_check_result(outcome, key)

    return indicator_values


def mart_assets(sources: dict[str, Source]) -> list[dg.AssetsDefinition]:
    directory = [
        _key("staging", s.id)
        for s in sources.values()
        if s.dataset in ("school_directory", "school_social_index")
    ]
    return [
        indicator_values_asset(),
        _sql_asset(
            "marts.indicator_trends",
            "indicators/indicator_trends.sql",
            "indicators",
            [_key("marts", "indicator_values"), CATALOGUE],
        ),
        _sql_asset("marts.regions", "marts/regions.sql", "marts", [REGIONS]),
        _sql_asset("marts.goals", "marts/goals.sql", "marts", [CATALOGUE]),
        _sql_asset("marts.indicators", "marts/indicators.sql", "marts", [CATALOGUE]),
        _sql_asset(
            "marts.measure_values",
            "marts/measure_values.sql",
            "marts",
            [REVISIONS, REGIONS, CATALOGUE],
        ),
        _sql_asset("marts.schools", "marts/schools.sql", "marts", [*directory, REGIONS, CATALOGUE]),
    ]
