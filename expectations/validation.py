"""Validate one delivery: which suites run on which relation, and which rows to quarantine.

Suites declare in their `meta.applies_to` the relation they are written for:

    records  canonical records, one value per row (canonical_records.json, every measure source)
    wide     one row per region, school year and subgroup with one column per measure, so
             that a suite can compare measures of one line (numerator ≤ denominator)
    rows     the rows of a reference dataset (school directory, social index) or a mart

A failing wide row quarantines every record that went into it. A record failing several
checks is quarantined with the reason of the first (records suite first, then the dataset's
suites, each in its order). Everything happens in DuckDB over the delivery's relation; the
reasons are filled in for the quarantined rows only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from typing import Any

import duckdb

from expectations.evaluation import BATCH, Evaluation, evaluate, fill, fill_de, present_values
from expectations.outcomes import CheckOutcome
from expectations.rules import literal, quote, template_fields
from expectations.suites import ROW_ID, load_suite
from schemas.catalogue import load_catalogue
from schemas.regions import (
    coverage_label,
    covered_region_codes,
    official_region_codes,
    territory,
)
from schemas.tables import school_year_of_date
from sources.scratch import drop, temp_name

RECORD_SUITE = "canonical_records"
WIDE_KEY = ("region_code", "school_year", "sex", "nationality", "school_number")


@dataclass
class Evaluated:
    """One suite's evaluation within a delivery; `wide_map` (record row id -> wide row id)
    when the suite ran on the wide relation."""

    evaluation: Evaluation
    wide_map: str | None = None


@dataclass
class DeliveryValidation:
    relation: str  # the validated records or rows (with row_id)
    evaluated: list[Evaluated] = field(default_factory=list)
    quarantine: str | None = None  # temp table: row_id, check_name, reason, reason_de
    quarantined: int = 0
    temporary: list[str] = field(default_factory=list)
    # Great Expectations' validations still running on its thread (validate_*(defer_gx=True))
    gx_pending: list[Future[None]] = field(default_factory=list)

    @property
    def outcomes(self) -> list[CheckOutcome]:
        return [o for e in self.evaluated for o in e.evaluation.outcomes]

    @property
    def blocking_failures(self) -> list[CheckOutcome]:
        return [o for o in self.outcomes if o.outcome == "FAIL"]

    def quarantined_ids(self) -> str:
        """SQL: the row ids held back."""
        if self.quarantine is None:
            return "SELECT NULL::BIGINT AS row_id WHERE FALSE"
        return f"SELECT row_id FROM {self.quarantine}"

    def confirm(self) -> None:
        """Wait for Great Expectations; raise ExpectationMismatch if it disagreed with the SQL
        verdicts (see expectations/gx_check.py)."""
        pending, self.gx_pending = self.gx_pending, []
        for future in pending:
            future.result()

    def close(self, conn: duckdb.DuckDBPyConnection) -> None:
        """Drop the temporary tables (after Great Expectations finished, without raising:
        a caller that did not confirm() is already failing for another reason)."""
        wait(self.gx_pending)
        drop(conn, self.quarantine, *self.temporary)
        for item in self.evaluated:
            drop(conn, item.evaluation.unexpected)


def suite_parameters(
    conn: duckdb.DuckDBPyConnection, relation: str, coverage: str | None = None
) -> dict[str, Any]:
    """Suite parameters. The value sets are cut to the values present: "x in known" is the
    same test as "x in (known ∩ present)", and a short list keeps the SQL and GX small.
    `coverage`: the source's (registry), whose keys `covered_region_codes` are."""
    present = present_values(conn, relation, "region_code")
    known = present & official_region_codes()
    # an unknown key is known_region_keys' finding, not this one's too
    covered = present - (known - covered_region_codes(coverage))
    measures = present_values(conn, relation, "measure") & set(load_catalogue().measures)
    return {
        "known_region_codes": sorted(known) or ["-"],
        "covered_region_codes": sorted(covered) or ["-"],
        "known_measures": sorted(measures) or ["-"],
        "latest_start_year": school_year_of_date(dt.date.today()),
    }


