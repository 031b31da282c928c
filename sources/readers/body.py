"""The data lines of a delimited text -> a DuckDB table, with every physical line number.

Readers parse a delivery's first lines (title, header rows) themselves; the body — millions of
lines at national scale — goes into a temporary table of the connection they are given:

    line INTEGER     physical line (1-based, as a text editor counts)
    n INTEGER        cells on the line (as Python's csv module splits it)
    extra BOOLEAN    a non-empty cell beyond the header's width
    too_long BOOLEAN a cell longer than the csv module's field limit
    c0 … c{w-1}      the cells, exactly as written (missing cells are '')

Lines without any quote character are split by DuckDB (`string_split`), block by block; once a
quote appears, the rest of the body is read with Python's csv module (quoted cells may hold
delimiters, quotes and line breaks), strictly, as before. Lines that are empty or hold only
delimiters and whitespace are left out. Memory stays at one block, whatever the file's size.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from sources.readers.decoding import Text
from sources.scratch import register, temp_name

BATCH_ROWS = 100_000
# the text is split and inserted in blocks of this many bytes: DuckDB inserts a few large
# blocks several times faster than many small ones (431,480 lines: 3.3 s in blocks of 8 MB,
# 0.9 s in blocks of 64 MB); memory stays at one block
BODY_BLOCK = 64 * 1024 * 1024
# what str.strip() removes: every character for which str.isspace() is true (a test checks
# this list against Python's own)
PY_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def ensure_macros(conn: duckdb.DuckDBPyConnection) -> None:
    """`py_strip(s)`: Python's str.strip() in SQL (trim() alone removes only spaces). Trimming
    by a set of 29 characters is slow, so it runs only where a cell starts or ends with one
    (tested by the first and last character, not by a regular expression: RE2 on a class of
    29 code points at the end of a string was seen taking 20 µs a line)."""
    whitespace = PY_WHITESPACE.replace("'", "''")
    conn.execute(
        f"CREATE OR REPLACE TEMP MACRO py_strip(s) AS CASE WHEN s <> '' AND "
        f"(contains('{whitespace}', s[1]) OR contains('{whitespace}', s[-1])) "
        f"THEN trim(s, '{whitespace}') ELSE s END"
    )


class QuotingError(ValueError):
    """Python's csv module refused a line: `line` where the record starts, `text` that line."""

    def __init__(self, error: csv.Error, line: int, text: str | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.line = line
        self.text = text


@dataclass
class Body:
    relation: str
    rows: int
    width: int
    last_line: int  # the last physical line read
    ends_with_newline: bool  # the text's last line has a line end
    # the csv module refused a quoted line: the rows before it are in the table
    quoting_error: QuotingError | None = None

    def cells(self) -> list[str]:
        return [f"c{i}" for i in range(self.width)]


def _create(conn: duckdb.DuckDBPyConnection, width: int) -> str:
    name = temp_name("raw")
    cells = ", ".join(f"c{i} VARCHAR" for i in range(width))
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE {name} (line INTEGER, n INTEGER, extra BOOLEAN, "
        f"too_long BOOLEAN{', ' + cells if cells else ''})"
    )
    return name


def _split_sql(name: str, width: int, delimiter: str, piece: str) -> str:
    """INSERT the lines of the temporary table `piece` (line, l) into `name`, split on
    `delimiter`."""
    limit = csv.field_size_limit()
    cells = ", ".join(f"coalesce(cells[{i + 1}], '')" for i in range(width))
    sep = delimiter.replace("'", "''")
    return f"""
        INSERT INTO {name}
        SELECT line, len(cells) AS n,
            CASE WHEN len(cells) > {width} THEN
                len(list_filter(cells[{width + 1}:], lambda x: py_strip(x) <> '')) > 0
            ELSE FALSE END AS extra,
            CASE WHEN length(l) > {limit} THEN
                list_max(list_transform(cells, lambda x: length(x))) > {limit}
            ELSE FALSE END AS too_long
            {", " + cells if cells else ""}
        FROM (SELECT line, l, string_split(l, '{sep}') AS cells FROM {piece})
        -- a line of delimiters and whitespace only is no row
        WHERE py_strip(replace(l, '{sep}', '')) <> ''
    """


def load_body(
    conn: duckdb.DuckDBPyConnection,
    text: Text,
    first_line: int,
    width: int,
    delimiter: str,
    stop: int | None = None,
) -> Body:
    """Lines `first_line` … `stop - 1` (to the end if `stop` is None) of `text` into a new
    temporary table. Where the csv module refuses a quoted line, reading stops there and the
    Body says so (`quoting_error`): the caller reports whichever problem comes first."""
    ensure_macros(conn)
    name = _create(conn, width)
    end = _End()
    lines = _numbered_lines(text, first_line, stop, end)
    quoting_error = None
    for start, block in lines:
        if '"' in block:
            try:
                _load_with_csv(conn, name, width, delimiter, start, block, lines)
            except QuotingError as err:
                quoting_error = err
            break
        _insert_block(conn, name, width, delimiter, start, block)
    rows = conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
    return Body(name, rows, width, end.last_line, end.newline, quoting_error)


def _insert_block(
    conn: duckdb.DuckDBPyConnection, name: str, width: int, delimiter: str, start: int, block: str
) -> None:
    """A block of quote-free lines into `name`: handed to DuckDB as one UTF-8 value (no Python
    string per line: building them took longer than DuckDB's whole split), cut into numbered
    lines there, then split into cells by a parallel INSERT."""
    data = block.encode("utf-8")
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    text = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), 1, [None, offsets, pa.py_buffer(data)]
    )
    piece, block_text = temp_name("lines"), temp_name("block_text")
    register(conn, block_text, pa.table({"b": text}))
    try:
        conn.execute(
            f"CREATE OR REPLACE TEMP TABLE {piece} AS SELECT UNNEST(l) AS l, "
            f"UNNEST(range({start}, {start} + len(l)))::INTEGER AS line "
            f"FROM (SELECT string_split(decode(b), chr(10)) AS l FROM {block_text})"
        )
    finally:
        conn.unregister(block_text)
    try:
        conn.execute(_split_sql(name, width, delimiter, piece))
    finally:
        conn.execute(f"DROP TABLE IF EXISTS {piece}")


