"""What every reader returns, and the one error a reader raises for a delivery it cannot read."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from sources.scratch import temp_name


@dataclass(frozen=True)
class RawRow:
    """One data line of a delivery, cells exactly as written (not stripped: indentation of
    region names carries the hierarchy in GENESIS tables)."""

    line: int  # 1-based physical line in the file
    cells: tuple[str, ...]


class RawTable:
    """A delivery after decoding and splitting, before any mapping to canonical fields.

    `columns` names every cell position. For GENESIS table CSVs the first `label_columns`
    positions are the row labels (unnamed in the file: their names are "") and every value
    column is named by its header rows joined with " | ", e.g.
    "Schülerinnen und Schüler an allgemeinbildenden Schulen | Geschlecht | weiblich | Anzahl".

    The data rows live in a temporary DuckDB table (`relation` in `conn`): `line` (the physical
    line, 1-based) and one VARCHAR column `c<i>` per position, cells exactly as written (not
    stripped: indentation of region names carries the hierarchy in GENESIS tables). `rows`
    reads them into Python — for tests and small tables only. A RawTable can also be built from
    rows (tests); it is loaded into a connection when one asks for `table_in(conn)`.
    """

    def __init__(
        self,
        file_name: str,
        columns: list[str],
        rows: list[RawRow] | None = None,
        encoding: str = "utf-8",
        delimiter: str = ";",
        label_columns: int = 0,
        header_line: int = 1,  # line of the (last) header row
        # e.g. table_code, title, stand (the "Stand:" line), licence, notes
        metadata: dict[str, str] | None = None,
        *,
        conn: duckdb.DuckDBPyConnection | None = None,
        relation: str | None = None,
        row_count: int | None = None,
        header_cells: int | None = None,
    ) -> None:
        self.file_name = file_name
        self.columns = columns
        self.encoding = encoding
        self.delimiter = delimiter
        self.label_columns = label_columns
        self.header_line = header_line
        self.metadata = metadata if metadata is not None else {}
        self.conn = conn
        self.relation = relation
        self._rows = rows
        self._row_count = row_count
        # delimited text: the cells of the header; the relation's `n` counts each line's (a line
        # with fewer has lost a cell somewhere — see sources/canonical.py)
        self.header_cells = header_cells

    def column(self, position: int) -> str:
        """The SQL column of a cell position."""
        return f"c{position}"

    @property
    def row_count(self) -> int:
        if self._rows is not None:
            return len(self._rows)
        if self._row_count is None:
            assert self.conn is not None and self.relation is not None
            self._row_count = self.conn.execute(f"SELECT count(*) FROM {self.relation}").fetchone()[
                0
            ]
        return self._row_count

    @property
    def rows(self) -> list[RawRow]:
        if self._rows is None:
            assert self.conn is not None and self.relation is not None
            cells = ", ".join(self.column(i) for i in range(len(self.columns)))
            fetched = self.conn.execute(
                f"SELECT line{', ' + cells if cells else ''} FROM {self.relation} ORDER BY line"
            ).fetchall()
            self._rows = [RawRow(r[0], tuple(r[1:])) for r in fetched]
        return self._rows

    def table_in(self, conn: duckdb.DuckDBPyConnection) -> str:
        """The rows as a table of `conn` (loaded there if they came as Python rows)."""
        if self.conn is conn and self.relation is not None:
            return self.relation
        rows = self.rows
        name = temp_name("rows")
        width = len(self.columns)
        cells = ", ".join(f"c{i} VARCHAR" for i in range(width))
        conn.execute(
            f"CREATE OR REPLACE TEMP TABLE {name} (line INTEGER{', ' + cells if cells else ''})"
        )
        if rows:
            conn.executemany(
                f"INSERT INTO {name} VALUES ({', '.join(['?'] * (width + 1))})",
                [(r.line, *r.cells) for r in rows],
            )
        self.conn, self.relation = conn, name
        return name


#: The screening stages a structural problem can belong to, in the order a delivery passes them:
#: "file" (bytes, encoding, file type, truncation), "columns" (delimiter, header, required
#: columns, rows that do not line up with the header), "values" (single cells).
STAGES: tuple[str, ...] = ("file", "columns", "values")


class DeliveryFormatError(ValueError):
    """A delivery whose structure cannot be read. The message names the file and, where known,
    the line and column, what was expected and what was found.

    `str(exc)` is the English message; `message_de` the same in German for partners. `stage`
    says where a delivery screener groups the problem (one of `STAGES`)."""

    def __init__(
        self,
        file_name: str,
        problem: str,
        *,
        line: int | None = None,
        column: str | None = None,
        expected: str | None = None,
        found: str | None = None,
        stage: str = "file",
        problem_de: str | None = None,
        expected_de: str | None = None,
        found_de: str | None = None,
    ) -> None:
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}: expected one of {', '.join(STAGES)}")
        self.file_name = file_name
        self.problem = problem
        self.line = line
        self.column = column
        self.expected = expected
        self.found = found
        self.stage = stage
        self.problem_de = problem_de
        self.expected_de = expected_de
        self.found_de = found_de
        super().__init__(_render(file_name, line, column, problem, expected, found, _WORDS_EN))

    @property
    def message_de(self) -> str:
        """The message in German; a part without a German text falls back to the English."""
        return _render(
            self.file_name,
            self.line,
            self.column,
            self.problem if self.problem_de is None else self.problem_de,
            self.expected if self.expected_de is None else self.expected_de,
            self.found if self.found_de is None else self.found_de,
            _WORDS_DE,
        )


_WORDS_EN = ("line", "column", "expected", "found")
_WORDS_DE = ("Zeile", "Spalte", "erwartet", "gefunden")


def _render(
    file_name: str,
    line: int | None,
    column: str | None,
    problem: str,
    expected: str | None,
    found: str | None,
    words: tuple[str, str, str, str],
) -> str:
    """`file, line 3, column 'x': problem (expected …; found …)`, omitting what is None."""
    line_word, column_word, expected_word, found_word = words
    where = file_name
    if line is not None:
        where += f", {line_word} {line}"
    if column is not None:
        where += f", {column_word} {column!r}"
    detail = []
    if expected is not None:
        detail.append(f"{expected_word} {expected}")
    if found is not None:
        detail.append(f"{found_word} {found}")
    message = f"{where}: {problem}"
    if detail:
        message += f" ({'; '.join(detail)})"
    return message


def require_data_lines(raw: RawTable) -> None:
    """A delivery with a header but no data would replace good data with nothing."""
    if not raw.row_count:
        after = f"at least one line after line {raw.header_line}"
        raise DeliveryFormatError(
            raw.file_name,
            "the file has a header but no data lines",
            line=raw.header_line,
            expected=after,
            stage="columns",
            problem_de="die Datei hat eine Kopfzeile, aber keine Datenzeilen",
            expected_de=f"mindestens eine Zeile nach Zeile {raw.header_line}",
        )
