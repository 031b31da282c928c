"""quality.source_health answers "which sources failed last night, and since when?"."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from tests.test_publish import working_warehouse
from warehouse.db import DataPaths
from warehouse.publish import publish

NIGHTS = [dt.datetime(2026, 11, d, 2, 0) for d in (18, 19, 20, 21)]


# the columns these tests fill (core.sources has the contract's meta.sources columns)
SOURCE_COLUMNS = "(source_id, title, partner, kind, synthetic)"


def check(conn, run: int, source: str, outcome: str, check_name: str = "structure") -> None:
    conn.execute(
        "INSERT INTO quality.check_results (run_id, checked_at, asset_key, check_name, suite, "
        "source_id, passed, outcome, severity, message) VALUES (?, ?, ?, ?, 'structure', ?, ?, "
        "?, ?, ?)",
        [f"run-{run}", NIGHTS[run], f"staging/{source}", check_name, source, outcome == "PASS",
         outcome, "ERROR" if outcome == "FAIL" else "WARN", f"{source}: {outcome.lower()}"],
    )  # fmt: skip


def delivery(conn, seq: int, source: str, file_name: str, state: str) -> None:
    conn.execute(
        "INSERT INTO meta.deliveries (delivery_id, source_id, delivery_seq, file_name, "
        "received_at, state) VALUES (?, ?, ?, ?, ?, ?)",
        [f"sha-{seq}", source, seq, file_name, NIGHTS[min(seq, 3)], state],
    )


def test_which_sources_failed_last_night_and_since_when(tmp_path: Path) -> None:
    paths = DataPaths(tmp_path)
    conn = working_warehouse(paths, 1)
    conn.executemany(
        f"INSERT INTO core.sources {SOURCE_COLUMNS} VALUES (?, ?, 'partner', 'csv', false)",
        [["kita", "Kita"], ["leavers", "Leavers"], ["api", "GENESIS table"], ["quiet", "Quiet"]],
    )
    # kita: fine, then a broken file two nights ago, broken again last night
    for run, outcome in enumerate(["PASS", "PASS", "FAIL", "FAIL"]):
        check(conn, run, "kita", outcome)
    # leavers: failed once, recovered
    for run, outcome in enumerate(["PASS", "FAIL", "PASS", "PASS"]):
        check(conn, run, "leavers", outcome)
    # api: failing every night, a warning on top last night
    for run in range(4):
        check(conn, run, "api", "FAIL", "fetch")
    check(conn, 3, "api", "WARNING", "year_over_year")
    delivery(conn, 1, "kita", "kita_2025.csv", "loaded")
    delivery(conn, 2, "kita", "kita_2026_kaputt.csv", "rejected")
    delivery(conn, 3, "leavers", "abgaenger.csv", "loaded_with_quarantine")
    publish(conn, paths, "run-3")
    conn.close()

    with duckdb.connect(str(paths.published_db), read_only=True) as published:
        rows = published.execute(
            "SELECT source_id, latest_outcome, failing_since, consecutive_failed_runs, "
            "runs_failed, latest_failing_checks, last_good_file, last_rejected_file "
            "FROM quality.source_health"
        ).fetchall()
        failed_last_night = published.execute(
            "SELECT source_id, failing_since FROM quality.source_health "
            "WHERE latest_outcome = 'FAIL' ORDER BY failing_since"
        ).fetchall()
    health = {r[0]: r[1:] for r in rows}
    assert health["kita"] == ("FAIL", NIGHTS[2], 2, 2, "structure", "kita_2025.csv",
                              "kita_2026_kaputt.csv")  # fmt: skip
    assert health["leavers"] == ("PASS", None, 0, 1, None, "abgaenger.csv", None)
    assert health["api"][:5] == ("FAIL", NIGHTS[0], 4, 4, "fetch")
    assert health["quiet"][0] == "NOT RUN"
    assert failed_last_night == [("api", NIGHTS[0]), ("kita", NIGHTS[2])]
    assert rows[0][0] in ("api", "kita")  # failing sources first


def test_a_night_without_a_new_delivery_does_not_make_a_failing_source_healthy(
    tmp_path: Path,
) -> None:
    """No new delivery: the checks are not evaluated — the last evaluated night still counts."""
    paths = DataPaths(tmp_path)
    conn = working_warehouse(paths, 1)
    conn.execute(
        f"INSERT INTO core.sources {SOURCE_COLUMNS} "
        "VALUES ('kita', 'Kita', 'partner', 'csv', false)"
    )
    check(conn, 0, "kita", "PASS")
    check(conn, 1, "kita", "FAIL")
    check(conn, 2, "kita", "NOT_EVALUATED")
    check(conn, 3, "kita", "NOT_EVALUATED")
    publish(conn, paths, "run-3")
    conn.close()
    with duckdb.connect(str(paths.published_db), read_only=True) as published:
        row = published.execute(
            "SELECT latest_outcome, latest_run_id, failing_since, consecutive_failed_runs "
            "FROM quality.source_health WHERE source_id = 'kita'"
        ).fetchone()
    assert row == ("FAIL", "run-1", NIGHTS[1], 1)
