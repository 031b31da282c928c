"""Records at the grain the warehouse keeps: lines added up, totals derived, schools placed.

    combine_rows            flat files list leaves: lines that differ only in dimensions the
                            mapping ignores become one record per canonical key, their sum
    derive_totals           `total` over sex / nationality as the sum of the subgroups, where
                            the delivery has no total of its own
    aggregate_school_grain  school lines -> one record per municipality and school year

All three work in SQL on temporary tables of canonical records (FRAME_COLUMNS) and return a
new temporary table. A sum never silently leaves a part out: a symbol ('.', 'x', '/') in any
part makes the sum that symbol, a flag such as provisional carries over to the sum.
"""

from __future__ import annotations

import duckdb

from schemas.tables import NUMERIC_STATUSES
from sources.canonical import FRAME_COLUMNS
from sources.registry import Source
from sources.scratch import temp_name

RECORD_KEY = ["measure", "region_code", "school_year", "start_year", "sex", "nationality"]
_NUMERIC = ", ".join(f"'{s}'" for s in NUMERIC_STATUSES)
_FLAGS = ", ".join(f"'{s}'" for s in NUMERIC_STATUSES[1:])


_name = temp_name


def _empty(conn: duckdb.DuckDBPyConnection, relation: str) -> bool:
    return conn.execute(f"SELECT count(*) = 0 FROM {relation}").fetchone()[0]


def _by_row_id(conn: duckdb.DuckDBPyConnection, relation: str) -> str:
    """ORDER BY of a window numbering `relation`'s rows as delivered: its row ids (the
    canonical records are stored in no particular order), else the order it is stored in."""
    columns = {c for c, *_ in conn.execute(f"DESCRIBE {relation}").fetchall()}
    return "ORDER BY row_id" if "row_id" in columns else ""


def _sum_records(relation: str, key: list[str], what: str, order: str = "row_order") -> str:
    """SQL: the records of `relation` added up per `key` (value, source_line, status,
    raw_value, source_column; groups in key order)."""
    keys = ", ".join(key)
    # a part without a value is a symbol, also '/' (unreliable, no figure): else the sum would
    # leave it out, and parts that are all '/' would add up to a 0
    symbol = f"CASE WHEN value IS NULL OR status NOT IN ({_NUMERIC}) THEN status END"
    flag = f"CASE WHEN value IS NOT NULL AND status IN ({_FLAGS}) THEN status END"
    return f"""
        SELECT {keys},
            CASE WHEN first_symbol IS NOT NULL THEN NULL ELSE total END AS value,
            source_line, coalesce(first_symbol, first_flag, 'ok') AS status,
            NULL::VARCHAR AS raw_value, 'sum of ' || lines || ' {what}' AS source_column,
            first_label
        FROM (
            SELECT {keys}, coalesce(sum(value), 0) AS total, min(source_line) AS source_line,
                count(DISTINCT source_line) AS lines,
                first({symbol} ORDER BY {order}) FILTER (WHERE {symbol} IS NOT NULL)
                    AS first_symbol,
                first({flag} ORDER BY {order}) FILTER (WHERE {flag} IS NOT NULL) AS first_flag,
                first(region_label ORDER BY {order}) FILTER (WHERE region_label IS NOT NULL)
                    AS first_label
            FROM {relation} GROUP BY ALL
        )
        ORDER BY {", ".join(f"{k} NULLS LAST" for k in key)}"""


def _frame(**values: str) -> str:
    """SQL: the FRAME_COLUMNS, some given as expressions."""
    return ", ".join(f"{values.get(c, c)} AS {c}" for c in FRAME_COLUMNS)


def _ordered(conn: duckdb.DuckDBPyConnection, relation: str) -> str:
    """A copy of `relation` with `row_order`: the order of its records (their row_order or
    row_id if they have one)."""
    columns = {name for name, *_ in conn.execute(f"DESCRIBE {relation}").fetchall()}
    name = _name("ordered")
    order = next((c for c in ("row_order", "row_id") if c in columns), "row_number() OVER ()")
    exclude = " EXCLUDE (row_order)" if "row_order" in columns else ""
    conn.execute(
        f"CREATE TEMP TABLE {name} AS SELECT *{exclude}, {order} AS row_order FROM {relation}"
    )
    return name


