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


def describe_genesis_table(metadata: dict, flat: list[dict[str, str]] | None = None) -> str:
    """What a mapping needs to know of a GENESIS table: its name, period and change stamp;
    every variable of its structure — nested ones too (the sex variable under the Stichtag),
    indented under their parent, with where it sits; and, from the table's flat file (`flat`,
    its rows as dicts), each variable's role as a mapping addresses it — `time`,
    `value_variable_code` (with the unit) or `variable:<CODE>` with its codes and labels. The
    role is the flat file's to say: GENESIS places value variables in the head, the columns or
    under a region variable, table by table."""
    lines = [
        f"{metadata.get('Code', '?')}: {' '.join(str(metadata.get('Content', '')).split())}",
        f"  period: {(metadata.get('Time') or {}).get('From')} – "
        f"{(metadata.get('Time') or {}).get('To')}; updated: {metadata.get('Updated')}",
    ]
    roles = _roles(flat or [])

    def walk(entry: object, part: str, depth: int, parent: str | None) -> None:
        if not isinstance(entry, dict):
            return
        code = str(entry.get("Code"))
        kind = "statistic" if entry.get("Type") == "Statistik" else part
        within = f", within {parent}" if parent else ""
        role = f"; {roles[code]}" if code in roles else ""
        lines.append(f"{'  ' * depth}{code}: {entry.get('Content')} [{kind}{within}{role}]")
        for child in entry.get("Structure") or []:
            walk(child, part, depth + 1, code if kind != "statistic" else None)

    structure = metadata.get("Structure") or {}
    for part in ("Head", "Columns", "Rows", "Subtitel", "Subheading"):
        entries = structure.get(part) or []
        for entry in entries if isinstance(entries, list) else [entries]:
            walk(entry, part.lower(), 1, None)
    if flat:
        lines += ["  in the flat file:", *_flat_listing(flat)]
    return "\n".join(lines)


def _roles(flat: list[dict[str, str]]) -> dict[str, str]:
    roles: dict[str, str] = {}
    for row in flat:
        roles[row.get("time_code", "")] = "time"
        roles[row.get("value_variable_code", "")] = "value_variable_code"
        for key, code in row.items():
            if key[:1].isdigit() and key.endswith("_variable_code") and code:
                roles[code] = f"variable:{code}"
    roles.pop("", None)
    return roles


def _flat_listing(flat: list[dict[str, str]], shown: int = 12) -> list[str]:
    """The codes and labels the flat file uses: value variables with units, each variable's
    attribute codes, the time values."""
    values: dict[str, tuple[str, set[str]]] = {}
    variables: dict[str, tuple[str, dict[str, str]]] = {}
    times: dict[str, set[str]] = {}
    for row in flat:
        code = row.get("value_variable_code", "")
        values.setdefault(code, (row.get("value_variable_label", ""), set()))[1].add(
            row.get("value_unit", "")
        )
        times.setdefault(row.get("time_code", ""), set()).add(row.get("time", ""))
        for key, variable in row.items():
            if key[:1].isdigit() and key.endswith("_variable_code") and variable:
                number = key.split("_", 1)[0]
                label = row.get(f"{number}_variable_label", "")
                attributes = variables.setdefault(variable, (label, {}))[1]
                attributes[row.get(f"{number}_variable_attribute_code", "")] = row.get(
                    f"{number}_variable_attribute_label", ""
                )
    lines = []
    for code, (label, units) in values.items():
        lines.append(f"    value_variable_code {code}: {label} [{', '.join(sorted(units))}]")
    for code, (label, attributes) in variables.items():
        listed = [f"{a or '(empty)'} = {t}" for a, t in sorted(attributes.items())]
        more = f" … (+{len(listed) - shown} more)" if len(listed) > shown else ""
        lines.append(f"    variable:{code} {label}: {'; '.join(listed[:shown])}{more}")
    for code, cells in times.items():
        ordered = sorted(cells)
        span = ordered[0] if len(ordered) == 1 else f"{ordered[0]} … {ordered[-1]}"
        lines.append(f"    time ({code}): {span} ({len(ordered)} value{'s' * (len(ordered) > 1)})")
    return lines


def flat_rows(data: bytes) -> list[dict[str, str]]:
    """The rows of a GENESIS flat file (ffcsv: UTF-8, ';') as dicts."""
    import csv
    import io

    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig", "replace")), delimiter=";"))
