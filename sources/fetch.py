"""From an API source's registry entry to the two calls ingest needs: "what is the service's
change stamp?" and "download the table".

Credentials are passed in by the caller (the Dagster asset reads them from the environment
variables the YAML names, at the moment of the request) and never stored here.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from sources.clients.genesis import GenesisClient, GenesisCredentials, GenesisSettings
from sources.clients.http import FetchError, RetryPolicy
from sources.clients.json_api import JsonApiClient, JsonApiSettings
from sources.registry import GenesisApi, JsonApi, Source

Progress = Callable[[str], None]
Fetcher = Callable[[str | None], tuple[str, bytes, str | None]]


def genesis_client(
    source: Source, credentials: GenesisCredentials, progress: Progress
) -> GenesisClient:
    api = source.api
    assert isinstance(api, GenesisApi), f"{source.id} is not a genesis_api source"
    return GenesisClient(
        GenesisSettings(
            base_url=api.base_url,
            timeout_seconds=api.timeout_seconds,
            retry=RetryPolicy(attempts=api.attempts),
            max_parallel=api.max_parallel,
            poll_interval_seconds=api.poll_interval_seconds,
            time_budget_seconds=api.time_budget_seconds,
            language=api.parameters.get("language", "de"),
        ),
        credentials,
        progress,
    )


def genesis_calls(
    source: Source, credentials: GenesisCredentials, progress: Progress
) -> tuple[Callable[[], str | None], Fetcher]:
    api = source.api
    assert isinstance(api, GenesisApi)
    client = genesis_client(source, credentials, progress)

    def service_updated() -> str | None:
        return client.table_updated(api.table, area=api.parameters.get("area", "all"))

    def fetch(previous_stamp: str | None) -> tuple[str, bytes, str | None]:
        table = client.fetch_table(api.table, api.parameters, ask_updated=False)
        # The service zips the table under a name with a timestamp, so the zip's bytes differ
        # on every download; the table file inside is the payload (same table, same bytes).
        data = table.csv() if table.is_zip else table.payload
        member = table.csv_name or "(not zipped)"
        progress(f"{api.table}: {len(data):,} bytes of table data ({member})")
        return f"{api.table}_flat.csv", data, table.updated

    return service_updated, fetch


def json_api_fetch(source: Source, token: str | None, progress: Progress) -> Fetcher:
    api = source.api
    assert isinstance(api, JsonApi)
    client = JsonApiClient(
        JsonApiSettings(
            url=api.url,
            page_size=api.page_size,
            page_size_param=api.page_size_param,
            results_key=api.results_key,
            next_key=api.next_key,
            count_key=api.count_key,
            timeout_seconds=api.timeout_seconds,
            retry=RetryPolicy(attempts=api.attempts),
            time_budget_seconds=api.time_budget_seconds,
            token=token,
            auth_scheme=api.auth_scheme,
            auth_name=api.auth_name,
        ),
        progress,
    )

    def fetch(previous_stamp: str | None) -> tuple[str, bytes, str | None]:
        result = client.fetch_all()
        # one canonical JSON document: the same records give the same bytes and hash
        document = {"records": result.records}
        data = json.dumps(document, ensure_ascii=False, sort_keys=True, indent=0).encode("utf-8")
        progress(f"{client.resource}: {len(result.records):,} records on {result.pages} page(s)")
        return f"{source.id}.json", data, None

    return fetch


def missing_variable(resource: str, variable: str, source_id: str) -> FetchError:
    return FetchError(
        resource,
        f"environment variable {variable} is not set (source {source_id} takes its "
        "credentials from it; see docs/sources.md)",
        kind="config",
    )


def describe_genesis_table(metadata: dict) -> str:
    """metadata/table's `Object` as text: the table, its period and change stamp, and every
    variable with its code — the codes a mapping addresses as `variable:<CODE>`."""
    lines = [
        f"{metadata.get('Code', '?')}: {' '.join(str(metadata.get('Content', '')).split())}",
        f"  period: {(metadata.get('Time') or {}).get('From')} – "
        f"{(metadata.get('Time') or {}).get('To')}; updated: {metadata.get('Updated')}",
    ]
    structure = metadata.get("Structure") or {}
    for part in ("Head", "Columns", "Rows", "Subtitel", "Subheading"):
        entries = structure.get(part) or []
        for entry in entries if isinstance(entries, list) else [entries]:
            if isinstance(entry, dict):
                kind = (
                    "value (value_variable_code)"
                    if entry.get("Type") == "Merkmal" and part == "Columns"
                    else part.lower()
                )
                lines.append(f"  {entry.get('Code')}: {entry.get('Content')} [{kind}]")
    return "\n".join(lines)