def _german_date(day: dt.date) -> str:
    return day.strftime("%d.%m.%Y")


def outside_validity(conn: duckdb.DuckDBPyConnection, records: str, today: bool = False) -> str:
    """A temp table (region_code, start_year, reason, reason_de): the keys of `records` used in
    a school year in which they were not valid (schemas/territory.yaml), one row per pair.
    `today`: the source recalculated its series on today's territory, so today's keys stand
    for every year (a key created by a change is no error before it); a dissolved key still is
    after its end."""
    table = temp_name("outside_validity")
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} (region_code VARCHAR, start_year INTEGER, "
        "reason VARCHAR, reason_de VARCHAR)"
    )
    known = territory()
    dated = sorted(present_values(conn, records, "region_code") & set(known.validity))
    if not dated:
        return table
    pairs = conn.execute(
        f"SELECT DISTINCT region_code, start_year FROM {records} "
        "WHERE region_code IN (SELECT unnest(?)) AND start_year IS NOT NULL",
        [dated],
    ).fetchall()
    rows = []
    for code, start_year in pairs:
        validity = known.outside_validity(code, start_year)
        if validity is not None and today:
            validity = validity.model_copy(update={"valid_from": None})
            validity = None if validity.valid_in(start_year) else validity
        if validity is None:
            continue
        year = f"{start_year}/{(start_year + 1) % 100:02d}"
        bounds, bounds_de = [], []
        if validity.valid_from:
            bounds.append(f"from {validity.valid_from}")
            bounds_de.append(f"ab {_german_date(validity.valid_from)}")
        if validity.valid_until:
            bounds.append(f"until {validity.valid_until}")
            bounds_de.append(f"bis {_german_date(validity.valid_until)}")
        then = ", ".join(s.code for s in validity.successors if s.code != code)
        rows.append(
            (
                code,
                start_year,
                f"region key {code} ({validity.name}) is not valid in school year {year}: "
                f"valid {' '.join(bounds)}" + (f", then {then}" if then else ""),
                f"Gebietsschlüssel {code} ({validity.name}) gilt nicht im Schuljahr {year}: "
                f"gültig {' '.join(bounds_de)}" + (f", danach {then}" if then else ""),
            )
        )
    if rows:
        conn.executemany(f"INSERT INTO {table} VALUES (?, ?, ?, ?)", rows)
    return table


def _run(
    conn: duckdb.DuckDBPyConnection,
    relation: str,
    suite_name: str,
    parameters: dict[str, Any],
    dataset: str,
    run_name: str | None,
    gx: bool,
    result: DeliveryValidation,
) -> Evaluation:
    evaluation = evaluate(conn, relation, load_suite(suite_name), parameters)
    if gx:
        from expectations.gx_check import submit_projection

        result.gx_pending.append(submit_projection(conn, evaluation, parameters, dataset, run_name))
    return evaluation


