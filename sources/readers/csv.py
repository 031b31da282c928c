"""Partner CSV deliveries: one header row, then data rows.

Quoting follows Excel / RFC 4180 (quoted cells may hold delimiters, doubled quotes and line
breaks) and is read strictly: a quote that is never closed, or text after a closing quote, is
an error naming the line rather than a silently merged cell.
"""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Iterator

import duckdb

from sources.readers.base import DeliveryFormatError, RawTable
from sources.readers.body import Body, load_body
from sources.readers.decoding import Source, Text, check_text
from sources.readers.text import (
    DELIMITERS,
    describe,
    describe_de,
    detect_delimiter,
    sep_hint,
)

_SAMPLE_LINES = 20
_HEADER_JUNK = " \t\ufeff\u00a0\u200b"  # whitespace, BOM remnants, no-break and zero-width space


def _clean_header(cell: str) -> str:
    cell = cell.strip(_HEADER_JUNK)
    if cell.startswith("ï»¿"):  # a UTF-8 BOM read as cp1252
        cell = cell[3:].strip(_HEADER_JUNK)
    return cell


def _is_blank(cells: list[str]) -> bool:
    return all(not c.strip() for c in cells)


def csv_error_de(message: str) -> str:
    """The messages of Python's csv module in German (the common ones; others as they are)."""
    after_quote = re.fullmatch(r"'(.+)' expected after '\"'", message)
    if after_quote:
        return (
            f"nach einem schließenden Anführungszeichen muss {describe_de(after_quote.group(1))} "
            "oder das Zeilenende folgen"
        )
    if "line contains NUL" in message:
        return "die Zeile enthält ein NUL-Byte"
    if "new-line character seen in unquoted field" in message:
        return "Zeilenumbruch in einer Zelle ohne Anführungszeichen"
    if "end of data" in message:
        return "unerwartetes Dateiende"
    return message


def _quoting_error(
    file_name: str, line: int, err: csv.Error, text: str | None = None
) -> DeliveryFormatError:
    """`text`: the physical line the failing record starts on (to tell a runaway quoted cell
    from a cell that is simply too long)."""
    message = str(err)
    if "field larger than field limit" in message and text is not None and '"' not in text:
        limit = csv.field_size_limit()
        return DeliveryFormatError(
            file_name,
            f"a cell on this line is longer than {limit:,} characters",
            line=line,
            expected=f"cells of at most {limit:,} characters",
            found=f"a line of {len(text):,} characters",
            stage="columns",
            problem_de=f"eine Zelle in dieser Zeile ist länger als {limit:,} Zeichen".replace(
                ",", "."
            ),
            expected_de=f"Zellen mit höchstens {limit:,} Zeichen".replace(",", "."),
            found_de=f"eine Zeile mit {len(text):,} Zeichen".replace(",", "."),
        )
    if "end of data" in message or "field larger than field limit" in message:
        end = "end of data" in message
        return DeliveryFormatError(
            file_name,
            "a quoted cell starting on this line is never closed",
            line=line,
            expected='a closing quote (")',
            found="the end of the file" if end else "a runaway cell",
            stage="columns",
            problem_de="eine Zelle in Anführungszeichen, die in dieser Zeile beginnt, wird nie "
            "geschlossen",
            expected_de='ein schließendes Anführungszeichen (")',
            found_de="das Dateiende" if end else "eine Zelle, die nicht mehr endet",
        )
    return DeliveryFormatError(
        file_name,
        f"malformed quoting: {message}",
        line=line,
        expected="a quoted cell to end with a quote followed by the delimiter or the line end",
        stage="columns",
        problem_de=f"fehlerhafte Anführungszeichen: {csv_error_de(message)}",
        expected_de="eine Zelle in Anführungszeichen, die mit einem Anführungszeichen endet, "
        "auf das das Trennzeichen oder das Zeilenende folgt",
    )


def _head(text: Text, start_line: int = 1) -> Iterator[tuple[int, str]]:
    """(physical line, text) of the lines from `start_line` on, lazily."""
    yield from enumerate(text.lines(start_line), start=start_line)


