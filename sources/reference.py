"""Reference datasets (school directory, social index) -> typed rows with canonical names.

They are not measures: each delivery replaces the previous one as the current directory, and
marts.schools joins them. The mapping YAML only renames columns (`mapping.columns`:
canonical → delivered) and may add constants (`mapping.constants`). The rows become a
temporary table of the caller's connection, cells stripped, with `source_line` and `row_id`.
"""

from __future__ import annotations

import duckdb

from sources.canonical import _require_columns
from sources.readers.base import RawTable
from sources.readers.body import ensure_macros
from sources.registry import Source
from sources.scratch import temp_name


def reference_rows(conn: duckdb.DuckDBPyConnection, raw: RawTable, source: Source) -> str:
    positions = {name: i for i, name in enumerate(raw.columns)}
    _require_columns(raw, positions, list(source.columns.values()))
    ensure_macros(conn)
    relation = raw.table_in(conn)
    columns = [
        f"py_strip(c{positions[delivered]}) AS {canonical}"
        for canonical, delivered in source.columns.items()
    ]
    columns += [
        f"'{value.replace(chr(39), chr(39) * 2)}' AS {name}"
        for name, value in source.constants.items()
    ]
    rows = temp_name("reference_rows")
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE {rows} AS SELECT {', '.join(columns)}, "
        f"line AS source_line, row_number() OVER (ORDER BY line) - 1 AS row_id "
        f"FROM {relation} ORDER BY line"
    )
    return rows
