"""Staging: parse and validate every new delivery of a source, load what passes.

For each delivery in state `received` (oldest first):

1. read it with the connector of the source's kind; a structural problem rejects it whole
   (check `structure`, FAIL, the message names file, line and column);
2. map it to canonical records (measures) or typed rows (reference datasets);
3. validate with the suites; records failing a record-level check go to quality.quarantine
   with their reason; a FAIL beyond a suite's `mostly` tolerance rejects the delivery;
4. load the accepted records into staging.records (every revision is kept: the delivery id is
   part of each record) or replace the reference table.

Check outcomes of every run are written to quality.check_results, including "no new delivery".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from expectations.cross_checks import CHECKS as CROSS_CHECKS
from expectations.cross_checks import CrossCheck, run_all
from expectations.runner import ROW_ID, CheckOutcome, suite_specs
from expectations.validation import (
    RECORD_SUITE,
    validate_records,
    validate_rows,
)
from schemas.catalogue import load_catalogue
from schemas.regions import load_regions, match_region_names
from schemas.tables import RECORD_COLUMNS
from sources.archive import RawArchive, move_out_of_inbox
from sources.canonical import (
    RegionResolver,
    aggregate_school_grain,
    combine_rows,
    derive_totals,
    to_records,
)
from sources.ingest import log_delivery
from sources.readers import read_csv, read_ffcsv, read_genesis_table, read_json_records
from sources.readers.base import DeliveryFormatError, RawTable, require_data_lines
from sources.reference import to_reference_rows
from sources.registry import Source
from warehouse.db import DATASET_TABLES, DataPaths, insert_frame, utc_now
from warehouse.quality import CheckRow, insert_check_rows

STRUCTURE_CHECK = "structure"
CROSS_CHECK_DESCRIPTIONS = {
    "year_over_year": "no value jumps against the school year before beyond the threshold "
    "(expectations/quality.yaml)",
    "completeness": "every region and school year the source covers is present",
    "level_consistency": "municipalities add up to their Kreis, Kreise to higher levels, "
    "within the rounding the source declares",
    "subgroups": "female + male and german + foreign add up to the total",
    "revisions": "the new delivery does not change values an earlier delivery loaded",
}


def check_names(source: Source) -> list[str]:
    """The Dagster checks of a source's staging asset, in order."""
    suites = source_suites(source)
    names = [STRUCTURE_CHECK] + [spec.name for suite in suites for spec in suite_specs(suite)]
    if source.dataset == "measures":
        names += list(CROSS_CHECKS)
    return names


def source_suites(source: Source) -> tuple[str, ...]:
    base = (RECORD_SUITE,) if source.dataset == "measures" else ()
    return base + source.expectations


@dataclass
class DeliveryResult:
    delivery_id: str
    file_name: str
    state: str  # loaded | loaded_with_quarantine | rejected
    rows_read: int = 0
    records_loaded: int = 0
    records_quarantined: int = 0
    message: str = ""
    outcomes: list[CheckOutcome] = field(default_factory=list)
    structure_error: str | None = None


@dataclass
class StagingResult:
    source_id: str
    deliveries: list[DeliveryResult] = field(default_factory=list)
    current_delivery: str | None = None  # file name of the newest loaded delivery
    cross_checks: list[CrossCheck] = field(default_factory=list)  # on this run's new data

    @property
    def rejected(self) -> list[DeliveryResult]:
        return [d for d in self.deliveries if d.state == "rejected"]


def read_payload(source: Source, data: bytes, file_name: str) -> RawTable:
    if source.kind == "genesis_table_csv":
        return read_genesis_table(data, file_name, encoding=source.encoding)
    if source.kind in ("genesis_ffcsv", "genesis_api"):  # the API delivers ffcsv in a zip
        return read_ffcsv(data, file_name)
    if source.kind == "json_api":
        return read_json_records(data, file_name)
    return read_csv(data, file_name, encoding=source.encoding, delimiter=source.delimiter)


def school_regions(conn: duckdb.DuckDBPyConnection) -> dict[str, str]:
    rows = conn.execute(
        "SELECT school_number, region_code FROM staging.school_directory"
    ).fetchall()
    return dict(rows)


