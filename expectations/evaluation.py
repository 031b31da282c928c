"""Evaluate a suite over a DuckDB relation: one outcome per expectation, failing rows in SQL.

The relation (a table or view with a unique integer column `row_id`) is never loaded into
Python. Counts come from one aggregate per suite; the rows that fail each expectation are
collected in a temporary table `(row_id, position)`, from which the quarantine and the
screener's per-line findings are read. Only the rows whose reason is shown — the first
examples of a check, the quarantined rows — are fetched, in batches, to fill the suite's
reason templates.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import duckdb

from expectations.outcomes import MAX_EXAMPLES, CheckOutcome
from expectations.rules import PANDAS_DTYPES, Rule, quote, rule, same_keys, template_fields
from expectations.suites import ROW_ID, Expectation, Suite
from sources.scratch import temp_name

BATCH = 50_000


def fill(template: str, row: dict[str, Any]) -> str:
    """A reason template filled from a row; a template that does not fit stays as it is."""
    clean = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
    try:
        return template.format(**clean)
    except (KeyError, IndexError, ValueError, TypeError):
        return template


def fill_de(template: str, row: dict[str, Any]) -> str:
    """The German reason: a field with a German twin (`problem` / `problem_de`) is filled
    with the German text."""
    german = {name[:-3]: text for name, text in row.items() if name.endswith("_de") and text}
    return fill(template, {**row, **german})


@dataclass
class Evaluation:
    """A suite evaluated over one relation."""

    suite: Suite
    relation: str
    rows: int  # rows of the relation
    outcomes: list[CheckOutcome]
    rules: list[Rule]
    unexpected: str  # temp table (row_id, position): every failing row of every expectation
    failing_positions: list[int] = field(default_factory=list)  # non-PASS, with rows

    def outcome(self, position: int) -> CheckOutcome:
        return self.outcomes[position]


def _columns(conn: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    return {name: str(kind) for name, kind, *_ in conn.execute(f"DESCRIBE {relation}").fetchall()}


def _success(considered: int, unexpected: int, mostly: float) -> bool:
    """Great Expectations' rule: nothing to consider passes; else the share that passed."""
    if considered == 0:
        return True
    return (float(considered) - float(unexpected)) / float(considered) >= mostly