def read_csv(
    data: Source,
    file_name: str,
    *,
    encoding: str = "auto",
    delimiter: str = "auto",
    header_line: int | None = None,
    conn: duckdb.DuckDBPyConnection | None = None,
    excel: bool = False,
) -> RawTable:
    """Read a partner CSV: one header row, then data rows, cells as text (not stripped).

    - `data`: the bytes, or the path of the file (read block by block, never whole).
    - `encoding`: "auto" or a declared encoding (see `decoding.check_text`); `excel`: also
      the other encoding Excel writes.
    - `delimiter`: "auto" (Excel's `sep=` first line if present, else detected from the header
      and the lines after it among ; tab | ,) or a declared one. A declared delimiter that
      contradicts a `sep=` first line is an error.
    - `header_line`: the physical line (1-based) of the header; default: the first non-empty
      line after a `sep=` line. Lines before it are ignored.
    - `conn`: the DuckDB connection the rows go into (a temporary table); default: a new
      in-memory one.

    Rows carry their physical line number (of their first line if a quoted cell spans
    lines). Header names are stripped; trailing empty header cells are dropped; empty,
    duplicate or missing names are errors. Trailing empty cells beyond the header are dropped,
    a row with a non-empty cell beyond the header is an error; a short row's missing cells
    read as "" and its `n` says how many it had (its records are quarantined: a cell missing in
    the middle shifts every later value, sources/canonical.py).
    Lines that are empty or hold only delimiters/whitespace are skipped.
    """
    text = check_text(data, file_name, encoding, excel=excel)
    conn = conn if conn is not None else duckdb.connect()
    lines = _head(text)
    first = next(lines, None)

    # --- the `sep=;` hint and the header line ---------------------------------------------
    hint = sep_hint(first[1]) if first else None
    if header_line is None:
        start = first
        if hint:
            start = next(lines, None)
        while start is not None and not start[1].strip():
            start = next(lines, None)
        if start is None:
            raise DeliveryFormatError(
                file_name,
                "the file has no header line",
                expected="a header line after the 'sep=' line",
                found="nothing",
                stage="columns",
                problem_de="die Datei hat keine Kopfzeile",
                expected_de="eine Kopfzeile nach der Zeile 'sep='",
                found_de="nichts",
            )
    else:
        start = first if header_line == 1 else next(_head(text, header_line), None)
        if header_line < 1 or start is None:
            total = sum(1 for _ in text.lines())
            raise DeliveryFormatError(
                file_name,
                f"the header is declared on line {header_line}, but the file has {total} lines",
                expected=f"a header on line {header_line}",
                stage="columns",
                problem_de=f"die Kopfzeile ist für Zeile {header_line} angegeben, "
                f"aber die Datei hat {total} Zeilen",
                expected_de=f"eine Kopfzeile in Zeile {header_line}",
            )
        if not start[1].strip():
            raise DeliveryFormatError(
                file_name,
                "the declared header line is empty",
                line=header_line,
                expected="the column names",
                stage="columns",
                problem_de="die angegebene Kopfzeile ist leer",
                expected_de="die Spaltennamen",
            )
    header_at, header_text = start

    # --- the delimiter ---------------------------------------------------------------------
    if delimiter == "auto":
        if hint:
            delim = hint
        else:
            following = _head(text, header_at + 1)
            sample = [line for _, line in itertools.islice(following, _SAMPLE_LINES)]
            delim = detect_delimiter(header_text, sample)
            if delim is None:
                raise DeliveryFormatError(
                    file_name,
                    "only one column found in the header",
                    line=header_at,
                    expected="columns separated by ';', ',', tab or '|'",
                    found=f"{header_text[:60]!r}",
                    stage="columns",
                    problem_de="nur eine Spalte in der Kopfzeile gefunden – kein Trennzeichen "
                    "erkannt",
                    expected_de="Spalten getrennt durch ';', ',', Tabulator oder '|'",
                    found_de=f"{header_text[:60]!r}",
                )
    else:
        delim = delimiter
        if hint and hint != delim:
            raise DeliveryFormatError(
                file_name,
                f"the first line says sep={hint} but the source declares the delimiter "
                f"{describe(delim)}",
                line=1,
                expected=f"columns separated by {describe(delim)}",
                found=f"sep={hint}",
                stage="columns",
                problem_de=f"die erste Zeile sagt sep={hint}, für die Quelle ist aber das "
                f"Trennzeichen {describe_de(delim)} angegeben",
                expected_de=f"Spalten getrennt durch {describe_de(delim)}",
                found_de=f"sep={hint}",
            )

    # --- the header: the first record from the header line on (it may span lines) ----------
    consumed: list[str] = []

    def from_header() -> Iterator[str]:
        for _, line in _head(text, header_at):
            consumed.append(line)
            yield line + "\n"

    reader = csv.reader(from_header(), delimiter=delim, strict=True)
    try:
        cells = next(reader, [])
    except csv.Error as err:
        raise _quoting_error(file_name, header_at, err, header_text) from None
    header = _header(cells, file_name, header_at, delim, header_text)
    width = len(header)

    # --- the body ----------------------------------------------------------------------------
    body = load_body(conn, text, header_at + reader.line_num, width, delim)
    raw = RawTable(
        file_name,
        header,
        encoding=text.encoding,
        delimiter=delim,
        label_columns=0,
        header_line=header_at,
        metadata={"sep_line": "1"} if hint else {},
        conn=conn,
        relation=body.relation,
        row_count=body.rows,
        header_cells=width,
    )
    _check_body(raw, text, body)
    return raw


