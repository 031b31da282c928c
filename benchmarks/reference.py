"""The reference run: benchmarks/reference.sql with DuckDB alone, in its own process.

    python -m benchmarks.reference DB SUMMARY.json NAME=VALUE …

Every `${NAME}` of the script is replaced by VALUE as an SQL literal (a string, or a number
when VALUE is all digits); the database DB is created fresh; SUMMARY.json receives what the
checks found, the row counts and the time of each statement. This module imports nothing but
the standard library and duckdb, so that the process measures DuckDB and nothing else.
"""

from __future__ import annotations

import json
import re
import resource
import sys
import time
from pathlib import Path

import duckdb

SQL = Path(__file__).resolve().with_name("reference.sql")
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


def render(sql: str, values: dict[str, str]) -> str:
    """The script with its placeholders replaced by SQL literals."""

    def literal(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(f"{SQL.name}: no value given for ${{{name}}}")
        value = values[name]
        return value if value.isdigit() else "'" + value.replace("'", "''") + "'"

    return PLACEHOLDER.sub(literal, sql)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(database: Path, values: dict[str, str]) -> dict:
    script = render(SQL.read_text(encoding="utf-8"), values)
    database.unlink(missing_ok=True)
    con = duckdb.connect(str(database))
    steps = []
    for statement in duckdb.extract_statements(script):
        started, cpu = time.perf_counter(), _cpu()
        con.execute(statement)
        text = " ".join(statement.query.split())
        steps.append(
            {
                "statement": text[:80],
                "seconds": round(time.perf_counter() - started, 3),
                "cpu_seconds": round(_cpu() - cpu, 3),
            }
        )
    checks = con.execute(
        """SELECT source_id, check_name, failed, records, rejects_delivery FROM check_results
           ORDER BY source_id, check_name"""
    ).fetchall()
    structure = dict(con.execute("SELECT source_id, bad_lines FROM structure").fetchall())
    records = dict(
        con.execute("SELECT source_id, count(*) FROM records GROUP BY ALL ORDER BY 1").fetchall()
    )
    summary = {
        "records": records,
        "records_total": sum(records.values()),
        "quarantined": con.execute("SELECT count(*) FROM quarantine").fetchone()[0],
        "measures": con.execute("SELECT count(*) FROM measures").fetchone()[0],
        "indicator_values": con.execute("SELECT count(*) FROM indicator_values").fetchone()[0],
        "indicator_values_by_level": dict(
            con.execute(
                "SELECT region_level, count(*) FROM indicator_values GROUP BY ALL ORDER BY 1"
            ).fetchall()
        ),
        "checks": [
            {"source_id": s, "check": c, "failed": f, "records": n, "rejects_delivery": r}
            for s, c, f, n, r in checks
        ],
        "structure_bad_lines": structure,
        "steps": steps,
    }
    con.close()
    return summary


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2:
        print(__doc__)
        return 2
    database, summary_path = Path(args[0]), Path(args[1])
    values = dict(arg.split("=", 1) for arg in args[2:])
    started = time.perf_counter()
    summary = run(database, values)
    summary["seconds"] = round(time.perf_counter() - started, 3)
    summary_path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(
        f"reference: {summary['records_total']:,} records, {summary['quarantined']:,} "
        f"quarantined, {summary['indicator_values']:,} indicator values "
        f"in {summary['seconds']:.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