def evaluate(
    conn: duckdb.DuckDBPyConnection,
    relation: str,
    suite: Suite,
    parameters: dict[str, Any],
) -> Evaluation:
    """Every expectation of `suite` over `relation`."""
    columns = _columns(conn, relation)
    tables = _parameter_tables(conn, parameters)
    rules = [rule(e, parameters, tables) for e in suite.expectations]
    unexpected = temp_name("unexpected")
    conn.execute(f"CREATE OR REPLACE TEMP TABLE {unexpected} (row_id BIGINT, position INTEGER)")
    rows = conn.execute(f"SELECT count(*) FROM {relation}").fetchone()[0]
    runnable = [r for r in rules if _missing_columns(r.expectation, columns) == []]
    # one scan for the counts of every expectation
    counts: dict[int, tuple[int, int]] = {}
    if runnable:
        selects = []
        for r in runnable:
            selects.append(f"count(*) FILTER (WHERE {r.domain})")
            selects.append(f"count(*) FILTER (WHERE ({r.domain}) AND ({r.considered}))")
        values = conn.execute(f"SELECT {', '.join(selects)} FROM {relation}").fetchone()
        for i, r in enumerate(runnable):
            counts[r.expectation.position] = (int(values[2 * i]), int(values[2 * i + 1]))
    for r in runnable:
        if r.kind == "map":
            conn.execute(
                f"INSERT INTO {unexpected} SELECT {ROW_ID}, {r.expectation.position} "
                f"FROM {relation} WHERE ({r.domain}) AND ({r.considered}) AND ({r.unexpected})"
            )
        elif r.kind == "unique":
            # every row of a repeated key (NULLs equal, as GX groups them): a hash aggregate
            # and a semi join, far cheaper than a window over the whole relation. The keys
            # seen twice are found by one 64-bit hash of the key first (grouping one number
            # costs half of grouping the text columns); the few candidates are then grouped
            # on the key itself, which also rules out a collision.
            keys = ", ".join(quote(c) for c in r.partition)
            considered = f"FROM {relation} WHERE ({r.domain}) AND ({r.considered})"
            repeated = (
                f"SELECT h FROM (SELECT hash({keys}) AS h {considered}) "
                "GROUP BY h HAVING count(*) > 1"
            )
            conn.execute(
                f"INSERT INTO {unexpected} SELECT r.{ROW_ID}, {r.expectation.position} "
                f"FROM (SELECT * {considered}) r SEMI JOIN (SELECT {keys} {considered} "
                f"AND hash({keys}) IN ({repeated}) GROUP BY ALL HAVING count(*) > 1) d "
                f"ON {same_keys(r.partition, 'r', 'd')}"
            )
    failing = dict(
        conn.execute(f"SELECT position, count(*) FROM {unexpected} GROUP BY position").fetchall()
    )
    evaluation = Evaluation(suite, relation, rows, [], rules, unexpected)
    for r in rules:
        e = r.expectation
        missing = _missing_columns(e, columns)
        if missing:
            evaluation.outcomes.append(_unevaluable(e, rows, missing))
            continue
        if r.kind == "aggregate":
            evaluation.outcomes.append(_type_outcome(e, rows, columns))
            continue
        element_count, considered = counts[e.position]
        n = int(failing.get(e.position, 0))
        success = _success(considered, n, e.mostly)
        if n or not success:
            status = "FAIL" if not success and e.blocking else "WARNING"
        else:
            status = "PASS"
        outcome = CheckOutcome(
            name=e.name,
            suite=e.suite,
            expectation_type=e.type,
            description=e.description,
            outcome=status,
            element_count=element_count,
            unexpected_count=n,
            message="",
            description_de=e.description_de,
            blocking=e.blocking,
            rows_unexpected=n,
        )
        if n:
            evaluation.failing_positions.append(e.position)
            examples = list(_example_rows(conn, evaluation, e.position))
            outcome.examples = list(dict.fromkeys(fill(e.reason, row) for row in examples))[
                :MAX_EXAMPLES
            ]
            outcome.examples_de = list(dict.fromkeys(fill_de(e.reason_de, r) for r in examples))[
                :MAX_EXAMPLES
            ]
            percent = 100.0 * n / (considered if e.type not in _NULL_TYPES else element_count)
            outcome.observed = {
                "unexpected_percent": percent,
                "partial_unexpected_list": [_shown(e, row) for row in examples[:MAX_EXAMPLES]],
            }
        outcome.message, outcome.message_de = _messages(outcome, e)
        evaluation.outcomes.append(outcome)
    return evaluation


_NULL_TYPES = ("expect_column_values_to_be_null", "expect_column_values_to_not_be_null")


def _parameter_tables(
    conn: duckdb.DuckDBPyConnection, parameters: dict[str, Any]
) -> dict[str, str]:
    """Every list parameter as a temporary table `value` (replaced on each evaluation)."""
    tables = {}
    for name, values in parameters.items():
        if isinstance(values, list | tuple | set):
            table = f"bm_parameter_{name}"
            conn.execute(f"CREATE OR REPLACE TEMP TABLE {table} (value VARCHAR)")
            if values:
                conn.execute(f"INSERT INTO {table} SELECT unnest(?::VARCHAR[])", [list(values)])
            tables[name] = table
    return tables


_EXAMPLE_ROWS = 200  # rows read to find MAX_EXAMPLES distinct reasons


def _missing_columns(e: Expectation, columns: dict[str, str]) -> list[str]:
    return [c for c in e.columns() if c not in columns]


def _example_rows(
    conn: duckdb.DuckDBPyConnection, evaluation: Evaluation, position: int
) -> Iterator[dict[str, Any]]:
    cursor = conn.execute(
        f"SELECT r.* FROM {evaluation.relation} r JOIN ("
        f"SELECT row_id FROM {evaluation.unexpected} WHERE position = ? "
        f"ORDER BY row_id LIMIT {_EXAMPLE_ROWS}) u USING ({ROW_ID}) ORDER BY r.{ROW_ID}",
        [position],
    )
    names = [d[0] for d in cursor.description]
    for values in cursor.fetchall():
        yield dict(zip(names, values, strict=True))


def _shown(e: Expectation, row: dict[str, Any]) -> Any:
    columns = e.columns()
    if len(columns) == 1:
        return row.get(columns[0])
    return {c: row.get(c) for c in columns}


