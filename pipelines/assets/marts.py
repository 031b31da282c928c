"""Indicator and mart layers: the analysts' tables, built by warehouse/sql/, validated.

Each table is rebuilt only when what it is made of changed (warehouse/models.py); the
indicator mart's checks run when it is rebuilt — an unchanged mart's checks are not
evaluated again (its asset is a subsettable multi-asset, so they are not reported as passed).
"""

from typing import Any

import dagster as dg

from pipelines.assets.lineage import model_deps, model_key
from pipelines.checks import suite_check_specs, to_check_result
from pipelines.metadata import (
    column_schema,
    counts_of_last_build,
    data_docs_metadata,
    table_metadata,
)
from pipelines.resources import WarehouseResource
from sources.registry import Source
from warehouse.build import (
    INDICATOR_SUITE,
    build_sql_table,
    check_indicator_values,
    skip_indicator_checks,
    sql_description,
)
from warehouse.contract import MART_COLUMNS, TABLE_DESCRIPTIONS
from warehouse.fingerprints import build_if_changed, built_in
from warehouse.models import MODELS, Model

OWNER = "team:backbone-office"


def _spec_args(model: Model, sources: dict[str, Source]) -> dict[str, Any]:
    """What every table built by one SQL file declares: key, lineage, description, schema."""
    assert model.sql is not None
    return {
        "group_name": model.group,
        "deps": model_deps(model, sources),
        # what the analysts' contract says the table holds, then how the SQL makes it
        "description": f"{TABLE_DESCRIPTIONS[model.name]}\n\n{sql_description(model.sql)}",
        "kinds": {"duckdb", "sql"},
        "owners": [OWNER],
        "metadata": {
            "table": model.name,
            "sql": f"warehouse/sql/{model.sql}",
            "dagster/column_schema": column_schema(MART_COLUMNS[model.name]),
        },
    }


def _build(
    conn, model: Model, sources: dict[str, Source], context: dg.AssetExecutionContext
) -> tuple[bool, dict]:
    """Build the model's table unless its inputs are unchanged; whether it was rebuilt, and the
    materialization's metadata."""
    rebuilt = build_if_changed(
        conn, model.name, sources, context.run_id, lambda: build_sql_table(conn, model.sql)
    )
    built = built_in(conn, model.name) or ""
    last = None if rebuilt else counts_of_last_build(context, built, ("dagster/row_count",))
    rows = last["dagster/row_count"].value if last else None
    metadata = table_metadata(conn, model.name, rows=rows)
    metadata["rebuilt"] = rebuilt
    metadata["built_in_run"] = built
    return rebuilt, metadata


def _sql_asset(model: Model, sources: dict[str, Source]) -> dg.AssetsDefinition:
    @dg.asset(key=model_key(model.name), **_spec_args(model, sources))
    def _asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        with warehouse.connect() as conn:
            _, metadata = _build(conn, model, sources, context)
        return dg.MaterializeResult(metadata=metadata)

    return _asset


def indicator_values_asset(sources: dict[str, Source]) -> dg.AssetsDefinition:
    model = MODELS["marts.indicator_values"]
    key = model_key(model.name)

    @dg.multi_asset(
        name="marts__indicator_values",
        specs=[dg.AssetSpec(key, **_spec_args(model, sources))],
        check_specs=suite_check_specs(INDICATOR_SUITE, key),
        can_subset=True,
    )
    def indicator_values(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        outcomes = []
        with warehouse.connect() as conn:
            rebuilt, metadata = _build(conn, model, sources, context)
            if rebuilt:
                outcomes, counts = check_indicator_values(conn, context.run_id)
                metadata.update(counts)
            else:
                skip_indicator_checks(conn, context.run_id, metadata["built_in_run"])
                metadata["checks_not_evaluated"] = "unchanged since its last build"
        if rebuilt:
            metadata.update(data_docs_metadata(warehouse.paths, context.run_id))
        yield dg.MaterializeResult(asset_key=key, metadata=metadata)
        for outcome in outcomes:
            yield to_check_result(outcome, key)

    return indicator_values


def mart_assets(sources: dict[str, Source]) -> list[dg.AssetsDefinition]:
    assets = [indicator_values_asset(sources)]
    for name, model in MODELS.items():
        if model.group in ("indicators", "marts") and name != "marts.indicator_values":
            assets.append(_sql_asset(model, sources))
    return assets
