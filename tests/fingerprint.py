"""Fingerprints of the published figures: one SHA-256 per table over its sorted rows.

`tests/snapshots/demo_fingerprint.json` holds the fingerprint of the demo publication. A change
of the delivery path (parsing, validation, SQL) must leave every published figure as it was;
the test compares table by table and names the tables that differ.

    python -m tests.fingerprint data/published/bildungsmonitor.duckdb   # print it
    UPDATE_SNAPSHOTS=1 ./go test tests/test_fingerprint.py             # run the demo, record it

Columns that change from run to run (run ids, timestamps) are left out. So are the targets
(`target_value`, `target_year`) and what follows from them alone (`distance_to_target`,
`target_reached`): a target is the initiative's decision in schemas/indicators.yaml, not a
figure of the data, and the backbone office changes it without touching the fingerprint;
tests/test_fingerprint.py checks those columns against the YAML instead. Numbers are written
with 9 significant digits, so that the order of a floating-point sum cannot change a
fingerprint, while every published figure still counts.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import duckdb

SNAPSHOT = Path(__file__).resolve().parent / "snapshots" / "demo_fingerprint.json"

TARGETS = ("target_value", "target_year")  # set in schemas/indicators.yaml
FROM_TARGETS = ("distance_to_target", "target_reached")  # value and target alone

# table -> columns left out (volatile: they name the run or the moment; or the targets)
TABLES: dict[str, tuple[str, ...]] = {
    "marts.regions": (),
    "marts.goals": (),
    "marts.indicators": TARGETS,
    "marts.measure_values": ("received_at",),
    "marts.indicator_values": (),
    "marts.indicator_trends": TARGETS + FROM_TARGETS,
    "marts.schools": (),
    "quality.findings": ("run_id",),
    "quality.quarantine": ("run_id",),
}


def _cell(value: object) -> str:
    if isinstance(value, float):
        return repr(float(f"{value:.9g}"))
    return repr(value)


def table_fingerprint(conn: duckdb.DuckDBPyConnection, table: str) -> dict[str, object]:
    schema, name = table.split(".")
    columns = [
        c
        for (c,) in conn.execute(
            "SELECT column_name FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? "
            "ORDER BY column_index",
            [schema, name],
        ).fetchall()
        if c not in TABLES[table]
    ]
    rows = conn.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
    lines = sorted("\t".join(_cell(v) for v in row) for row in rows)
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode("utf-8") + b"\n")
    return {"rows": len(lines), "columns": columns, "sha256": digest.hexdigest()}


def fingerprint(published: Path) -> dict[str, dict[str, object]]:
    with duckdb.connect(str(published), read_only=True) as conn:
        return {table: table_fingerprint(conn, table) for table in TABLES}


if __name__ == "__main__":
    print(json.dumps(fingerprint(Path(sys.argv[1])), indent=2))
