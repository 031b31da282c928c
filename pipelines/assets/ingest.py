"""Ingest layer: one asset per registry source — payloads into the raw archive, once each."""

from urllib.parse import urlsplit

import dagster as dg

from expectations.outcomes import CheckOutcome
from pipelines.metadata import column_schema
from pipelines.resources import WarehouseResource
from schemas.tables import DELIVERY_COLUMNS
from sources.registry import GenesisApi, Source
from warehouse.ingest import api_resource, ingest_api_source, ingest_source
from warehouse.quality import CheckRow, insert_check_rows

KIND_TAGS = {
    "csv": "csv",
    "genesis_table_csv": "csv",
    "genesis_ffcsv": "csv",
    "genesis_api": "api",
    "json_api": "api",
}


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
            f"{len(summary.unchanged)} unchanged (skipped), {len(summary.reverted)} reverted"
        )
        for entry in summary.odd_entries:
            context.log.warning(f"inbox entry skipped: {entry}")
        return dg.MaterializeResult(
            metadata={
                "new_payloads": len(summary.new),
                "unchanged_payloads": len(summary.unchanged),
                "new_files": ", ".join(summary.new) or "none",
                # an earlier delivery sent again after a later one: its values are current again
                "reverted_files": ", ".join(summary.reverted) or "none",
                "inbox_entries_skipped": "; ".join(summary.odd_entries) or "none",
                "dagster/row_count": deliveries,
            }
        )

    return _ingest


FETCH_CHECK = "fetch"


def _secret(name: str | None) -> str | None:
    """A credential from the environment variable the registry names, read through Dagster's
    EnvVar at the moment it is needed (never stored in run config or metadata)."""
    return dg.EnvVar(name).get_value() if name else None


def _raising(error: Exception):
    def call(*_args):
        raise error

    return call


def api_ingest_asset(source: Source) -> dg.AssetsDefinition:
    """Ingest of a genesis_api / json_api source: fetch (unless the service says nothing
    changed), archive, register. A failed fetch fails the non-blocking check `fetch`: the
    source keeps its last good data and the rest of the run goes on."""
    key = dg.AssetKey(["ingest", source.id])
    api = source.api
    credentials_note = (
        f"env {api.username_env}" + (f" / {api.password_env}" if api.password_env else " (token)")
        if isinstance(api, GenesisApi)
        else (f"env {api.token_env}" if api and api.token_env else "none")
    )
    host = urlsplit(getattr(api, "base_url", None) or getattr(api, "url", "")).hostname

    @dg.asset(
        key=key,
        group_name="ingest",
        description=(
            f"{source.title}. Fetches `{api_resource(source)}` from {host} — only when the "
            "service reports a change — with retries, backoff and a time budget, stores the "
            "payload in the raw archive (content-addressed) and registers it in meta.deliveries."
        ),
        kinds={"api", "python"},
        owners=[source.owner],
        tags=source_tags(source),
        pool=f"api:{host}",
        metadata={
            **source_metadata(source),
            "service": host or "",
            "credentials": credentials_note,
            "dagster/column_schema": column_schema(DELIVERY_COLUMNS),
        },
        check_specs=[
            dg.AssetCheckSpec(
                FETCH_CHECK,
                asset=key,
                blocking=False,
                description="The service answered and the table was fetched (or was unchanged). "
                "A failure keeps the last good data and does not stop the run.",
            )
        ],
    )
    def _ingest(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        from sources.fetch import genesis_calls, json_api_fetch, missing_variable

        progress = context.log.info
        resource = api_resource(source)
        if isinstance(api, GenesisApi):
            username, password = _secret(api.username_env), _secret(api.password_env)
            needed = ((api.username_env, username), (api.password_env, password))
            unset = next((name for name, value in needed if name and value is None), None)
            if unset:  # only this source fails, naming the variable
                error = missing_variable(resource, unset, source.id)
                calls = {"service_updated": _raising(error), "fetch": _raising(error)}
            else:
                from sources.clients.genesis import GenesisCredentials

                updated, fetch = genesis_calls(
                    source, GenesisCredentials(username, password or ""), progress
                )
                calls = {"service_updated": updated, "fetch": fetch}
        else:
            calls = {"fetch": json_api_fetch(source, _secret(api.token_env), progress)}
        with warehouse.connect() as conn:
            summary = ingest_api_source(conn, source, warehouse.paths, context.run_id, **calls)
            deliveries = conn.execute(
                "SELECT count(*) FROM meta.deliveries WHERE source_id = ?", [source.id]
            ).fetchone()[0]
            message = summary.error or (
                f"unchanged since {summary.service_updated}"
                if summary.skipped_by_service
                else f"fetched: {len(summary.new)} new, {len(summary.unchanged)} unchanged"
            )
            outcome = CheckOutcome(
                FETCH_CHECK,
                "fetch",
                "",
                "the service answered",
                "FAIL" if summary.error else "PASS",
                1,
                int(bool(summary.error)),
                message,
            )
            insert_check_rows(
                conn,
                context.run_id,
                [CheckRow(f"ingest/{source.id}", outcome, source_id=source.id)],
            )
        if summary.error:
            context.log.error(summary.error)
        yield dg.MaterializeResult(
            metadata={
                "new_payloads": len(summary.new),
                "unchanged_payloads": len(summary.unchanged),
                "service_updated": summary.service_updated or "unknown",
                "skipped_by_change_stamp": summary.skipped_by_service,
                "fetch_error": summary.error or "none",
                "dagster/row_count": deliveries,
            }
        )
        yield dg.AssetCheckResult(
            asset_key=key,
            check_name=FETCH_CHECK,
            passed=summary.error is None,
            severity=dg.AssetCheckSeverity.ERROR,
            description=message,
        )

    return _ingest
