"""Publish layer: the analysts' DuckDB file, replaced atomically."""

import dagster as dg

from pipelines.resources import WarehouseResource
from warehouse.publish import PUBLISHED_MODELS, PUBLISHED_TABLES, STORAGE_VERSION, publish

# the mart models the publication is written from
MART_KEYS = [
    dg.AssetKey(model.split(".")) for model in PUBLISHED_MODELS if model.startswith("marts.")
]


@dg.asset(
    key=dg.AssetKey(["publish", "bildungsmonitor"]),
    group_name="publish",
    deps=MART_KEYS,
    description=(
        "data/published/bildungsmonitor.duckdb: the marts, quality and meta tables of the "
        "analysts' contract (docs/analysts.md), written as a complete new file in DuckDB storage "
        f"version {STORAGE_VERSION} (readable by DuckDB 1.x clients: R, DBeaver, duckdb-cli) "
        "and renamed over the previous one. Runs only when every upstream blocking check passed, "
        "so a failed run leaves the last good publication untouched."
    ),
    kinds={"duckdb"},
    owners=["team:backbone-office"],
    metadata={"tables": ", ".join(PUBLISHED_TABLES), "storage_version": STORAGE_VERSION},
)
def published_warehouse(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    with warehouse.connect() as conn:
        publication = publish(conn, warehouse.paths, context.run_id)
    context.log.info(f"published {publication.path} ({publication.size_bytes} bytes)")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(publication.path)),
            "size_bytes": publication.size_bytes,
            "storage_version": publication.storage_version,
            "dagster/row_count": sum(publication.tables.values()),
            "rows_per_table": dg.MetadataValue.json(publication.tables),
            # nothing the marts are built from changed: the previous publication's marts
            # were copied, this run's checks, deliveries and log replaced
            "marts_copied_from_previous": publication.refreshed,
        }
    )