def wide_relation(
    conn: duckdb.DuckDBPyConnection, records: str, extra_columns: set[str]
) -> tuple[str, str]:
    """Records -> (wide table, SQL mapping record row id -> wide row id). A wide row's id is
    the smallest row id of its key (so wide rows follow the records' order); each measure of
    `extra_columns` is a column, holding its first non-missing value; `source_line` is the
    smallest line of the key. The map is a join evaluated where it is used — with the few
    failing wide rows."""
    wide = temp_name("wide")
    # only the measures the wide suites read (a table of 24 measures pivoted all of them)
    measures = sorted(present_values(conn, records, "measure") & extra_columns)
    columns = [
        f"arg_min(value, {ROW_ID}) FILTER (WHERE measure = '{m}' AND value IS NOT NULL) "
        f"AS {quote(m)}"
        for m in measures
    ]
    columns += [f"NULL::DOUBLE AS {quote(c)}" for c in sorted(extra_columns - set(measures))]
    key = ", ".join(WIDE_KEY)
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE {wide} AS SELECT min({ROW_ID}) AS {ROW_ID}, {key}, "
        f"{', '.join(columns)}, min(source_line) AS source_line FROM {records} "
        f"WHERE measure IS NOT NULL AND region_code IS NOT NULL AND school_year IS NOT NULL "
        f"GROUP BY {key}"
    )
    same = " AND ".join(f"r.{c} IS NOT DISTINCT FROM w.{c}" for c in WIDE_KEY)
    wide_map = (
        f"(SELECT r.{ROW_ID} AS record_row_id, w.{ROW_ID} AS wide_id FROM {records} r "
        f"JOIN {wide} w ON {same} WHERE r.measure IS NOT NULL)"
    )
    return wide, wide_map


def validate_records(
    conn: duckdb.DuckDBPyConnection,
    records: str,
    suites: tuple[str, ...],
    dataset: str = "frame",
    run_name: str | None = None,
    gx: bool = True,
    defer_gx: bool = False,
    coverage: str | None = None,
    territory: str = "of_each_year",
) -> DeliveryValidation:
    """Canonical records (a relation with `row_id` and `unit`) against the record suite and
    `suites`. With `gx`, Great Expectations validates the decisive rows of every suite — with
    `defer_gx` still running when this returns, until the result's confirm(). `coverage`: the
    source's (a record outside it is quarantined); `territory`: the territorial state of its
    keys (registry: `of_each_year` or `today`)."""
    # the coverage as a column: the reasons of records outside it name it; a key used outside
    # its validity: why, from a small table of the (key, year) pairs concerned — except a '-'
    # (exactly nothing), as official tables list a dissolved Kreis in the years after its end
    outside = outside_validity(conn, records, today=territory == "today")
    labelled = temp_name("records")
    coverage_column = f"{literal(coverage_label(coverage))} AS coverage"
    if conn.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {outside})").fetchone()[0]:
        # (usually: every key valid in its year) the view then joins nothing, for each of the
        # suites' passes over millions of records
        conn.execute(
            f"CREATE OR REPLACE TEMP VIEW {labelled} AS SELECT r.*, {coverage_column}, "
            "NULL::VARCHAR AS key_outside_validity, NULL::VARCHAR AS key_outside_validity_de "
            f"FROM {records} r"
        )
    else:
        conn.execute(
            f"CREATE OR REPLACE TEMP VIEW {labelled} AS SELECT r.*, {coverage_column}, "
            "o.reason AS key_outside_validity, o.reason_de AS key_outside_validity_de "
            f"FROM {records} r LEFT JOIN {outside} o "
            "ON o.region_code = r.region_code AND o.start_year = r.start_year "
            "AND coalesce(trim(r.raw_value), '') <> '-'"
        )
    records = labelled
    result = DeliveryValidation(records, temporary=[labelled, outside])
    params = suite_parameters(conn, records, coverage)
    evaluation = _run(conn, records, RECORD_SUITE, params, dataset, run_name, gx, result)
    result.evaluated.append(Evaluated(evaluation))
    wide_suites = [s for s in suites if load_suite(s).applies_to == "wide"]
    if wide_suites:
        needed = set().union(*(load_suite(s).columns() for s in wide_suites))
        wide, wide_map = wide_relation(conn, records, needed)
        result.temporary.append(wide)
        for suite in wide_suites:
            evaluation = _run(conn, wide, suite, params, f"{dataset}_wide", run_name, gx, result)
            _spread_counts(conn, evaluation, wide_map)
            result.evaluated.append(Evaluated(evaluation, wide_map))
    return _finish(conn, result, defer_gx)


