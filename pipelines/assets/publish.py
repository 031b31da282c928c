"""Publish layer: the analysts' DuckDB file, replaced atomically."""

import datetime as dt

import dagster as dg

from pipelines.recovery import operations_or_default
from pipelines.resources import WarehouseResource
from warehouse.contract import TABLE_DESCRIPTIONS
from warehouse.publish import PUBLISHED_MODELS, STORAGE_VERSION, publish

# the nightly run publishes every night: a publication older than a night and two hours (a
# missed or failed night) is stale; the Dagster UI shows it and the freshness sensor says it
STALE_AFTER = dt.timedelta(hours=26)
FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=STALE_AFTER)

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
        "and renamed over the previous one. Runs only when every upstream blocking check passed "
        "(the checks of the indicator mart), so a failed run leaves the last good publication "
        "untouched. A rejected delivery does not stop it: its source's last good data is "
        "published and the source is held back."
    ),
    kinds={"duckdb"},
    owners=["team:backbone-office"],
    freshness_policy=FRESHNESS,
    metadata={
        "tables": dg.MetadataValue.md(
            "| table | holds |\n|---|---|\n"
            + "\n".join(f"| `{t}` | {d} |" for t, d in TABLE_DESCRIPTIONS.items())
        ),
        "storage_version": STORAGE_VERSION,
    },
)
def published_warehouse(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    keep = operations_or_default(warehouse.paths, context.log.warning).retention.publications
    with warehouse.connect() as conn:
        publication = publish(conn, warehouse.paths, context.run_id, keep=keep)
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