@dataclass
class _End:
    last_line: int = 0
    newline: bool = True


def _numbered_lines(
    text: Text, first: int, stop: int | None, end: _End
) -> Iterator[tuple[int, str]]:
    """(physical line of the first line, block of whole lines without the final line end);
    `end` learns the last line of the text and whether it ends with a line end. Lines are
    counted and cut with str.count / str.find: only the lines read are ever split."""
    line = 1
    for block in text.blocks(BODY_BLOCK):
        end.newline = block.endswith("\n")
        parts = block[:-1] if end.newline else block
        count = parts.count("\n") + 1
        end.last_line = line + count - 1
        if line + count <= first:
            line += count
            continue
        begin = max(first - line, 0)
        until = count if stop is None else max(min(stop - line, count), 0)
        if begin < until:
            yield line + begin, _lines(parts, begin, until, count)
        line += count
        if stop is not None and line >= stop:
            return


def _lines(parts: str, begin: int, until: int, count: int) -> str:
    """Lines begin … until - 1 of `parts` (count lines, joined by "\n")."""
    start = 0
    for _ in range(begin):
        start = parts.index("\n", start) + 1
    finish = len(parts)
    for _ in range(count - until):
        finish = parts.rindex("\n", 0, finish)
    return parts[start:finish]


def _load_with_csv(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    width: int,
    delimiter: str,
    start: int,
    block: str,
    rest: Iterator[tuple[int, str]],
) -> None:
    """The body from line `start` on, read by Python's csv module (strict quoting)."""

    def physical() -> Iterator[str]:
        for text in itertools.chain([block], (b for _, b in rest)):
            for line in text.split("\n"):
                yield line + "\n"

    source = physical()
    record_lines: list[str] = []

    def tracked() -> Iterator[str]:
        for line in source:
            record_lines.append(line)
            yield line

    reader = csv.reader(tracked(), delimiter=delimiter, strict=True)
    limit = csv.field_size_limit()
    batch: list[tuple] = []
    next_line = start
    try:
        for cells in reader:
            line = next_line
            next_line = start + reader.line_num
            record_lines.clear()
            if not cells or all(not c.strip() for c in cells):
                continue
            n = len(cells)
            extra = any(c.strip() for c in cells[width:])
            padded = (cells + [""] * width)[:width]
            batch.append((line, n, extra, max(len(c) for c in cells) > limit, *padded))
            if len(batch) >= BATCH_ROWS:
                _insert(conn, name, width, batch)
                batch = []
    except csv.Error as err:
        text = record_lines[0].rstrip("\n") if record_lines else None
        raise QuotingError(err, next_line, text) from None
    _insert(conn, name, width, batch)


def _insert(conn: duckdb.DuckDBPyConnection, name: str, width: int, rows: list[tuple]) -> None:
    if not rows:
        return
    columns = list(zip(*rows, strict=True))
    table = pa.table(
        {
            "line": pa.array(columns[0], pa.int32()),
            "n": pa.array(columns[1], pa.int32()),
            "extra": pa.array(columns[2], pa.bool_()),
            "too_long": pa.array(columns[3], pa.bool_()),
            **{f"c{i}": pa.array(columns[4 + i], pa.large_string()) for i in range(width)},
        }
    )
    register(conn, "csv_rows", table)
    try:
        conn.execute(f"INSERT INTO {name} SELECT * FROM csv_rows")
    finally:
        conn.unregister("csv_rows")
