"""Ingest layer: one asset per registry source — payloads into the raw archive, once each."""

import dagster as dg

from pipelines.metadata import column_schema
from pipelines.resources import WarehouseResource
from schemas.tables import DELIVERY_COLUMNS
from sources.ingest import ingest_source
from sources.registry import Source

KIND_TAGS = {"csv": "csv", "genesis_table_csv": "csv", "genesis_ffcsv": "csv"}


def source_tags(source: Source) -> dict[str, str]:
    return {"source": source.id, "synthetic": str(source.synthetic).lower()}


def source_metadata(source: Source) -> dict:
    return {
        "source_id": source.id,
        "partner": source.partner,
        "licence": source.licence,
        "kind": source.kind,
        "location": ", ".join(source.location),
        "inbox": f"data/inbox/{source.id}/",
        "synthetic": source.synthetic,
        "registry_file": f"sources/registry/{source.path.name}",
    }


def ingest_asset(source: Source) -> dg.AssetsDefinition:
    @dg.asset(
        key=dg.AssetKey(["ingest", source.id]),
        group_name="ingest",
        description=(
            f"{source.title}. Picks up the payloads of source `{source.id}` ({source.partner}) "
            f"from its location and from data/inbox/{source.id}/, stores each new payload "
            "unchanged and content-addressed (SHA-256) in the raw archive and registers it in "
            "meta.deliveries; unchanged payloads are skipped."
        ),
        kinds={KIND_TAGS[source.kind], "python"},
        owners=[source.owner],
        tags=source_tags(source),
        metadata={
            **source_metadata(source),
            "dagster/column_schema": column_schema(DELIVERY_COLUMNS),
        },
    )
    def _ingest(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        with warehouse.connect() as conn:
            summary = ingest_source(conn, source, warehouse.paths, context.run_id)
            deliveries = conn.execute(
                "SELECT count(*) FROM meta.deliveries WHERE source_id = ?", [source.id]
            ).fetchone()[0]
        context.log.info(
            f"{source.id}: {len(summary.new)} new payload(s) {summary.new}, "
            f"{len(summary.unchanged)} unchanged (skipped)"
        )
        return dg.MaterializeResult(
            metadata={
                "new_payloads": len(summary.new),
                "unchanged_payloads": len(summary.unchanged),
                "new_files": ", ".join(summary.new) or "none",
                "dagster/row_count": deliveries,
            }
        )

    return _ingest
