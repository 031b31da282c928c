"""Core layer: reference tables (regions, catalogue) and every revision of every measure."""

import dagster as dg

from pipelines.metadata import column_schema, table_metadata
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

OWNER = "team:backbone-office"


def core_assets(sources: dict[str, Source]) -> list[dg.AssetsDefinition]:
    measure_sources = [s for s in sources.values() if s.dataset == "measures"]

    @dg.asset(
        key=dg.AssetKey(["core", "regions"]),
        metadata={
            "table": "core.regions",
            "dagster/column_schema": column_schema(CORE_COLUMNS["core.regions"]),
        },
        group_name="core",
        description=(
            "Region reference from schemas/regions.csv (every Gemeinde, Kreis and Land of "
            "Germany with AGS and hierarchy, NRW's Regierungsbezirke, the Ruhr) and "
            "core.region_members: which municipalities and Kreise make up each region, the "
            "basis of every Σ numerator / Σ denominator aggregate."
        ),
        kinds={"duckdb", "sql"},
        owners=[OWNER],
    )
    def regions(warehouse: WarehouseResource):
        with warehouse.connect() as conn:
            load_regions_table(conn)
            metadata = table_metadata(conn, "core.regions")
            metadata["memberships"] = conn.execute(
                "SELECT count(*) FROM core.region_members"
            ).fetchone()[0]
        return dg.MaterializeResult(metadata=metadata)

    @dg.asset(
        key=dg.AssetKey(["core", "catalogue"]),
        metadata={
            "table": "core.indicators",
            "dagster/column_schema": column_schema(CORE_COLUMNS["core.indicators"]),
        },
        group_name="core",
        description=(
            "The shared catalogue from schemas/*.yaml: measures, goals, indicators with their "
            "numerator and denominator terms and targets, school forms; and the source registry "
            "(core.sources)."
        ),
        kinds={"duckdb", "yaml"},
        owners=[OWNER],
    )
    def catalogue(warehouse: WarehouseResource):
        with warehouse.connect() as conn:
            load_catalogue_tables(conn, load_catalogue())
            load_sources_table(conn, sources)
            metadata = table_metadata(conn, "core.indicators")
            metadata["measures"] = conn.execute("SELECT count(*) FROM core.measures").fetchone()[0]
        return dg.MaterializeResult(metadata=metadata)

    @dg.asset(
        key=dg.AssetKey(["core", "measure_revisions"]),
        metadata={
            "table": "core.measure_revisions",
            "dagster/column_schema": column_schema(CORE_COLUMNS["core.measure_revisions"]),
        },
        group_name="core",
        deps=[dg.AssetKey(["staging", s.id]) for s in measure_sources],
        description=(
            "Every value every accepted delivery stated, per measure × region × school year × "
            "subgroup, with its revision number and the previous value: which delivery said "
            "what, when. The latest delivery's value is current."
        ),
        kinds={"duckdb", "sql"},
        owners=[OWNER],
    )
    def measure_revisions(warehouse: WarehouseResource):
        with warehouse.connect() as conn:
            build_measure_revisions(conn)
            metadata = table_metadata(conn, "core.measure_revisions")
            metadata["current_values"] = conn.execute(
                "SELECT count(*) FROM core.measure_revisions WHERE is_current"
            ).fetchone()[0]
            metadata["revised_values"] = conn.execute(
                "SELECT count(*) FROM core.measure_revisions WHERE is_current AND revisions > 1"
            ).fetchone()[0]
        return dg.MaterializeResult(metadata=metadata)

    return [regions, catalogue, measure_revisions]
