"""Core layer: reference tables (regions, catalogue) and every revision of every measure.

Each asset builds its tables only when what they are made of changed (warehouse/models.py,
warehouse/fingerprints.py); otherwise it reports the run that built them.
"""

from collections.abc import Callable

import dagster as dg
import duckdb

from pipelines.assets.lineage import model_deps
from pipelines.metadata import column_schema, counts_of_last_build, table_metadata
from pipelines.resources import WarehouseResource
from schemas.catalogue import load_catalogue
from sources.registry import Source
from warehouse.build import (
    build_measure_revisions,
    load_catalogue_tables,
    load_regions_table,
    load_sources_table,
)
from warehouse.contract import CORE_COLUMNS
from warehouse.fingerprints import build_if_changed, built_in
from warehouse.models import MODELS

OWNER = "team:backbone-office"

DESCRIPTIONS = {
    "core.regions": (
        "Region reference from schemas/regions.csv (every Gemeinde, Kreis and Land of "
        "Germany with AGS and hierarchy, NRW's Regierungsbezirke, the Ruhr), each key with its "
        "validity, and the territorial changes since 2007 (schemas/territory.yaml: "
        "core.region_changes, core.region_successions, core.territory_breaks) and "
        "core.region_members: which municipalities and Kreise make up each region, the "
        "basis of every Σ numerator / Σ denominator aggregate."
    ),
    "core.catalogue": (
        "The shared catalogue from schemas/*.yaml: measures, goals, indicators with their "
        "numerator and denominator terms and targets, school forms; and the source registry "
        "(core.sources)."
    ),
    "core.measure_revisions": (
        "Every value every accepted delivery stated, per measure × region × school year × "
        "subgroup, with its revision number and the previous value: which delivery said "
        "what, when. The latest delivery's value is current."
    ),
}
TABLES = {
    "core.regions": "core.regions",
    "core.catalogue": "core.indicators",
    "core.measure_revisions": "core.measure_revisions",
}
KINDS = {"core.catalogue": {"duckdb", "yaml"}}


def _core_asset(
    name: str,
    sources: dict[str, Source],
    build: Callable[[duckdb.DuckDBPyConnection], None],
    extra: Callable[[duckdb.DuckDBPyConnection], dict],
) -> dg.AssetsDefinition:
    table = TABLES[name]

    @dg.asset(
        key=dg.AssetKey(name.split(".")),
        metadata={"table": table, "dagster/column_schema": column_schema(CORE_COLUMNS[table])},
        group_name="core",
        deps=model_deps(MODELS[name], sources),
        description=DESCRIPTIONS[name],
        kinds=KINDS.get(name, {"duckdb", "sql"}),
        owners=[OWNER],
    )
    def _asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        with warehouse.connect() as conn:
            rebuilt = build_if_changed(conn, name, sources, context.run_id, lambda: build(conn))
            built = built_in(conn, name) or ""
            last = None if rebuilt else counts_of_last_build(context, built, COUNTED[name])
            if last is None:
                metadata = table_metadata(conn, table)
                metadata.update(extra(conn))
            else:
                rows = last["dagster/row_count"].value
                metadata = {**table_metadata(conn, table, rows=rows), **last}
            metadata["rebuilt"] = rebuilt
            metadata["built_in_run"] = built
        return dg.MaterializeResult(metadata=metadata)

    return _asset


# the counted metadata of each core asset (taken over from its last build when unchanged)
COUNTED = {
    "core.regions": ("dagster/row_count", "memberships"),
    "core.catalogue": ("dagster/row_count", "measures"),
    "core.measure_revisions": ("dagster/row_count", "current_values", "revised_values"),
}


def _count(sql: str) -> Callable[[duckdb.DuckDBPyConnection], int]:
    return lambda conn: conn.execute(sql).fetchone()[0]


def core_assets(sources: dict[str, Source]) -> list[dg.AssetsDefinition]:
    memberships = _count("SELECT count(*) FROM core.region_members")
    measures = _count("SELECT count(*) FROM core.measures")
    current = _count("SELECT count(*) FROM core.measure_revisions WHERE is_current")
    revised = _count(
        "SELECT count(*) FROM core.measure_revisions WHERE is_current AND revisions > 0"
    )

    def catalogue(conn: duckdb.DuckDBPyConnection) -> None:
        load_catalogue_tables(conn, load_catalogue())
        load_sources_table(conn, sources)

    return [
        _core_asset(
            "core.regions",
            sources,
            load_regions_table,
            lambda conn: {"memberships": memberships(conn)},
        ),
        _core_asset(
            "core.catalogue", sources, catalogue, lambda conn: {"measures": measures(conn)}
        ),
        _core_asset(
            "core.measure_revisions",
            sources,
            build_measure_revisions,
            lambda conn: {"current_values": current(conn), "revised_values": revised(conn)},
        ),
    ]