def _de(count: int | None) -> str:
    """A count as German text: 1.234."""
    return f"{count or 0:,}".replace(",", ".")


def _messages(outcome: CheckOutcome, e: Expectation) -> tuple[str, str]:
    if outcome.outcome == "PASS" and not outcome.element_count:
        return f"{e.description}: nothing to check", f"{e.description_de}: nichts zu prüfen"
    if outcome.outcome == "PASS":
        return (
            f"{e.description}: all {outcome.element_count} passed",
            f"{e.description_de}: alle {_de(outcome.element_count)} in Ordnung",
        )
    n, total = outcome.unexpected_count, outcome.element_count
    en = f"{e.description}: {n} of {total} failed"
    de = f"{e.description_de}: {_de(n)} von {_de(total)} nicht erfüllt"
    if outcome.examples:
        en += " — e.g. " + "; ".join(outcome.examples)
    if outcome.examples_de:
        de += " — z. B. " + "; ".join(outcome.examples_de)
    return en, de


def _type_outcome(e: Expectation, rows: int, columns: dict[str, str]) -> CheckOutcome:
    kind = columns[e.kwargs["column"]]
    observed = PANDAS_DTYPES.get(kind, kind.lower())
    ok = observed in e.kwargs["type_list"]
    status = "PASS" if ok else ("FAIL" if e.blocking else "WARNING")
    outcome = CheckOutcome(
        name=e.name,
        suite=e.suite,
        expectation_type=e.type,
        description=e.description,
        outcome=status,
        element_count=rows,
        unexpected_count=0,
        message="",
        observed={"observed_value": observed},
        description_de=e.description_de,
        blocking=e.blocking,
    )
    if ok:
        outcome.message, outcome.message_de = _messages(outcome, e)
    else:
        outcome.message = f"{e.description}: observed {observed!r}"
        outcome.message_de = f"{e.description_de}: beobachtet {observed!r}"
    return outcome


def _unevaluable(e: Expectation, rows: int, missing: list[str]) -> CheckOutcome:
    problem = f"the column(s) {', '.join(missing)} are missing"
    return CheckOutcome(
        name=e.name,
        suite=e.suite,
        expectation_type=e.type,
        description=e.description,
        outcome="FAIL" if e.blocking else "WARNING",
        element_count=rows,
        unexpected_count=0,
        message=f"{e.description}: could not be evaluated: {problem}",
        message_de=f"{e.description_de}: konnte nicht geprüft werden: es fehlen die Spalten "
        f"{', '.join(missing)}",
        description_de=e.description_de,
        blocking=e.blocking,
    )


def failing_rows(
    conn: duckdb.DuckDBPyConnection,
    evaluation: Evaluation,
    position: int,
    limit: int | None = None,
) -> Iterator[tuple[dict[str, Any], str, str]]:
    """(row, reason, German reason) of the rows failing one expectation, in row order."""
    e = evaluation.suite.expectations[position]
    fields = template_fields(e.reason) | template_fields(e.reason_de)
    fields |= {ROW_ID, "problem", "problem_de", "source_line", *(f"{f}_de" for f in fields)}
    columns = _columns(conn, evaluation.relation)
    wanted = ", ".join(f"r.{quote(c)}" for c in columns if c in fields or c == ROW_ID)
    cursor = conn.execute(
        f"SELECT {wanted} FROM {evaluation.relation} r JOIN {evaluation.unexpected} u "
        f"ON u.row_id = r.{ROW_ID} AND u.position = ? ORDER BY r.{ROW_ID}"
        + (f" LIMIT {int(limit)}" if limit is not None else ""),
        [position],
    )
    names = [d[0] for d in cursor.description]
    while batch := cursor.fetchmany(BATCH):
        for values in batch:
            row = dict(zip(names, values, strict=True))
            yield row, fill(e.reason, row), fill_de(e.reason_de, row)


def present_values(conn: duckdb.DuckDBPyConnection, relation: str, column: str) -> set[str]:
    """The distinct non-null values of a column (to cut a suite's value sets to them)."""
    if column not in _columns(conn, relation):
        return set()
    return {
        v
        for (v,) in conn.execute(
            f"SELECT DISTINCT {quote(column)} FROM {relation} WHERE {quote(column)} IS NOT NULL"
        ).fetchall()
    }
