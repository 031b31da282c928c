"""The canonical vocabulary every layer shares: statuses, subgroups, school years, table schemas.

Staging turns every source into *canonical records* (one value per row); the column lists
below are the single definition of those records and of the warehouse tables built on them,
used for the DDL, for Dagster's column-schema metadata and for the analysts' docs.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

# Official-statistics symbols become statuses, never silent zeros (DESIGN.md, Staging).
STATUSES: tuple[str, ...] = (
    "ok",
    "suppressed",
    "not_available",
    "not_applicable",
    "unreliable",
    "provisional",
    "estimated",
)
# Statuses whose value is a usable number (the others have value NULL).
NUMERIC_STATUSES: tuple[str, ...] = ("ok", "unreliable", "provisional", "estimated")

SEXES: tuple[str, ...] = ("total", "female", "male")
NATIONALITIES: tuple[str, ...] = ("total", "german", "foreign")

REGION_LEVELS: tuple[str, ...] = (
    "bund",
    "land",
    "regierungsbezirk",  # also the "Statistische Regionen" of Niedersachsen, RLP, Sachsen
    "kreis",
    "gemeinde",
    "stadtbezirk",  # Berlin's Bezirke: parts of one Gemeinde, never members of an aggregate
    "verband",  # RVR, the Ruhr
)
RUHR_CODE = "RVR"  # Regionalverband Ruhr: the 53 municipalities; not an AGS, so a mnemonic
NRW_CODE = "05"
GERMANY_CODE = "DG"  # as GENESIS writes it

_SCHOOL_YEAR = re.compile(r"^(\d{4})\s*/\s*(\d{2}|\d{4})$")

# The earliest school year the warehouse accepts; older figures are not comparable (KMK 1990s).
FIRST_SCHOOL_YEAR = 1990


def school_year_label(start_year: int) -> str:
    """2022 -> '2022/23'."""
    return f"{start_year}/{(start_year + 1) % 100:02d}"


def parse_school_year(text: str) -> int:
    """'2022/23' or '2022/2023' -> 2022. Raises ValueError with the expected form otherwise.

    '2022/24' and '22/23' are malformed: the second year must follow the first.
    """
    match = _SCHOOL_YEAR.match(text.strip())
    if not match:
        raise ValueError(f"school year {text!r} is not of the form 2022/23")
    start = int(match.group(1))
    end = match.group(2)
    expected_end = start + 1 if len(end) == 4 else (start + 1) % 100
    if int(end) != expected_end:
        raise ValueError(
            f"school year {text!r}: the second year must follow the first "
            f"(expected {school_year_label(start)})"
        )
    return start


def school_year_of_date(day: dt.date) -> int:
    """The start year of the school year containing `day` (NRW school years begin 1 August).

    Day care is counted on 1 March and population on 31 December: both fall into the school
    year that began the August before, so 01.03.2023 and 31.12.2022 both belong to 2022/23.
    """
    return day.year if day.month >= 8 else day.year - 1


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # DuckDB type
    description: str


# One value of one measure for one region, school year and subgroup, as a delivery stated it.
RECORD_COLUMNS: tuple[Column, ...] = (
    Column("delivery_id", "VARCHAR", "SHA-256 of the payload the value came from"),
    Column("source_id", "VARCHAR", "registry id of the source"),
    Column("measure", "VARCHAR", "measure id from schemas/measures.yaml"),
    Column("region_code", "VARCHAR", "official key (AGS): 8 digits Gemeinde, 5 Kreis, 2 Land"),
    Column("school_year", "VARCHAR", "school year, e.g. 2022/23"),
    Column("start_year", "INTEGER", "first calendar year of the school year"),
    Column("sex", "VARCHAR", "total | female | male"),
    Column("nationality", "VARCHAR", "total | german | foreign"),
    Column(
        "value", "DOUBLE", "the figure; NULL unless status is ok/unreliable/provisional/estimated"
    ),
    Column(
        "status",
        "VARCHAR",
        "ok | suppressed | not_available | not_applicable | unreliable | provisional | estimated",
    ),
    Column("raw_value", "VARCHAR", "the cell exactly as delivered"),
    Column("source_line", "INTEGER", "line of the delivered file the value stands on (1-based)"),
    Column("source_column", "VARCHAR", "column of the delivered file the value stands in"),
)


# meta.deliveries: one row per payload ever received (content-addressed: same bytes, same row).
DELIVERY_COLUMNS: tuple[Column, ...] = (
    Column("delivery_id", "VARCHAR", "SHA-256 of the payload; also its name in the raw archive"),
    Column("source_id", "VARCHAR", "registry id of the source"),
    Column(
        "delivery_seq",
        "INTEGER",
        "order of receipt; of one source the later delivery is the current revision",
    ),
    Column("file_name", "VARCHAR", "file name as delivered"),
    Column("origin", "VARCHAR", "where it was picked up: the bundled demo file or the inbox"),
    Column("size_bytes", "BIGINT", "payload size in bytes"),
    Column("received_at", "TIMESTAMP", "when the pipeline first archived it (UTC)"),
    Column("received_run_id", "VARCHAR", "Dagster run that archived it"),
    Column("archive_path", "VARCHAR", "path of the immutable copy, relative to the data directory"),
    Column("synthetic", "BOOLEAN", "true for the generated demo deliveries"),
    Column("state", "VARCHAR", "received | loaded | loaded_with_quarantine | rejected"),
    Column("parsed_at", "TIMESTAMP", "when it was parsed and validated (UTC); NULL until then"),
    Column("parsed_run_id", "VARCHAR", "Dagster run that parsed it"),
    Column("rows_read", "INTEGER", "data lines read from the file"),
    Column("records_loaded", "INTEGER", "canonical records that passed validation"),
    Column("records_quarantined", "INTEGER", "records held back in quality.quarantine"),
    Column("message", "VARCHAR", "why it was rejected, or a summary of what was quarantined"),
)

# meta.delivery_events: every event that made an earlier delivery current again — its bytes
# were sent once more after a later delivery of the source had replaced it (a revert). The
# bytes are archived once; meta.deliveries keeps one row per payload.
DELIVERY_EVENT_COLUMNS: tuple[Column, ...] = (
    Column(
        "event_seq",
        "INTEGER",
        "place in the order of receipt, counted with meta.deliveries.delivery_seq",
    ),
    Column("delivery_id", "VARCHAR", "the delivery made current again (SHA-256)"),
    Column("source_id", "VARCHAR", "registry id of the source"),
    Column("file_name", "VARCHAR", "file name it was sent under this time"),
    Column("event", "VARCHAR", "revert"),
    Column("happened_at", "TIMESTAMP", "when the pipeline received the bytes again (UTC)"),
    Column("run_id", "VARCHAR", "Dagster run that received them"),
    Column("detail", "VARCHAR", "which later delivery it replaces"),
)

# meta.delivery_log: every sighting of a payload by a run, parsed or skipped.
DELIVERY_LOG_COLUMNS: tuple[Column, ...] = (
    Column("run_id", "VARCHAR", "Dagster run"),
    Column("logged_at", "TIMESTAMP", "when (UTC)"),
    Column("source_id", "VARCHAR", "registry id of the source"),
    Column("delivery_id", "VARCHAR", "SHA-256 of the payload"),
    Column("file_name", "VARCHAR", "file name as delivered"),
    Column(
        "action",
        "VARCHAR",
        "archived | skipped_unchanged | reverted (the bytes of an earlier, replaced delivery "
        "again: its values are current again, meta.delivery_events) | parsed | rejected | "
        "fetch_failed | skipped_entry (an "
        "inbox entry that is not a delivery file: reported, never followed) | waiting (an inbox "
        "file not taken until its inbox is fixed)",
    ),
    Column("detail", "VARCHAR", "counts or the error message"),
)

# meta.api_state: what an API source's service said last time, to skip unchanged tables.
API_STATE_COLUMNS: tuple[Column, ...] = (
    Column("source_id", "VARCHAR", "registry id of the API source"),
    Column("resource", "VARCHAR", "table code or URL fetched"),
    Column("service_updated", "VARCHAR", "the service's own change stamp (GENESIS 'Updated')"),
    Column("delivery_id", "VARCHAR", "SHA-256 of the last payload fetched"),
    Column("checked_at", "TIMESTAMP", "last time the service was asked (UTC)"),
    Column("fetched_at", "TIMESTAMP", "last time the table was downloaded (UTC)"),
    Column("last_error", "VARCHAR", "the last fetch error (credentials masked); NULL if none"),
)

# quality.findings: what the checks across time, levels and deliveries flagged
FINDING_COLUMNS: tuple[Column, ...] = (
    Column("run_id", "VARCHAR", "run that found it (NULL when screened before delivery)"),
    Column("source_id", "VARCHAR", "registry id of the source"),
    Column("delivery_id", "VARCHAR", "the delivery the finding is about, if one"),
    Column(
        "check_name",
        "VARCHAR",
        "year_over_year | completeness | level_consistency | subgroups | revisions | "
        "source_conflicts",
    ),
    Column("measure", "VARCHAR", "measure"),
    Column("region_code", "VARCHAR", "region"),
    Column("school_year", "VARCHAR", "school year"),
    Column("sex", "VARCHAR", "sex subgroup"),
    Column("nationality", "VARCHAR", "nationality subgroup"),
    Column("value", "DOUBLE", "the value found (new value, delivered total, …)"),
    Column(
        "reference", "DOUBLE", "what it was compared with (previous year, sum of parts, old value)"
    ),
    Column("tolerance", "DOUBLE", "allowed difference (rounding), if any"),
    Column("source_line", "INTEGER", "line in the delivered file, if known"),
    Column("message", "VARCHAR", "plain English"),
    Column("message_de", "VARCHAR", "plain German"),
)

QUARANTINE_COLUMNS: tuple[Column, ...] = (
    Column("run_id", "VARCHAR", "Dagster run that validated the delivery"),
    Column("source_id", "VARCHAR", "registry id of the source"),
    Column("delivery_id", "VARCHAR", "SHA-256 of the payload"),
    Column("file_name", "VARCHAR", "file name as delivered"),
    Column("source_line", "INTEGER", "line in the delivered file"),
    Column("source_column", "VARCHAR", "column in the delivered file"),
    Column("check_name", "VARCHAR", "the check (expectation) the record failed"),
    Column("reason", "VARCHAR", "plain-language reason"),
    Column("measure", "VARCHAR", "measure id, if it could be determined"),
    Column("region_code", "VARCHAR", "region key as delivered or matched"),
    Column("region_label", "VARCHAR", "region cell as delivered"),
    Column("school_year", "VARCHAR", "school year"),
    Column("sex", "VARCHAR", "sex subgroup"),
    Column("nationality", "VARCHAR", "nationality subgroup"),
    Column("value", "DOUBLE", "parsed value, if any"),
    Column("raw_value", "VARCHAR", "the cell exactly as delivered"),
)

CHECK_RESULT_COLUMNS: tuple[Column, ...] = (
    Column("run_id", "VARCHAR", "Dagster run"),
    Column("checked_at", "TIMESTAMP", "when (UTC)"),
    Column(
        "asset_key", "VARCHAR", "Dagster asset the check belongs to, e.g. staging/kita_betreuung"
    ),
    Column("check_name", "VARCHAR", "Dagster asset-check name"),
    Column("suite", "VARCHAR", "expectation suite (expectations/<suite>.json) or 'structure'"),
    Column("expectation_type", "VARCHAR", "Great Expectations expectation type"),
    Column("source_id", "VARCHAR", "registry id of the source, if any"),
    Column("delivery_id", "VARCHAR", "payload checked; NULL for warehouse-level checks"),
    Column("passed", "BOOLEAN", "true when nothing was unexpected"),
    Column("outcome", "VARCHAR", "PASS | WARNING | FAIL"),
    Column("severity", "VARCHAR", "ERROR (blocking) or WARN"),
    Column("element_count", "BIGINT", "records checked"),
    Column("unexpected_count", "BIGINT", "records that failed"),
    Column("message", "VARCHAR", "plain-language result"),
    Column("observed", "VARCHAR", "observed values as JSON"),
)


def ddl(table: str, columns: tuple[Column, ...]) -> str:
    cols = ",\n    ".join(f"{c.name} {c.type}" for c in columns)
    return f"CREATE TABLE IF NOT EXISTS {table} (\n    {cols}\n)"