def validate_rows(
    conn: duckdb.DuckDBPyConnection,
    rows: str,
    suites: tuple[str, ...],
    dataset: str = "frame",
    run_name: str | None = None,
    gx: bool = True,
    defer_gx: bool = False,
) -> DeliveryValidation:
    """The rows of a reference dataset or a mart against `suites` (`gx`, `defer_gx`: as
    validate_records)."""
    result = DeliveryValidation(rows)
    params = suite_parameters(conn, rows)
    for suite in suites:
        evaluation = _run(conn, rows, suite, params, dataset, run_name, gx, result)
        result.evaluated.append(Evaluated(evaluation))
    return _finish(conn, result, defer_gx)


def _finish(
    conn: duckdb.DuckDBPyConnection, result: DeliveryValidation, defer_gx: bool
) -> DeliveryValidation:
    try:
        _quarantine(conn, result)
        if not defer_gx:
            result.confirm()
    except BaseException:
        result.close(conn)
        raise
    return result


def _spread_counts(conn: duckdb.DuckDBPyConnection, evaluation: Evaluation, wide_map: str) -> None:
    """A wide check's `rows_unexpected`: the records of its failing wide rows."""
    counts = dict(
        conn.execute(
            f"SELECT u.position, count(*) FROM {evaluation.unexpected} u "
            f"JOIN {wide_map} m ON m.wide_id = u.row_id GROUP BY u.position"
        ).fetchall()
    )
    for outcome, expectation in zip(
        evaluation.outcomes, evaluation.suite.expectations, strict=True
    ):
        outcome.rows_unexpected = int(counts.get(expectation.position, 0))


def _hits(item: Evaluated, order: int) -> str | None:
    """SQL: (row_id, ord, source_row) for every failing row of a non-passing check."""
    evaluation = item.evaluation
    positions = [
        p for p in evaluation.failing_positions if evaluation.outcomes[p].outcome != "PASS"
    ]
    if not positions:
        return None
    listed = ", ".join(str(p) for p in positions)
    ord_ = f"{order} * 10000 + u.position"
    if item.wide_map is None:
        return (
            f"SELECT u.row_id, {ord_} AS ord, u.row_id AS source_row "
            f"FROM {evaluation.unexpected} u WHERE u.position IN ({listed})"
        )
    return (
        f"SELECT m.record_row_id AS row_id, {ord_} AS ord, u.row_id AS source_row "
        f"FROM {evaluation.unexpected} u JOIN {item.wide_map} m ON m.wide_id = u.row_id "
        f"WHERE u.position IN ({listed})"
    )


