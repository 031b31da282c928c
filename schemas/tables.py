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
    "regierungsbezirk",
    "kreis",
    "gemeinde",
    "verband",
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
    Column("value", "DOUBLE", "the figure; NULL unless status is ok/unreliable/provisional/estimated"),
    Column("status", "VARCHAR", "ok | suppressed | not_available | not_applicable | unreliable | "
           "provisional | estimated"),
    Column("raw_value", "VARCHAR", "the cell exactly as delivered"),
    Column("source_line", "INTEGER", "line of the delivered file the value stands on (1-based)"),
    Column("source_column", "VARCHAR", "column of the delivered file the value stands in"),
)


def ddl(table: str, columns: tuple[Column, ...]) -> str:
    cols = ",\n    ".join(f"{c.name} {c.type}" for c in columns)
    return f"CREATE TABLE IF NOT EXISTS {table} (\n    {cols}\n)"
