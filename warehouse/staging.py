"""Staging: parse and validate every new delivery of a source, load what passes.

For each delivery in state `received` (oldest first):

1. read it with the connector of the source's kind; a structural problem rejects it whole
   (check `structure`, FAIL, the message names file, line and column);
2. map it to canonical records (measures) or typed rows (reference datasets);
3. validate with the suites; records failing a record-level check go to quality.quarantine
   with their reason; a FAIL beyond a suite's `mostly` tolerance rejects the delivery;
4. load the accepted records into staging.records (every revision is kept: the delivery id is
   part of each record) or replace the reference table.

Every check ends in one `CheckOutcome` per delivery (or per run, for the checks across
deliveries); `StagingResult.outcomes()` is the one list that quality.check_results and the
Dagster asset checks render. A check that did not run — no new delivery, or a file that could
not be read — is NOT_EVALUATED, never passed or failed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb

from expectations.checks import (
    CROSS_CHECK_DESCRIPTIONS,
    CROSS_CHECK_DESCRIPTIONS_DE,
    CROSS_SUITE,
    STRUCTURE_CHECK,
    STRUCTURE_DESCRIPTION,
    STRUCTURE_DESCRIPTION_DE,
    SourceCheck,
    source_checks,
)
from expectations.cross_checks import CrossCheck, run_all
from expectations.gx_check import warm_up
from expectations.outcomes import CheckOutcome
from expectations.rules import literal
from expectations.validation import DeliveryValidation, validate_records, validate_rows
from schemas.tables import RECORD_COLUMNS
from sources.archive import RawArchive, move_out_of_inbox
from sources.delivery import ROW_ID, loadable_records, read_payload, records_relation
from sources.readers.base import DeliveryFormatError, require_data_lines
from sources.reference import reference_rows
from sources.registry import Source
from sources.scratch import drop, temp_name
from warehouse.db import DATASET_TABLES, DataPaths, utc_now
from warehouse.ingest import log_delivery
from warehouse.quality import CheckRow, insert_check_rows


@dataclass
class DeliveryResult:
    delivery_id: str
    file_name: str
    state: str  # loaded | loaded_with_quarantine | rejected
    rows_read: int = 0
    records_loaded: int = 0
    records_quarantined: int = 0
    message: str = ""
    message_de: str = ""  # for the partner (the .error.txt of a rejected file)
    outcomes: dict[str, CheckOutcome] = field(default_factory=dict)  # check name -> outcome

    @property
    def structure_error(self) -> str | None:
        structure = self.outcomes.get(STRUCTURE_CHECK)
        return structure.message if structure and structure.outcome == "FAIL" else None


@dataclass
class StagingResult:
    source_id: str
    checks: list[SourceCheck] = field(default_factory=list)
    deliveries: list[DeliveryResult] = field(default_factory=list)
    current_delivery: str | None = None  # file name of the newest loaded delivery
    cross_checks: dict[str, CheckOutcome] = field(default_factory=dict)  # on this run's data
    findings: dict[str, int] = field(default_factory=dict)  # cross check -> findings

    @property
    def rejected(self) -> list[DeliveryResult]:
        return [d for d in self.deliveries if d.state == "rejected"]

    def outcomes(
        self,
    ) -> list[tuple[SourceCheck, list[tuple[DeliveryResult | None, CheckOutcome]]]]:
        """Every check with its outcomes: one per new delivery (the cross checks: one for the
        run); a check with nothing to check has one NOT_EVALUATED outcome."""
        result = []
        for check in self.checks:
            if check.suite == CROSS_SUITE:
                outcome = self.cross_checks.get(check.name) or _not_evaluated(
                    check, *self._why_not_evaluated()
                )
                result.append((check, [(None, outcome)]))
            elif not self.deliveries:
                result.append((check, [(None, _not_evaluated(check, *self._why_not_evaluated()))]))
            else:
                result.append((check, [(d, d.outcomes[check.name]) for d in self.deliveries]))
        return result

    def _why_not_evaluated(self) -> tuple[str, str]:
        if not self.deliveries:
            current = self.current_delivery or "none"
            return (
                f"no new delivery; current data from {current}",
                f"keine neue Lieferung; aktuelle Daten aus {current}",
            )
        return (
            "no delivery of this run was loaded",
            "keine Lieferung dieses Laufs wurde geladen",
        )


def _not_evaluated(check: SourceCheck, why: str, why_de: str) -> CheckOutcome:
    return CheckOutcome.not_evaluated(
        check.name,
        check.suite,
        check.description,
        why,
        why_de,
        expectation_type=check.expectation_type,
        description_de=check.description_de,
        blocking=check.blocking,
    )


def school_regions(conn: duckdb.DuckDBPyConnection) -> dict[str, str]:
    rows = conn.execute(
        "SELECT school_number, region_code FROM staging.school_directory"
    ).fetchall()
    return dict(rows)


def stage_source(
    conn: duckdb.DuckDBPyConnection,
    source: Source,
    paths: DataPaths,
    run_id: str,
    log: Callable[[str], None] = lambda message: None,
    registry: dict[str, Source] | None = None,
) -> StagingResult:
    """Parse, validate and load every received delivery of `source`, then run the cross
    checks on what was loaded (`registry`: every source, which the check against other
    sources needs for their precedence)."""
    result = StagingResult(source.id, source_checks(source))
    archive = RawArchive(paths.root)
    pending = conn.execute(
        """SELECT delivery_id, file_name, origin FROM meta.deliveries
           WHERE source_id = ? AND state = 'received' ORDER BY delivery_seq""",
        [source.id],
    ).fetchall()
    if pending:
        warm_up()  # Great Expectations imports while the delivery is read
    for delivery_id, file_name, origin in pending:
        log(f"{source.id}: parsing {file_name} ({delivery_id[:12]}…)")
        # one transaction per delivery: its records, quarantine and state land together or
        # not at all (a crash leaves it 'received', to be staged again by the next run)
        conn.begin()
        try:
            delivery = _stage_delivery(
                conn, source, archive, delivery_id, file_name, run_id, result
            )
            _record_delivery(conn, source, delivery, run_id)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        result.deliveries.append(delivery)
        if origin.startswith("inbox:"):
            verdict = "rejected" if delivery.state == "rejected" else "processed"
            move_out_of_inbox(
                paths.inbox_for(source.id) / origin[len("inbox:") :],
                verdict,
                delivery.message,
                delivery.message_de,
            )
        log(f"{source.id}: {file_name} {delivery.state}: {delivery.message}")
    current = conn.execute(
        f"""SELECT d.file_name FROM meta.deliveries d {_LATEST_STATEMENT}
           WHERE d.source_id = ? AND d.state IN ('loaded', 'loaded_with_quarantine')
           ORDER BY {_STATED} DESC LIMIT 1""",
        [source.id],
    ).fetchone()
    result.current_delivery = current[0] if current else None
    if source.dataset == "measures" and any(d.state != "rejected" for d in result.deliveries):
        for check in cross_check(conn, source, run_id, registry):
            result.cross_checks[check.name] = _cross_outcome(check)
            result.findings[check.name] = check.count
    _record_check_results(conn, source, result, run_id)
    return result


# a delivery restated by a revert (meta.delivery_events) counts from its latest statement
_LATEST_STATEMENT = (
    "LEFT JOIN (SELECT delivery_id, source_id, max(event_seq) AS event_seq "
    "FROM meta.delivery_events GROUP BY ALL) e "
    "ON e.delivery_id = d.delivery_id AND e.source_id = d.source_id"
)
_STATED = "greatest(d.delivery_seq, coalesce(e.event_seq, 0))"


def _current_values(
    conn: duckdb.DuckDBPyConnection, source: Source, run_id: str, this_run: bool
) -> str:
    """A temporary relation of the source's current values from the deliveries this run loaded
    (`this_run`) or from those loaded before, with their file names. Several deliveries: the
    latest stating a key is current (a window over them, kept as a table); one delivery: its
    records as they are — its keys are unique, the suites saw to that — as a view, not a copy."""
    same = "=" if this_run else "<>"
    deliveries = conn.execute(
        f"""SELECT count(*) FROM meta.deliveries WHERE source_id = ?
            AND state IN ('loaded', 'loaded_with_quarantine')
            AND coalesce(parsed_run_id, '') {same} ?""",
        [source.id, run_id],
    ).fetchone()[0]
    table = temp_name("new_values" if this_run else "previous_values")
    # literals, not parameters: a view cannot hold parameters
    select = (
        "SELECT r.*, d.file_name FROM staging.records r JOIN meta.deliveries d "
        "ON d.delivery_id = r.delivery_id AND d.source_id = r.source_id "
        f"WHERE r.source_id = {literal(source.id)} "
        "AND d.state IN ('loaded', 'loaded_with_quarantine') "
        f"AND coalesce(d.parsed_run_id, '') {same} {literal(run_id)}"
    )
    if deliveries > 1:
        select = select.replace(" WHERE ", f" {_LATEST_STATEMENT} WHERE ", 1)
        select += (
            " QUALIFY row_number() OVER (PARTITION BY r.measure, r.region_code, r.school_year, "
            f"r.sex, r.nationality ORDER BY {_STATED} DESC) = 1"
        )
        conn.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {select}")
    else:
        conn.execute(f"CREATE OR REPLACE TEMP VIEW {table} AS {select}")
    return table


def _other_values(
    conn: duckdb.DuckDBPyConnection, source: Source, new: str, registry: dict[str, Source]
) -> str:
    """A view of the other sources' current values of the measures in `new` (each source's
    latest delivery of a key), with their standing and rank from the registry."""
    view = temp_name("other_values")
    # the measures as literals: the filter then reaches the scan, before the window
    measures = [m for (m,) in conn.execute(f"SELECT DISTINCT measure FROM {new}").fetchall()]
    listed = ", ".join(literal(m) for m in measures if m is not None) or "NULL"
    standings = (
        " UNION ALL ".join(
            f"SELECT {literal(s.id)} AS source_id, {literal(s.standing)} AS standing, "
            f"{int(s.rank)} AS rank"
            for s in registry.values()
        )
        or "SELECT NULL AS source_id, NULL AS standing, NULL::INTEGER AS rank WHERE FALSE"
    )
    conn.execute(
        f"""CREATE OR REPLACE TEMP VIEW {view} AS
        SELECT r.measure, r.region_code, r.school_year, r.start_year, r.sex, r.nationality,
            r.value, r.status, r.source_id, s.standing, s.rank, d.file_name
        FROM staging.records r
        JOIN meta.deliveries d ON d.delivery_id = r.delivery_id AND d.source_id = r.source_id
        LEFT JOIN ({standings}) s ON s.source_id = r.source_id
        {_LATEST_STATEMENT}
        WHERE r.source_id <> {literal(source.id)}
          AND d.state IN ('loaded', 'loaded_with_quarantine')
          AND r.measure IN ({listed})
        QUALIFY row_number() OVER (PARTITION BY r.source_id, r.measure, r.region_code,
            r.school_year, r.sex, r.nationality ORDER BY {_STATED} DESC) = 1"""
    )
    return view


def cross_check(
    conn: duckdb.DuckDBPyConnection,
    source: Source,
    run_id: str,
    registry: dict[str, Source] | None = None,
) -> list[CrossCheck]:
    """The checks across time, levels, deliveries and sources on what this run loaded for the
    source; their findings go to quality.findings. `registry`: every source, for the standing
    and rank of the others."""
    new = _current_values(conn, source, run_id, this_run=True)
    previous = _current_values(conn, source, run_id, this_run=False)
    others = _other_values(conn, source, new, registry or {source.id: source})
    try:
        checks = run_all(conn, source, new, previous, previous, others)
        for check in checks:
            conn.execute(
                f"INSERT INTO quality.findings BY NAME SELECT * EXCLUDE (ord, run_id), "
                f"? AS run_id FROM {check.findings} ORDER BY ord",
                [run_id],
            )
            drop(conn, check.findings)
    finally:
        drop(conn, others, new, previous)
    return checks


def _cross_outcome(check: CrossCheck) -> CheckOutcome:
    """A cross check as a CheckOutcome (WARNING at worst: never blocking)."""
    return CheckOutcome(
        name=check.name,
        suite=CROSS_SUITE,
        expectation_type=check.name,
        description=CROSS_CHECK_DESCRIPTIONS[check.name],
        outcome=check.outcome,
        element_count=check.count,
        unexpected_count=check.count,
        message=check.message,
        message_de=check.message_de,
        description_de=CROSS_CHECK_DESCRIPTIONS_DE[check.name],
    )


def _structure_outcome(error: str | None, error_de: str | None, rows_read: int) -> CheckOutcome:
    if error is not None:
        return CheckOutcome(
            STRUCTURE_CHECK,
            STRUCTURE_CHECK,
            "",
            STRUCTURE_DESCRIPTION,
            "FAIL",
            0,
            0,
            error,
            description_de=STRUCTURE_DESCRIPTION_DE,
            message_de=error_de or error,
            blocking=True,
        )
    return CheckOutcome(
        STRUCTURE_CHECK,
        STRUCTURE_CHECK,
        "",
        STRUCTURE_DESCRIPTION,
        "PASS",
        rows_read,
        0,
        f"{rows_read} data lines read",
        description_de=STRUCTURE_DESCRIPTION_DE,
        message_de=f"{rows_read} Datenzeilen gelesen",
        blocking=True,
    )


def _stage_delivery(conn, source, archive, delivery_id, file_name, run_id, result):
    temporary: list[str | None] = []
    try:
        try:
            raw = read_payload(source, archive.path_for(delivery_id), file_name, conn)
            temporary.append(raw.relation)
            require_data_lines(raw)
            if source.dataset == "measures":
                relation = records_relation(conn, raw, source, school_regions(conn))
            else:
                relation = reference_rows(conn, raw, source)
            temporary.append(relation)
        except DeliveryFormatError as exc:
            return _unreadable(result, delivery_id, file_name, exc)
        delivery = DeliveryResult(delivery_id, file_name, "loaded", rows_read=raw.row_count)
        delivery.outcomes[STRUCTURE_CHECK] = _structure_outcome(None, None, raw.row_count)
        # Great Expectations checks the decisive rows on its own thread while the records load;
        # its verdict is awaited before the delivery's transaction commits
        if source.dataset == "measures":
            validation = validate_records(
                conn, relation, source.expectations, source.id, run_id, defer_gx=True,
                coverage=source.coverage, territory=source.territory,
            )  # fmt: skip
        else:
            validation = validate_rows(
                conn, relation, source.expectations, source.id, run_id, defer_gx=True
            )
        try:
            delivery.outcomes.update({o.name: o for o in validation.outcomes})
            _write_quarantine(conn, source, delivery_id, file_name, relation, validation, run_id)
            delivery.records_quarantined = validation.quarantined
            if validation.blocking_failures:
                delivery.state = "rejected"
                delivery.message = "; ".join(o.message for o in validation.blocking_failures)
                delivery.message_de = "; ".join(
                    o.message_de or o.message for o in validation.blocking_failures
                )
            elif source.dataset == "measures":
                loadable = loadable_records(conn, relation, validation.quarantined_ids(), source)
                temporary.append(loadable)
                delivery.records_loaded = _load_records(conn, source, delivery_id, loadable)
            else:
                delivery.records_loaded = _replace_reference(
                    conn, source, delivery_id, relation, validation.quarantined_ids()
                )
            validation.confirm()
        finally:
            validation.close(conn)
        if delivery.state == "rejected":
            return delivery
    finally:
        # after an error the transaction is aborted; the rollback removes these tables
        with contextlib.suppress(duckdb.TransactionException):
            drop(conn, *temporary)
    if delivery.records_quarantined:
        delivery.state = "loaded_with_quarantine"
        delivery.message = (
            f"{delivery.records_loaded} records loaded, {delivery.records_quarantined} "
            "quarantined (see quality.quarantine)"
        )
    else:
        delivery.message = f"{delivery.records_loaded} records loaded"
    return delivery


def _unreadable(result, delivery_id, file_name, exc: DeliveryFormatError) -> DeliveryResult:
    delivery = DeliveryResult(
        delivery_id, file_name, "rejected", message=str(exc), message_de=exc.message_de
    )
    delivery.outcomes[STRUCTURE_CHECK] = _structure_outcome(str(exc), exc.message_de, 0)
    for check in result.checks:
        if check.name != STRUCTURE_CHECK and check.suite != CROSS_SUITE:
            delivery.outcomes[check.name] = _not_evaluated(
                check,
                f"{file_name} could not be read (see check 'structure')",
                f"{file_name} ist nicht lesbar (siehe Prüfung 'structure')",
            )
    return delivery


_RECORD_NAMES = ", ".join(
    c.name for c in RECORD_COLUMNS if c.name not in ("delivery_id", "source_id")
)


def _load_records(conn, source: Source, delivery_id: str, records: str) -> int:
    # a delivery re-staged after a crash replaces its own earlier rows
    conn.execute("DELETE FROM staging.records WHERE delivery_id = ?", [delivery_id])
    conn.execute(
        f"INSERT INTO staging.records BY NAME SELECT ? AS delivery_id, ? AS source_id, "
        f"{_RECORD_NAMES} FROM {records}",
        [delivery_id, source.id],
    )
    return conn.execute(f"SELECT count(*) FROM {records}").fetchone()[0]


def _replace_reference(conn, source: Source, delivery_id: str, rows: str, held: str) -> int:
    table = DATASET_TABLES[source.dataset]
    columns = [r[0] for r in conn.execute(f"DESCRIBE {table}").fetchall()]
    available = {r[0] for r in conn.execute(f"DESCRIBE {rows}").fetchall()}
    select = ", ".join(
        "? AS delivery_id" if c == "delivery_id" else (c if c in available else f"NULL AS {c}")
        for c in columns
    )
    conn.execute(f"DELETE FROM {table}")  # the newest delivery is the current one
    conn.execute(
        f"INSERT INTO {table} SELECT {select} FROM {rows} WHERE row_id NOT IN ({held}) "
        "ORDER BY row_id",
        [delivery_id],
    )
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


_QUARANTINE_FROM_ROW = (
    "source_line",
    "source_column",
    "measure",
    "region_code",
    "region_label",
    "school_year",
    "sex",
    "nationality",
    "value",
    "raw_value",
)


def _write_quarantine(
    conn: duckdb.DuckDBPyConnection,
    source: Source,
    delivery_id: str,
    file_name: str,
    relation: str,
    validation: DeliveryValidation,
    run_id: str,
) -> None:
    """The held-back rows with the reason of the first check they failed."""
    conn.execute("DELETE FROM quality.quarantine WHERE delivery_id = ?", [delivery_id])
    if validation.quarantine is None:
        return
    available = {name for name, *_ in conn.execute(f"DESCRIBE {relation}").fetchall()}
    columns = ", ".join(
        f"r.{c} AS {c}" if c in available else f"NULL AS {c}" for c in _QUARANTINE_FROM_ROW
    )
    conn.execute(
        f"""INSERT INTO quality.quarantine BY NAME
            SELECT ? AS run_id, ? AS source_id, ? AS delivery_id, ? AS file_name,
                   q.check_name, q.reason, {columns}
            FROM {validation.quarantine} q JOIN {relation} r ON r.{ROW_ID} = q.row_id
            ORDER BY q.row_id""",
        [run_id, source.id, delivery_id, file_name],
    )


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
    """One row per check and delivery (the cross checks: per run); NOT_EVALUATED where a check
    had nothing to check."""
    asset_key = f"staging/{source.id}"
    rows = []
    for _, pairs in result.outcomes():
        for delivery, outcome in pairs:
            rows.append(
                CheckRow(
                    asset_key,
                    outcome,
                    source_id=source.id,
                    delivery_id=delivery.delivery_id if delivery else None,
                    message=f"{delivery.file_name}: {outcome.message}" if delivery else None,
                )
            )
    insert_check_rows(conn, run_id, rows)