def _quarantine(conn: duckdb.DuckDBPyConnection, result: DeliveryValidation) -> None:
    """The first failing check of every failing row, with its reason filled in."""
    parts = [h for i, item in enumerate(result.evaluated) if (h := _hits(item, i))]
    if not parts:
        return
    first = temp_name("first_failure")
    result.temporary.append(first)
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE {first} AS SELECT row_id, min(ord) AS ord, "
        f"arg_min(source_row, ord) AS source_row FROM ({' UNION ALL '.join(parts)}) "
        f"GROUP BY row_id"
    )
    quarantine = temp_name("quarantine")
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE {quarantine} (row_id BIGINT, check_name VARCHAR, "
        f"reason VARCHAR, reason_de VARCHAR)"
    )
    result.quarantine = quarantine
    orders = [o for (o,) in conn.execute(f"SELECT DISTINCT ord FROM {first} ORDER BY 1").fetchall()]
    for order in orders:
        item = result.evaluated[order // 10000]
        evaluation = item.evaluation
        expectation = evaluation.suite.expectations[order % 10000]
        rows = _source_rows(
            conn,
            evaluation.relation,
            f"SELECT row_id, source_row FROM {first} WHERE ord = {order}",
            template_fields(expectation.reason) | template_fields(expectation.reason_de),
        )
        batch: list[tuple[int, str, str, str]] = []
        for row_id, row in rows:
            batch.append(
                (
                    row_id,
                    expectation.name,
                    fill(expectation.reason, row),
                    fill_de(expectation.reason_de, row),
                )
            )
            if len(batch) >= BATCH:
                _insert(conn, quarantine, batch)
                batch = []
        _insert(conn, quarantine, batch)
    result.quarantined = conn.execute(f"SELECT count(*) FROM {quarantine}").fetchone()[0]


def _source_rows(
    conn: duckdb.DuckDBPyConnection, relation: str, selection: str, fields: set[str]
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(target row id, the source row's fields) for `selection` (row_id, source_row)."""
    available = {name for name, *_ in conn.execute(f"DESCRIBE {relation}").fetchall()}
    # a field's German twin (problem_de) fills the German reason
    wanted = {*fields, *(f"{f}_de" for f in fields), "problem", "problem_de", "source_line"}
    wanted = sorted(wanted & available)
    select = ", ".join(f"r.{quote(c)}" for c in wanted)
    cursor = conn.execute(
        f"SELECT s.row_id{', ' + select if select else ''} FROM ({selection}) s "
        f"JOIN {relation} r ON r.{ROW_ID} = s.source_row ORDER BY s.row_id"
    )
    while batch := cursor.fetchmany(BATCH):
        for values in batch:
            yield int(values[0]), dict(zip(wanted, values[1:], strict=True))


def _insert(conn: duckdb.DuckDBPyConnection, table: str, rows: list[tuple]) -> None:
    if rows:
        conn.executemany(f"INSERT INTO {table} VALUES (?, ?, ?, ?)", rows)


def failing_records(
    conn: duckdb.DuckDBPyConnection,
    validation: DeliveryValidation,
    check_name: str,
    words: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Iterator[tuple[dict[str, Any], str, str]]:
    """(record row, reason, German reason) of the records failing one check, in the order a
    partner reads them: by record (a wide check: by wide row, then record). Streamed, so the
    caller may stop early. For the screener: `words` turns a row's values into the partner's
    words (column headers, subgroups as the file writes them) for the German reason."""
    for item in validation.evaluated:
        evaluation = item.evaluation
        for expectation in evaluation.suite.expectations:
            if expectation.name != check_name:
                continue
            fields = template_fields(expectation.reason) | template_fields(expectation.reason_de)
            if item.wide_map is None:
                source, join, order = "r", "", "r.row_id"
            else:
                source = "w"
                join = (
                    f"JOIN {item.wide_map} m ON m.wide_id = u.row_id "
                    f"JOIN {evaluation.relation} w ON w.{ROW_ID} = u.row_id "
                )
                order = "u.row_id, r.row_id"
            available = {n for n, *_ in conn.execute(f"DESCRIBE {evaluation.relation}").fetchall()}
            # a field's German twin (problem_de) fills the German reason
            wanted = {*fields, *(f"{f}_de" for f in fields), "problem", "problem_de"}
            wanted = sorted((wanted | {"source_line"}) & available)
            template_columns = ", ".join(
                f"{source}.{quote(c)} AS {quote('t__' + c)}" for c in wanted
            )
            record_id = "u.row_id" if item.wide_map is None else "m.record_row_id"
            cursor = conn.execute(
                f"SELECT r.*{', ' + template_columns if template_columns else ''} "
                f"FROM {evaluation.unexpected} u {join}"
                f"JOIN {validation.relation} r ON r.{ROW_ID} = {record_id} "
                f"WHERE u.position = {expectation.position} ORDER BY {order}"
            )
            names = [d[0] for d in cursor.description]
            while batch := cursor.fetchmany(1000):
                for values in batch:
                    everything = dict(zip(names, values, strict=True))
                    record = {k: v for k, v in everything.items() if not k.startswith("t__")}
                    source_row = {k[3:]: v for k, v in everything.items() if k.startswith("t__")}
                    yield (
                        record,
                        fill(expectation.reason, source_row),
                        fill_de(expectation.reason_de, words(source_row) if words else source_row),
                    )
            return