def _line_text(text: Text, number: int) -> str:
    return next(line for n, line in _head(text, number) if n == number)


def _check_body(raw: RawTable, text: Text, body: Body) -> None:
    """What the csv module would have refused while reading, at the first line it applies."""
    conn, relation, width, file_name = raw.conn, raw.relation, body.width, raw.file_name
    assert conn is not None
    wrong = conn.execute(
        f"SELECT line, n, too_long FROM {relation} WHERE extra OR too_long ORDER BY line LIMIT 1"
    ).fetchone()
    quoting = body.quoting_error
    if quoting is not None and (wrong is None or quoting.line <= wrong[0]):
        raise _quoting_error(file_name, quoting.line, quoting.error, quoting.text)
    if wrong:
        line, n, too_long = wrong
        line_text = _line_text(text, line)
        if too_long:
            limit = csv.field_size_limit()
            error = csv.Error(f"field larger than field limit ({limit})")
            raise _quoting_error(file_name, line, error, line_text)
        cells = next(csv.reader([line_text], delimiter=raw.delimiter))
        extra = cells[width:]
        position = width + next(i for i, c in enumerate(extra) if c.strip()) + 1
        raise DeliveryFormatError(
            file_name,
            f"the row has {n} cells but the header has {width} columns",
            line=line,
            expected=f"at most {width} cells",
            found=f"{cells[position - 1][:40]!r} in cell {position}",
            stage="columns",
            problem_de=f"die Zeile hat {n} Zellen, die Kopfzeile aber nur {width} Spalten",
            expected_de=f"höchstens {width} Zellen",
            found_de=f"{cells[position - 1][:40]!r} in Zelle {position}",
        )
    # a short last row without a line end: the file was cut off in the middle of that line
    last = conn.execute(f"SELECT line, n FROM {relation} ORDER BY line DESC LIMIT 1").fetchone()
    if last and not body.ends_with_newline and last[0] == body.last_line and last[1] < width:
        raise DeliveryFormatError(
            file_name,
            "the file ends in the middle of a line — it may be truncated",
            line=last[0],
            expected=f"{width} cells and a line end",
            found=f"{last[1]} cells and the end of the file",
            stage="file",
            problem_de="die Datei endet mitten in einer Zeile – sie ist vielleicht abgeschnitten",
            expected_de=f"{width} Zellen und ein Zeilenende",
            found_de=f"{last[1]} Zellen und das Dateiende",
        )
    if width > 1 and body.rows:
        others = " OR ".join(f"c{i} <> ''" for i in range(1, width))
        filled = conn.execute(f"SELECT count(*) FROM {relation} WHERE {others}").fetchone()[0]
        if not filled:
            first_cell = conn.execute(
                f"SELECT c0 FROM {relation} ORDER BY line LIMIT 1"
            ).fetchone()[0]
            other = [d for d in DELIMITERS if d != raw.delimiter and d in first_cell]
            if other:
                first_line = conn.execute(f"SELECT min(line) FROM {relation}").fetchone()[0]
                raise DeliveryFormatError(
                    file_name,
                    "every data row is a single cell",
                    line=first_line,
                    expected=f"cells separated by {describe(raw.delimiter)} as in the header",
                    found=f"{describe(other[0])} — wrong delimiter?",
                    stage="columns",
                    problem_de="jede Datenzeile besteht aus nur einer Zelle – falsches "
                    "Trennzeichen?",
                    expected_de=f"Zellen getrennt durch {describe_de(raw.delimiter)} wie in "
                    "der Kopfzeile",
                    found_de=f"{describe_de(other[0])} in den Datenzeilen",
                )