def combine_rows(conn: duckdb.DuckDBPyConnection, records: str) -> str:
    """Flat files list leaves: lines that differ only in dimensions the mapping ignores (e.g.
    the protection status of 12531) become one record per canonical key, their sum. Records
    with a problem stay as they are, to be quarantined with their reason."""
    clean = "problem IS NULL AND measure IS NOT NULL AND region_code IS NOT NULL"
    ordered = _ordered(conn, records)
    result = _name("combined")
    try:
        if conn.execute(f"SELECT count(*) FROM {ordered} WHERE {clean}").fetchone()[0] == 0:
            conn.execute(
                f"CREATE TEMP TABLE {result} AS SELECT {_frame()}, row_order FROM {ordered}"
            )
            return result
        # the sums in key order first, then the records with a problem in their order
        key = [*RECORD_KEY, "school_number"]
        summed = _sum_records(f"(SELECT * FROM {ordered} WHERE {clean})", key, "lines")
        in_key_order = ", ".join(f"{k} NULLS LAST" for k in key)
        none = "NULL::VARCHAR"
        conn.execute(
            f"""CREATE TEMP TABLE {result} AS
            SELECT {_frame(region_label="first_label", problem=none, problem_de=none,
                           problem_column=none)},
                row_number() OVER (ORDER BY {in_key_order}) AS row_order
            FROM ({summed})
            UNION ALL
            SELECT {_frame()}, 1000000000000 + row_order FROM {ordered} WHERE NOT ({clean})"""
        )  # fmt: skip
        return result
    finally:
        conn.execute(f"DROP TABLE IF EXISTS {ordered}")


def derive_totals(
    conn: duckdb.DuckDBPyConnection, records: str, dimensions: tuple[str, ...]
) -> str:
    """Add `total` over sex and/or nationality as the sum of the delivered subgroups, where the
    delivery has no total of its own (GENESIS flat files list male and female, not the sum)."""
    current = _ordered(conn, records)
    for dimension in dimensions:
        others = [c for c in RECORD_KEY if c != dimension]
        parts = f"(SELECT * FROM {current} WHERE {dimension} IS DISTINCT FROM 'total')"
        if _empty(conn, parts):
            continue
        totals = _sum_records(parts, others, f"{dimension} subgroups")
        same = " AND ".join(f"d.{c} IS NOT DISTINCT FROM t.{c}" for c in others)
        none = "NULL::VARCHAR"
        following = _name("derived")
        conn.execute(
            f"""CREATE TEMP TABLE {following} AS
            SELECT {_frame()}, row_order FROM {current}
            UNION ALL
            SELECT {_frame(**{dimension: "'total'"}, region_label=none, school_number="''",
                           problem=none, problem_de=none, problem_column=none)},
                (SELECT max(row_order) FROM {current}) + row_number() OVER () AS row_order
            FROM ({totals}) t
            WHERE NOT EXISTS (SELECT 1 FROM {current} d WHERE d.{dimension} = 'total'
                              AND {same})"""
        )  # fmt: skip
        conn.execute(f"DROP TABLE IF EXISTS {current}")
        current = following
    result = _name("with_totals")
    conn.execute(
        f"CREATE TEMP TABLE {result} AS SELECT {_frame()} FROM {current} ORDER BY row_order"
    )
    conn.execute(f"DROP TABLE IF EXISTS {current}")
    return result


