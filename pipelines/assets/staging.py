"""Staging layer: one asset per source — parse, validate (asset checks), load canonical records."""

import dagster as dg

from expectations.checks import source_suites
from pipelines.assets.ingest import source_metadata, source_tags
from pipelines.checks import not_evaluated_metadata, staging_check_results, staging_check_specs
from pipelines.metadata import column_schema, data_docs_metadata
from pipelines.resources import WarehouseResource
from schemas.tables import RECORD_COLUMNS
from sources.registry import Source
from warehouse.db import DATASET_TABLES, REFERENCE_TABLES
from warehouse.staging import stage_source


def staging_table(source: Source) -> str:
    return "staging.records" if source.dataset == "measures" else DATASET_TABLES[source.dataset]


def staging_asset(source: Source, sources: dict[str, Source]) -> dg.AssetsDefinition:
    key = dg.AssetKey(["staging", source.id])
    deps = [dg.AssetKey(["ingest", source.id])]
    if source.measures is not None and source.measures.region_by == "school_number":
        # schools are placed in their municipality through the current school directory
        directory = next(s.id for s in sources.values() if s.dataset == "school_directory")
        deps.append(dg.AssetKey(["staging", directory]))
    table = staging_table(source)
    columns = RECORD_COLUMNS if source.dataset == "measures" else REFERENCE_TABLES[table]
    spec = dg.AssetSpec(
        key,
        group_name="staging",
        deps=deps,
        description=(
            f"{source.title}. Parses every new delivery of `{source.id}` ({source.kind}), maps "
            f"it to canonical records, validates it with Great Expectations (suites "
            f"{', '.join(source_suites(source))}) and loads what passes "
            f"into {table}; failing records go to quality.quarantine with their reason. A "
            "delivery that cannot be read, or fails a check that rejects deliveries, is rejected "
            "whole: the source keeps its last good data and is held back (the run summary and "
            "quality.source_health say so); every other source's new data is published."
        ),
        kinds={"pandas", "duckdb"},
        owners=[source.owner],
        tags=source_tags(source),
        metadata={
            **source_metadata(source),
            "table": table,
            "expectation_suites": ", ".join(source.expectations),
            "dagster/column_schema": column_schema(columns),
        },
    )

    # A multi-asset that can be subset: a check that was not evaluated (no new delivery, an
    # unreadable file) yields no result instead of a made-up pass.
    @dg.multi_asset(
        name=f"staging__{source.id}",
        specs=[spec],
        check_specs=staging_check_specs(source, key),
        can_subset=True,
    )
    def _staging(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        with warehouse.connect() as conn:
            result = stage_source(
                conn, source, warehouse.paths, context.run_id, context.log.info, sources
            )
            where = f"WHERE source_id = '{source.id}'" if source.dataset == "measures" else ""
            rows = conn.execute(f"SELECT count(*) FROM {table} {where}").fetchone()[0]
        docs = data_docs_metadata(warehouse.paths, context.run_id) if result.deliveries else {}
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                **docs,
                **not_evaluated_metadata(result),
                "new_deliveries": len(result.deliveries),
                "rejected_deliveries": len(result.rejected),
                "held_back": "; ".join(f"{d.file_name}: {d.message}" for d in result.rejected)
                or "none",
                "records_loaded": sum(d.records_loaded for d in result.deliveries),
                "records_quarantined": sum(d.records_quarantined for d in result.deliveries),
                "current_delivery": result.current_delivery or "none",
                "dagster/row_count": rows,
            },
        )
        yield from staging_check_results(result, key)

    return _staging
