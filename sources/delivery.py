"""One delivery, from its bytes to canonical records: the connector of its kind, the mapping.

Nothing here writes into the warehouse: the records are temporary tables of the connection the
caller gives — the warehouse (warehouse/staging.py) or the screener's in-memory database
(expectations/screening.py) — and the caller decides what to keep.
"""

from __future__ import annotations

from collections.abc import Mapping

import duckdb

from schemas.catalogue import load_catalogue
from schemas.regions import covered_region_codes, match_region_names, region_rows
from sources.canonical import RegionResolver, to_records
from sources.grain import aggregate_school_grain, combine_rows, derive_totals
from sources.readers import read_csv, read_ffcsv, read_genesis_table, read_json_records
from sources.readers.base import RawTable
from sources.readers.decoding import Source as Payload
from sources.registry import Source
from sources.scratch import drop, temp_name

ROW_ID = "row_id"


def read_payload(
    source: Source, data: Payload, file_name: str, conn: duckdb.DuckDBPyConnection | None = None
) -> RawTable:
    """The delivery (its bytes, or the path of its file) read by the connector of its kind."""
    if source.kind == "genesis_table_csv":
        return read_genesis_table(data, file_name, encoding=source.encoding, conn=conn)
    if source.kind in ("genesis_ffcsv", "genesis_api"):  # the API delivers ffcsv in a zip
        return read_ffcsv(data, file_name, conn=conn)
    if source.kind == "json_api":
        return read_json_records(data, file_name)
    return read_csv(
        data,
        file_name,
        encoding=source.encoding,
        delimiter=source.delimiter,
        conn=conn,
        excel=source.excel_encodings,
    )


def covered_municipalities(source: Source) -> list[str]:
    """Current Gemeinden inside the source's declared coverage (e.g. RVR → the 53)."""
    covered = covered_region_codes(source.coverage)
    return sorted(
        r.region_code
        for r in region_rows()
        if r.level == "gemeinde" and r.is_current and r.region_code in covered
    )


def records_relation(
    conn: duckdb.DuckDBPyConnection,
    raw: RawTable,
    source: Source,
    schools: Mapping[str, str] | None = None,
) -> str:
    """The delivery's canonical records, ready for validation (with `unit` and `row_id`), as a
    temporary table of `conn`. `schools` maps Schulnummer -> AGS for sources placed by school
    number."""
    resolver = RegionResolver(match_names=match_region_names, school_regions=schools or {})
    records = to_records(raw, source, resolver, conn)
    if source.measures is None or not source.measures.combine_rows:
        return records
    combined = combine_rows(conn, records)
    units = ", ".join(f"('{m.id}', '{m.unit}')" for m in load_catalogue().measures.values())
    final = temp_name("records_combined")
    conn.execute(
        f"""CREATE TEMP TABLE {final} AS
        SELECT r.* EXCLUDE (row_order), u.unit, r.row_order AS {ROW_ID}
        FROM {combined} r LEFT JOIN (VALUES {units}) u(measure, unit) ON u.measure = r.measure"""
    )
    drop(conn, records, combined)
    return final


def loadable_records(
    conn: duckdb.DuckDBPyConnection, records: str, quarantined: str, source: Source
) -> str:
    """The records of a delivery that load, at the grain the warehouse keeps: the accepted
    records (`quarantined`: SQL selecting the row ids held back), school lines added up per
    municipality, totals derived where the source has none."""
    held_back = conn.execute(f"SELECT count(*) FROM ({quarantined})").fetchone()[0]
    accepted = records  # nothing held back: no copy of millions of records
    if held_back:
        accepted = temp_name("accepted")
        conn.execute(
            f"CREATE OR REPLACE TEMP TABLE {accepted} AS SELECT * FROM {records} "
            f"WHERE {ROW_ID} NOT IN ({quarantined})"
        )
    result = accepted
    mapping = source.measures
    if mapping is not None and mapping.region_by == "school_number":
        held = temp_name("held_back")
        covered = covered_municipalities(source)
        # a school outside the coverage is no part of any municipality the source reports
        conn.execute(
            f"CREATE OR REPLACE TEMP TABLE {held} AS SELECT * FROM {records} "
            f"WHERE {ROW_ID} IN ({quarantined}) AND list_contains(?::VARCHAR[], region_code)",
            [covered],
        )
        result = aggregate_school_grain(conn, accepted, source, covered, held_back=held)
        drop(conn, held, accepted if accepted != records else None)
    if mapping is not None and mapping.derive_totals:
        derived = derive_totals(conn, result, mapping.derive_totals)
        drop(conn, result if result != records else None)
        result = derived
    return result