def aggregate_school_grain(
    conn: duckdb.DuckDBPyConnection,
    records: str,
    source: Source,
    covered_regions: list[str],
    held_back: str | None = None,
) -> str:
    """School-level lines -> one record per municipality, measure and school year.

    `count_rows_as` counts the schools; with `absent_means_zero` a covered municipality without
    any line in a school year the delivery reports gets 0 (the programme was not there).
    `held_back` are the school records quarantined: a municipality sum that would leave one of
    them out is `not_available` — a smaller sum (or a 0) would look complete and be wrong.
    """
    mapping = source.measures
    assert mapping is not None
    key = ["region_code", "school_year", "start_year", "sex", "nationality"]
    keys = ", ".join(key)
    held = f"(SELECT {_frame()}, 0 AS n FROM {records} WHERE FALSE)"
    if held_back is not None:  # quarantined parts: not available in their municipality's sum
        unavailable = _frame(
            value="NULL::DOUBLE", status="'not_available'", raw_value="NULL::VARCHAR"
        )
        held = (
            f"(SELECT {unavailable}, row_number() OVER ({_by_row_id(conn, held_back)}) AS n "
            f"FROM {held_back} WHERE measure IS NOT NULL "
            "AND region_code IS NOT NULL AND school_year IS NOT NULL)"
        )
    everything = _name("school_lines")
    conn.execute(
        f"CREATE TEMP TABLE {everything} AS "
        f"SELECT {_frame()}, 0 AS held, row_number() OVER ({_by_row_id(conn, records)}) "
        f"AS row_order FROM {records} "
        f"UNION ALL SELECT * EXCLUDE (n), 1 AS held, 1000000000 + n FROM {held}"
    )
    result = _name("municipalities")
    none = "NULL::VARCHAR"
    try:
        if _empty(conn, everything):
            conn.execute(f"CREATE TEMP TABLE {result} AS SELECT {_frame()} FROM {records}")
            return result
        municipal = _frame(
            region_label=none,
            school_number="''",
            problem=none,
            problem_de=none,
            problem_column=none,
        )
        sums = _sum_records(everything, [*key, "measure"], "school line(s)")
        parts = [f"SELECT {municipal} FROM ({sums})"]
        measures = [m for (m,) in conn.execute(
            f"SELECT DISTINCT measure FROM {everything} WHERE measure IS NOT NULL ORDER BY 1"
        ).fetchall()]  # fmt: skip
        if mapping.count_rows_as:
            parts.append(
                f"""SELECT '{mapping.count_rows_as}' AS measure, region_code, NULL AS region_label,
                    '' AS school_number, school_year, start_year, sex, nationality,
                    count(DISTINCT school_number)::DOUBLE AS value, 'ok' AS status,
                    NULL AS raw_value, min(source_line) AS source_line,
                    'number of school lines' AS source_column, NULL AS problem,
                    NULL AS problem_de, NULL AS problem_column
                FROM {everything} GROUP BY {keys}"""
            )
            measures.append(mapping.count_rows_as)
        summed = _name("school_sums")
        conn.execute(f"CREATE TEMP TABLE {summed} AS {' UNION ALL '.join(parts)}")
        if mapping.absent_means_zero and covered_regions and measures:
            regions = ", ".join(f"('{r}')" for r in covered_regions)
            listed = ", ".join(f"('{m}')" for m in measures)
            conn.execute(
                f"""INSERT INTO {summed}
                SELECT m.measure, c.region_code, NULL, '', y.school_year, y.start_year,
                    'total', 'total', 0.0, 'ok', NULL, NULL,
                    'no line for this municipality: 0', NULL, NULL, NULL
                FROM (SELECT DISTINCT school_year, start_year FROM {everything}) y
                CROSS JOIN (VALUES {regions}) c(region_code)
                CROSS JOIN (VALUES {listed}) m(measure)
                WHERE NOT EXISTS (SELECT 1 FROM {summed} s WHERE s.region_code = c.region_code
                                  AND s.school_year = y.school_year)"""
            )
        # say in the sum's source_column which school lines are missing from it and why
        named = _frame(
            source_column="CASE WHEN h.lines IS NULL THEN source_column ELSE source_column "
            "|| '; not available: line(s) ' || h.lines || ' held back in quarantine' END",
        )
        conn.execute(
            f"""CREATE TEMP TABLE {result} AS
            SELECT {named}
            FROM {summed} s LEFT JOIN (
                SELECT {keys}, measure,
                    string_agg(source_line::VARCHAR, ', ' ORDER BY source_line) AS lines
                FROM (SELECT DISTINCT {keys}, measure, source_line FROM {everything}
                      WHERE held = 1 AND source_line IS NOT NULL)
                GROUP BY ALL
            ) h USING ({keys}, measure)"""
        )
        conn.execute(f"DROP TABLE IF EXISTS {summed}")
        return result
    finally:
        conn.execute(f"DROP TABLE IF EXISTS {everything}")