def covered_municipalities(source: Source) -> list[str]:
    """Current Gemeinden inside the source's declared coverage (e.g. RVR → the 53)."""
    regions = load_regions()
    gemeinden = regions[(regions["level"] == "gemeinde") & regions["is_current"]]
    if source.coverage == "RVR":
        return sorted(gemeinden[gemeinden["in_ruhr"]]["region_code"])
    prefix = "" if source.coverage in (None, "DG") else source.coverage
    return sorted(c for c in gemeinden["region_code"] if c.startswith(prefix))


def records_frame(
    raw: RawTable, source: Source, schools: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """The delivery's canonical records, ready for validation (unit and row id added).
    `schools` maps Schulnummer -> AGS for sources placed by school number."""
    resolver = RegionResolver(match_names=match_region_names, school_regions=schools or {})
    records = to_records(raw, source, resolver)
    if source.measures is not None and source.measures.combine_rows:
        records = combine_rows(records)
    units = {m.id: m.unit for m in load_catalogue().measures.values()}
    records["unit"] = records["measure"].map(units)
    records[ROW_ID] = range(len(records))
    return records


def loadable_records(records: pd.DataFrame, quarantine: set[int], source: Source) -> pd.DataFrame:
    """The records of a delivery that load, at the grain the warehouse keeps: the accepted
    records, school lines added up per municipality, totals derived where the source has none."""
    held = records[ROW_ID].isin(list(quarantine))
    accepted = records[~held]
    mapping = source.measures
    if mapping is not None and mapping.region_by == "school_number":
        covered = covered_municipalities(source)
        accepted = aggregate_school_grain(accepted, source, covered, held_back=records[held])
    if mapping is not None and mapping.derive_totals:
        accepted = derive_totals(accepted, mapping.derive_totals)
    return accepted


def stage_source(
    conn: duckdb.DuckDBPyConnection,
    source: Source,
    paths: DataPaths,
    run_id: str,
    log: Callable[[str], None] = lambda message: None,
) -> StagingResult:
    result = StagingResult(source.id)
    archive = RawArchive(paths.root)
    pending = conn.execute(
        """SELECT delivery_id, file_name, origin FROM meta.deliveries
           WHERE source_id = ? AND state = 'received' ORDER BY delivery_seq""",
        [source.id],
    ).fetchall()
    for delivery_id, file_name, origin in pending:
        log(f"{source.id}: parsing {file_name} ({delivery_id[:12]}…)")
        # one transaction per delivery: its records, quarantine and state land together or
        # not at all (a crash leaves it 'received', to be staged again by the next run)
        conn.begin()
        try:
            delivery = _stage_delivery(conn, source, archive, delivery_id, file_name, run_id)
            _record_delivery(conn, source, delivery, run_id)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        result.deliveries.append(delivery)
        if origin.startswith("inbox:"):
            verdict = "rejected" if delivery.state == "rejected" else "processed"
            move_out_of_inbox(
                paths.inbox_for(source.id) / origin[len("inbox:") :], verdict, delivery.message
            )
        log(f"{source.id}: {file_name} {delivery.state}: {delivery.message}")
    current = conn.execute(
        """SELECT file_name FROM meta.deliveries WHERE source_id = ?
           AND state IN ('loaded', 'loaded_with_quarantine') ORDER BY delivery_seq DESC LIMIT 1""",
        [source.id],
    ).fetchone()
    result.current_delivery = current[0] if current else None
    if source.dataset == "measures" and any(d.state != "rejected" for d in result.deliveries):
        result.cross_checks = cross_check(conn, source, run_id)
    _record_check_results(conn, source, result, run_id)
    return result


_CURRENT = """
    SELECT r.*, d.file_name FROM staging.records r
    JOIN meta.deliveries d ON d.delivery_id = r.delivery_id AND d.source_id = r.source_id
    WHERE r.source_id = ? AND d.state IN ('loaded', 'loaded_with_quarantine') AND {where}
    QUALIFY row_number() OVER (
        PARTITION BY r.measure, r.region_code, r.school_year, r.sex, r.nationality
        ORDER BY d.delivery_seq DESC) = 1
"""


def cross_check(conn: duckdb.DuckDBPyConnection, source: Source, run_id: str) -> list[CrossCheck]:
    """The checks across time, levels and deliveries on what this run loaded for the source;
    their findings go to quality.findings."""
    new = conn.execute(_CURRENT.format(where="d.parsed_run_id = ?"), [source.id, run_id]).df()
    previous = conn.execute(
        _CURRENT.format(where="coalesce(d.parsed_run_id, '') <> ?"), [source.id, run_id]
    ).df()
    checks = run_all(source, new, previous, previous)
    findings = pd.concat(
        [c.findings for c in checks if not c.findings.empty]
        or [pd.DataFrame(columns=checks[0].findings.columns)],
        ignore_index=True,
    )
    findings["run_id"] = run_id
    if not findings.empty:
        insert_frame(conn, "quality.findings", findings)
    return checks


def _stage_delivery(conn, source, archive, delivery_id, file_name, run_id) -> DeliveryResult:
    data = archive.read(delivery_id)
    try:
        raw = read_payload(source, data, file_name)
        require_data_lines(raw)
        if source.dataset == "measures":
            frame = records_frame(raw, source, school_regions(conn))
        else:
            frame = to_reference_rows(raw, source)
            frame[ROW_ID] = range(len(frame))
    except DeliveryFormatError as exc:
        return DeliveryResult(
            delivery_id, file_name, "rejected", message=str(exc), structure_error=str(exc)
        )
    if source.dataset == "measures":
        validation = validate_records(frame, source.expectations, source.id, run_id)
    else:
        validation = validate_rows(frame, source.expectations, source.id, run_id)
    delivery = DeliveryResult(delivery_id, file_name, "loaded", rows_read=len(raw.rows))
    delivery.outcomes = validation.outcomes
    _write_quarantine(conn, source, delivery_id, file_name, frame, validation, run_id)
    delivery.records_quarantined = len(validation.quarantine)
    if validation.blocking_failures:
        delivery.state = "rejected"
        delivery.message = "; ".join(o.message for o in validation.blocking_failures)
        return delivery
    if source.dataset == "measures":
        accepted = loadable_records(frame, set(validation.quarantine), source)
        delivery.records_loaded = _load_records(conn, source, delivery_id, accepted)
    else:
        accepted = frame[~frame[ROW_ID].isin(list(validation.quarantine))]
        delivery.records_loaded = _replace_reference(conn, source, delivery_id, accepted)
    if delivery.records_quarantined:
        delivery.state = "loaded_with_quarantine"
        delivery.message = (
            f"{delivery.records_loaded} records loaded, {delivery.records_quarantined} "
            "quarantined (see quality.quarantine)"
        )
    else:
        delivery.message = f"{delivery.records_loaded} records loaded"
    return delivery


def _load_records(conn, source: Source, delivery_id: str, records: pd.DataFrame) -> int:
    frame = records.copy()
    frame["delivery_id"] = delivery_id
    frame["source_id"] = source.id
    frame = frame[[c.name for c in RECORD_COLUMNS]]
    # a delivery re-staged after a crash replaces its own earlier rows
    insert_frame(conn, "staging.records", frame, replacing="delivery_id = ?", params=[delivery_id])
    return len(frame)


def _replace_reference(conn, source: Source, delivery_id: str, rows: pd.DataFrame) -> int:
    table = DATASET_TABLES[source.dataset]
    frame = rows.drop(columns=[ROW_ID]).copy()
    frame.insert(0, "delivery_id", delivery_id)
    columns = [r[0] for r in conn.execute(f"DESCRIBE {table}").fetchall()]
    frame = frame.reindex(columns=columns)
    insert_frame(conn, table, frame, replacing="true")  # the newest delivery is the current one
    return len(frame)


def _write_quarantine(conn, source, delivery_id, file_name, frame, validation, run_id) -> None:
    if not validation.quarantine:
        return
    ids = list(validation.quarantine)
    rows = frame.set_index(ROW_ID).loc[ids].reset_index()
    out = pd.DataFrame(
        {
            "run_id": run_id,
            "source_id": source.id,
            "delivery_id": delivery_id,
            "file_name": file_name,
            "source_line": rows["source_line"].astype("Int64"),
            "source_column": rows.get("source_column"),
            "check_name": [validation.quarantine[i][0] for i in ids],
            "reason": [validation.quarantine[i][1] for i in ids],
            "measure": rows.get("measure"),
            "region_code": rows.get("region_code"),
            "region_label": rows.get("region_label"),
            "school_year": rows.get("school_year"),
            "sex": rows.get("sex"),
            "nationality": rows.get("nationality"),
            "value": rows.get("value"),
            "raw_value": rows.get("raw_value"),
        }
    )
    insert_frame(conn, "quality.quarantine", out, replacing="delivery_id = ?", params=[delivery_id])


def _record_delivery(conn, source: Source, delivery: DeliveryResult, run_id: str) -> None:
    conn.execute(
        """UPDATE meta.deliveries SET state = ?, parsed_at = ?, parsed_run_id = ?, rows_read = ?,
               records_loaded = ?, records_quarantined = ?, message = ?
           WHERE source_id = ? AND delivery_id = ?""",
        [
            delivery.state,
            utc_now(),
            run_id,
            delivery.rows_read,
            delivery.records_loaded,
            delivery.records_quarantined,
            delivery.message,
            source.id,
            delivery.delivery_id,
        ],
    )
    action = "rejected" if delivery.state == "rejected" else "parsed"
    log_delivery(
        conn, run_id, source.id, delivery.delivery_id, delivery.file_name, action, delivery.message
    )


def _record_check_results(conn, source: Source, result: StagingResult, run_id: str) -> None:
    """One row per check and delivery; one 'no new delivery' row per check when nothing came."""
    asset_key = f"staging/{source.id}"
    rows = []
    for name in check_names(source):
        if not result.deliveries:
            nothing = CheckOutcome(
                name,
                "",
                "",
                "",
                "PASS",
                0,
                0,
                f"no new delivery; current: {result.current_delivery}",
            )
            rows.append(
                CheckRow(asset_key, nothing, suite=_suite_of(source, name), source_id=source.id)
            )
        if name in CROSS_CHECKS:
            outcome = cross_outcome(result, name)
            if outcome is not None:
                rows.append(
                    CheckRow(
                        asset_key,
                        outcome,
                        suite="cross_checks",
                        expectation_type=name,
                        source_id=source.id,
                    )
                )
            continue
        for delivery in result.deliveries:
            outcome = outcome_for(delivery, name)
            if outcome is not None:
                rows.append(
                    CheckRow(
                        asset_key,
                        outcome,
                        source_id=source.id,
                        delivery_id=delivery.delivery_id,
                        message=f"{delivery.file_name}: {outcome.message}",
                    )
                )
    insert_check_rows(conn, run_id, rows)


def _suite_of(source: Source, check_name: str) -> str:
    if check_name in CROSS_CHECKS:
        return "cross_checks"
    for suite in source_suites(source):
        if any(spec.name == check_name for spec in suite_specs(suite)):
            return suite
    return STRUCTURE_CHECK


def cross_outcome(result: StagingResult, check_name: str) -> CheckOutcome | None:
    """A cross check's outcome as a CheckOutcome (WARNING: never blocking)."""
    check = next((c for c in result.cross_checks if c.name == check_name), None)
    if check is None:
        return None
    return CheckOutcome(
        check.name,
        "cross_checks",
        "",
        CROSS_CHECK_DESCRIPTIONS[check.name],
        check.outcome,
        len(check.findings),
        len(check.findings),
        check.message,
    )


def outcome_for(delivery: DeliveryResult, check_name: str) -> CheckOutcome | None:
    """The outcome of one check for one delivery; `structure` is derived from the reader."""
    if check_name == STRUCTURE_CHECK:
        if delivery.structure_error:
            return CheckOutcome(
                STRUCTURE_CHECK,
                STRUCTURE_CHECK,
                "",
                "the file can be read",
                "FAIL",
                0,
                0,
                delivery.structure_error,
            )
        return CheckOutcome(
            STRUCTURE_CHECK,
            STRUCTURE_CHECK,
            "",
            "the file can be read",
            "PASS",
            delivery.rows_read,
            0,
            f"{delivery.rows_read} data lines read",
        )
    return next((o for o in delivery.outcomes if o.name == check_name), None)