_DATA_CELL = re.compile(r"^[+-]?\d[\d.,/ :-]*$")  # 1234, 7,6, 2022/23, 01.03.2024, 05111000


def looks_like_data(cells: list[str]) -> bool:
    """A header line that is really a data line: at least half of its non-empty cells are
    numbers, keys, school years or dates (a header names its columns in words)."""
    filled = [c.strip() for c in cells if c.strip()]
    return bool(filled) and 2 * sum(1 for c in filled if _DATA_CELL.match(c)) >= len(filled)


def missing_header_error(
    file_name: str, line: int, cells: list[str], columns: list[str] | None = None
) -> DeliveryFormatError:
    """The line read as the header holds data: the partner left out the header line.
    `cells`: that line's cells; `columns`: the names the source expects (for the message)."""
    found = "; ".join(repr(c.strip()[:40]) for c in cells[:5]) + (" …" if len(cells) > 5 else "")
    names = "; ".join(repr(c) for c in (columns or [])[:3]) + (" …" if columns else "")
    return DeliveryFormatError(
        file_name,
        "this line holds data, not column names — the header line is missing",
        line=line,
        expected="a header line with the column names" + (f", e.g. {names}" if columns else ""),
        found=found,
        stage="columns",
        problem_de="diese Zeile enthält Daten statt Spaltennamen – die Kopfzeile fehlt",
        expected_de="eine Kopfzeile mit den Spaltennamen" + (f", z. B. {names}" if columns else ""),
        found_de=found,
    )


def _header(cells: list[str], file_name: str, line: int, delim: str, raw: str) -> list[str]:
    names = [_clean_header(c) for c in cells]
    while names and not names[-1]:
        names.pop()
    empty_or_repeated = any(not n for n in names) or len(set(names)) < len(names)
    if len(names) >= 2 and empty_or_repeated and looks_like_data(names):
        raise missing_header_error(file_name, line, names)
    if len(names) < 2:
        others = [d for d in DELIMITERS if d != delim and d in raw]
        found = (
            f"{describe(others[0])} — wrong delimiter?"
            if others
            else f"{raw[:60]!r} — a single column"
        )
        raise DeliveryFormatError(
            file_name,
            "only one column found",
            line=line,
            expected=f"columns separated by {describe(delim)}",
            found=found,
            stage="columns",
            problem_de="nur eine Spalte gefunden" + (" – falsches Trennzeichen?" if others else ""),
            expected_de=f"Spalten getrennt durch {describe_de(delim)}",
            found_de=f"{describe_de(others[0])} in der Kopfzeile"
            if others
            else f"{raw[:60]!r} – eine einzige Spalte",
        )
    for position, name in enumerate(names, start=1):
        if not name:
            raise DeliveryFormatError(
                file_name,
                f"header cell {position} is empty",
                line=line,
                expected="a name for every column",
                found="an empty first cell"
                if position == 1
                else f"an empty cell after the column {names[position - 2]!r}",
                stage="columns",
                problem_de=f"Zelle {position} der Kopfzeile ist leer",
                expected_de="einen Namen für jede Spalte",
                found_de="eine leere erste Zelle"
                if position == 1
                else f"eine leere Zelle nach der Spalte {names[position - 2]!r}",
            )
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if name in seen:
            raise DeliveryFormatError(
                file_name,
                f"columns {seen[name]} and {position} have the same name",
                line=line,
                column=name,
                expected="unique column names",
                stage="columns",
                problem_de=f"die Spalten {seen[name]} und {position} haben denselben Namen",
                expected_de="eindeutige Spaltennamen",
            )
        seen[name] = position
    return names
