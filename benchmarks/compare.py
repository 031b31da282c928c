"""The pipeline's publication against the reference, and the analysts' query.

`compare_indicator_values` joins marts.indicator_values of the published file with the
reference's indicator_values on indicator, region, school year, sex and nationality: a row
matches when the values agree within 1e-9 relative (or are both empty) and the statuses are
equal. `time_query` runs the analysts' trend query on a file opened read-only.
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

KEY = ("indicator_id", "region_code", "start_year", "sex", "nationality")
TOLERANCE = 1e-9
PUBLISHED_TABLE = "marts.indicator_values"
REFERENCE_TABLE = "main.indicator_values"
TREND_QUERY = (
    "SELECT school_year, sex, nationality, value, status FROM {table} "
    "WHERE indicator_id = ? AND region_code = ? ORDER BY start_year, sex, nationality"
)
QUERY_SEED = 20261128


@dataclass
class Comparison:
    matched: int = 0
    mismatched: int = 0
    only_pipeline: int = 0
    only_reference: int = 0
    examples: list[tuple] = field(default_factory=list)  # a few rows that do not match

    @property
    def identical(self) -> bool:
        return self.matched > 0 and not (
            self.mismatched or self.only_pipeline or self.only_reference
        )


def compare_indicator_values(published: Path, reference: Path, examples: int = 5) -> Comparison:
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{_quoted(published)}' AS pub (READ_ONLY)")
        con.execute(f"ATTACH '{_quoted(reference)}' AS ref (READ_ONLY)")
        keys = ", ".join(KEY)
        con.execute(
            f"""CREATE TEMP TABLE joined AS
            SELECT {", ".join(f"coalesce(p.{k}, r.{k}) AS {k}" for k in KEY)},
                p.value AS pipeline_value, r.value AS reference_value,
                p.status AS pipeline_status, r.status AS reference_status,
                p.indicator_id IS NOT NULL AS in_pipeline,
                r.indicator_id IS NOT NULL AS in_reference
            FROM (SELECT {keys}, value, status FROM pub.{PUBLISHED_TABLE}) p
            FULL OUTER JOIN (SELECT {keys}, value, status FROM ref.{REFERENCE_TABLE}) r
              USING ({keys})"""
        )
        same = f"""(pipeline_value IS NULL AND reference_value IS NULL
                    OR abs(pipeline_value - reference_value)
                       <= {TOLERANCE} * greatest(abs(pipeline_value), abs(reference_value)))
                   AND pipeline_status IS NOT DISTINCT FROM reference_status"""
        row = con.execute(
            f"""SELECT
                count(*) FILTER (WHERE in_pipeline AND in_reference AND {same}),
                count(*) FILTER (WHERE in_pipeline AND in_reference AND NOT ({same})),
                count(*) FILTER (WHERE in_pipeline AND NOT in_reference),
                count(*) FILTER (WHERE in_reference AND NOT in_pipeline)
            FROM joined"""
        ).fetchone()
        rows = con.execute(
            f"""SELECT * FROM joined
            WHERE NOT (in_pipeline AND in_reference AND {same})
            ORDER BY {keys} LIMIT {int(examples)}"""
        ).fetchall()
    finally:
        con.close()
    return Comparison(*row, examples=rows)


@dataclass
class QueryTiming:
    database: Path
    table: str
    indicator: str
    runs: int
    regions: int  # distinct regions queried
    p50_ms: float
    p95_ms: float
    rows_per_query: float


def time_query(
    database: Path, table: str, runs: int = 200, indicator: str = "dropout_rate"
) -> QueryTiming:
    """The trend of one indicator for one region (all subgroups), `runs` times over regions
    drawn (seeded) from those the indicator has, on the file opened read-only."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        indicators = [
            r[0] for r in con.execute(f"SELECT DISTINCT indicator_id FROM {table}").fetchall()
        ]
        if indicator not in indicators:
            indicator = sorted(indicators)[0]
        regions = [
            r[0]
            for r in con.execute(
                f"SELECT DISTINCT region_code FROM {table} WHERE indicator_id = ? ORDER BY 1",
                [indicator],
            ).fetchall()
        ]
        chosen = random.Random(QUERY_SEED).choices(regions, k=runs)
        sql = TREND_QUERY.format(table=table)
        con.execute(sql, [indicator, chosen[0]]).fetchall()  # warm up: catalogue, first blocks
        timings, rows = [], 0
        for region in chosen:
            started = time.perf_counter()
            rows += len(con.execute(sql, [indicator, region]).fetchall())
            timings.append((time.perf_counter() - started) * 1000)
    finally:
        con.close()
    return QueryTiming(
        database=database,
        table=table,
        indicator=indicator,
        runs=runs,
        regions=len(set(chosen)),
        p50_ms=statistics.median(timings),
        p95_ms=statistics.quantiles(timings, n=20, method="inclusive")[-1]
        if runs > 1
        else timings[0],
        rows_per_query=rows / runs,
    )


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")
