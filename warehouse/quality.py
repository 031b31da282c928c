"""Writing check outcomes to quality.check_results (every check of every run)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import duckdb

from expectations.outcomes import CheckOutcome
from warehouse.db import utc_now


@dataclass(frozen=True)
class CheckRow:
    asset_key: str
    outcome: CheckOutcome
    suite: str | None = None
    expectation_type: str | None = None
    source_id: str | None = None
    delivery_id: str | None = None
    message: str | None = None


def insert_check_rows(
    conn: duckdb.DuckDBPyConnection, run_id: str, rows: Iterable[CheckRow]
) -> None:
    now = utc_now()
    values = [
        [
            run_id,
            now,
            r.asset_key,
            r.outcome.name,
            r.suite or r.outcome.suite,
            r.expectation_type or r.outcome.expectation_type or None,
            r.source_id,
            r.delivery_id,
            r.outcome.passed,
            r.outcome.outcome,
            r.outcome.severity,
            r.outcome.element_count,
            r.outcome.unexpected_count,
            r.message or r.outcome.message,
            json.dumps(r.outcome.observed, ensure_ascii=False, default=str)
            if r.outcome.observed
            else None,
        ]
        for r in rows
    ]
    if values:
        conn.executemany(
            f"INSERT INTO quality.check_results VALUES ({', '.join('?' * 15)})",
            values,
        )


def record_check_outcomes(
    conn: duckdb.DuckDBPyConnection, run_id: str, asset_key: str, outcomes: list[CheckOutcome]
) -> None:
    insert_check_rows(conn, run_id, (CheckRow(asset_key, o) for o in outcomes))
