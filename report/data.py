"""What the report shows, read from the publication (never from the partners' files).

One read-only connection to the published DuckDB file; every figure comes from the analysts'
contract (marts.*, meta.*, quality.*), so the report says exactly what an analyst's query says.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import pandas as pd

from schemas.tables import NRW_CODE, RUHR_CODE

# the regions the report shows: the Ruhr, NRW, the 15 Ruhr Kreise and the 53 municipalities
_SHOWN = f"(in_ruhr OR region_code IN ('{RUHR_CODE}', '{NRW_CODE}'))"


@dataclass(frozen=True)
class Publication:
    run_id: str
    published_at: dt.datetime


@dataclass(frozen=True)
class ReportData:
    publication: Publication
    goals: pd.DataFrame  # marts.goals
    indicators: pd.DataFrame  # marts.indicators, indexed by indicator_id
    trends: pd.DataFrame  # marts.indicator_trends of the shown regions, + numerator etc.
    regions: pd.DataFrame  # Ruhr municipalities and Kreise, with their Kreis's name
    measures: dict[str, str]  # measure id -> label
    sources: pd.DataFrame  # meta.sources with their latest delivery and health
    schools: pd.DataFrame  # school locations in the Ruhr (no school-level values)
    series_breaks: pd.DataFrame  # indicator, region, school year; empty if not published

    def municipalities(self) -> pd.DataFrame:
        return self.regions[self.regions.level == "gemeinde"]


def _columns(conn: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    schema, name = table.split(".")
    return {
        row[0]
        for row in conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ?",
            [schema, name],
        ).fetchall()
    }


def _frame(conn: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pd.DataFrame:
    """A query's result with text as plain Python strings: pandas' Arrow-backed strings make
    the many small look-ups of the report ten times slower."""
    frame = conn.execute(sql, params or []).df()
    text = [c for c in frame.columns if pd.api.types.is_string_dtype(frame[c].dtype)]
    return frame.astype(dict.fromkeys(text, object))


def _queries(conn: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The report's queries by the field of ReportData they fill."""
    queries = {
        "goals": "SELECT * FROM marts.goals ORDER BY goal_id",
        "indicators": "SELECT * FROM marts.indicators ORDER BY indicator_id",
        "trends": f"""SELECT t.*, v.numerator, v.denominator, v.computed_from_level,
                v.member_count
            FROM marts.indicator_trends t
            JOIN marts.indicator_values v USING (indicator_id, region_code, school_year, sex,
                                                 nationality)
            -- both sides filtered: neither is read whole (at national scale: 3.4 million rows)
            WHERE (t.in_ruhr OR t.region_code IN ('{RUHR_CODE}', '{NRW_CODE}'))
              AND (v.in_ruhr OR v.region_code IN ('{RUHR_CODE}', '{NRW_CODE}'))
            ORDER BY t.indicator_id, t.region_code, t.start_year, t.sex, t.nationality""",
        "regions": """SELECT r.region_code, r.name, r.level, r.kreis_code, k.name AS kreis_name,
               r.kreis_code || '000' = r.region_code AS kreisfrei
           FROM marts.regions r LEFT JOIN marts.regions k ON k.region_code = r.kreis_code
           WHERE r.in_ruhr AND r.is_current AND r.level IN ('gemeinde', 'kreis')
           ORDER BY r.level, r.name""",
        # the labels from the measures' own table, not from a view over every statement
        # (at national scale 0.7 s); a publication written before it had one: from that view
        "measures": "SELECT measure, label FROM marts.measures ORDER BY measure"
        if _columns(conn, "marts.measures")
        else "SELECT DISTINCT measure, measure_label FROM marts.measure_values ORDER BY 1",
        "sources": """SELECT s.source_id, s.title, s.partner, s.licence, s.synthetic, s.standing,
               h.latest_outcome, h.last_good_file, h.last_good_received_at,
               h.failing_since, h.last_rejected_file
           FROM meta.sources s LEFT JOIN quality.source_health h USING (source_id)
           ORDER BY s.source_id""",
        "schools": """SELECT region_code, utm_east, utm_north FROM marts.schools
           WHERE in_ruhr AND utm_east IS NOT NULL AND utm_north IS NOT NULL""",
    }
    if "series_break" in _columns(conn, "marts.indicator_values"):
        queries["series_breaks"] = f"""SELECT DISTINCT indicator_id, region_code, region_name,
                school_year
            FROM marts.indicator_values
            WHERE series_break AND {_SHOWN} AND sex = 'total' AND nationality = 'total'
            ORDER BY ALL"""
    return queries


def content_digest(conn: duckdb.DuckDBPyConnection) -> str:
    """What `read` would return, apart from the publication's run and time, as one text:
    per query its columns, types, rows and a sum of its rows' hashes — computed in DuckDB,
    without reading a row into Python (a night that changes nothing keeps the report)."""
    parts = []
    for name, sql in _queries(conn).items():
        described = conn.execute(f"DESCRIBE {sql}").fetchall()
        rows, total = conn.execute(
            f"SELECT count(*), sum(hash(q)::HUGEINT) FROM ({sql}) q"
        ).fetchone()
        parts.append(f"{name}:{[(c, t) for c, t, *_ in described]}:{rows}:{total}")
    return "\n".join(parts)


def read(conn: duckdb.DuckDBPyConnection) -> ReportData:
    run_id, published_at = conn.execute(
        "SELECT run_id, published_at FROM meta.publication"
    ).fetchone()
    queries = _queries(conn)
    series_breaks = (
        _frame(conn, queries["series_breaks"])
        if "series_breaks" in queries
        else pd.DataFrame(columns=["indicator_id", "region_code", "region_name", "school_year"])
    )
    return ReportData(
        publication=Publication(run_id, published_at),
        goals=_frame(conn, queries["goals"]),
        indicators=_frame(conn, queries["indicators"]).set_index("indicator_id"),
        trends=_frame(conn, queries["trends"]),
        regions=_frame(conn, queries["regions"]),
        measures=dict(conn.execute(queries["measures"]).fetchall()),
        sources=_frame(conn, queries["sources"]),
        schools=_frame(conn, queries["schools"]),
        series_breaks=series_breaks,
    )
