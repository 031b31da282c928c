"""Partner CSV deliveries: one header row, then data rows.

Quoting follows Excel / RFC 4180 (quoted cells may hold delimiters, doubled quotes and line
breaks) and is read strictly: a quote that is never closed, or text after a closing quote, is
an error naming the line rather than a silently merged cell.
"""

from __future__ import annotations

import csv
import io
import re

from sources.readers.base import DeliveryFormatError, RawRow, RawTable
from sources.readers.text import (
    DELIMITERS,
    decode,
    describe,
    describe_de,
    detect_delimiter,
    sep_hint,
)

_SAMPLE_LINES = 20
_HEADER_JUNK = " \t\ufeff\u00a0\u200b"  # whitespace, BOM remnants, no-break and zero-width space


def _physical_lines(text: str) -> list[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


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


def read_csv(
    data: bytes,
    file_name: str,
    *,
    encoding: str = "auto",
    delimiter: str = "auto",
    header_line: int | None = None,
) -> RawTable:
    """Read a partner CSV: one header row, then data rows, cells as text (not stripped).

    - `encoding`: "auto" or a declared encoding (see `text.decode`).
    - `delimiter`: "auto" (Excel's `sep=` first line if present, else detected from the header
      and the lines after it among ; tab | ,) or a declared one. A declared delimiter that
      contradicts a `sep=` first line is an error.
    - `header_line`: the physical line (1-based) of the header; default: the first non-empty
      line after a `sep=` line. Lines before it are ignored.

    Returned rows carry their physical line number (of their first line if a quoted cell spans
    lines). Header names are stripped; trailing empty header cells are dropped; empty,
    duplicate or missing names are errors. Trailing empty cells beyond the header are dropped,
    a row with a non-empty cell beyond the header is an error, short rows are padded with "".
    Lines that are empty or hold only delimiters/whitespace are skipped.
    """
    text, used = decode(data, file_name, encoding)
    lines = _physical_lines(text)

    # --- the `sep=;` hint and the header line ---------------------------------------------
    hint = sep_hint(lines[0]) if lines else None
    if header_line is None:
        start = 1 if hint else 0
        while start < len(lines) and not lines[start].strip():
            start += 1
        if start >= len(lines):
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
        if header_line < 1 or header_line > len(lines):
            raise DeliveryFormatError(
                file_name,
                f"the header is declared on line {header_line}, "
                f"but the file has {len(lines)} lines",
                expected=f"a header on line {header_line}",
                stage="columns",
                problem_de=f"die Kopfzeile ist für Zeile {header_line} angegeben, "
                f"aber die Datei hat {len(lines)} Zeilen",
                expected_de=f"eine Kopfzeile in Zeile {header_line}",
            )
        start = header_line - 1
        if not lines[start].strip():
            raise DeliveryFormatError(
                file_name,
                "the declared header line is empty",
                line=header_line,
                expected="the column names",
                stage="columns",
                problem_de="die angegebene Kopfzeile ist leer",
                expected_de="die Spaltennamen",
            )

    # --- the delimiter ---------------------------------------------------------------------
    if delimiter == "auto":
        if hint:
            delim = hint
        else:
            sample = lines[start + 1 : start + 1 + _SAMPLE_LINES]
            delim = detect_delimiter(lines[start], sample)
            if delim is None:
                raise DeliveryFormatError(
                    file_name,
                    "only one column found in the header",
                    line=start + 1,
                    expected="columns separated by ';', ',', tab or '|'",
                    found=f"{lines[start][:60]!r}",
                    stage="columns",
                    problem_de="nur eine Spalte in der Kopfzeile gefunden – kein Trennzeichen "
                    "erkannt",
                    expected_de="Spalten getrennt durch ';', ',', Tabulator oder '|'",
                    found_de=f"{lines[start][:60]!r}",
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

    # --- split -------------------------------------------------------------------------------
    reader = csv.reader(io.StringIO("\n".join(lines[start:])), delimiter=delim, strict=True)
    offset = start  # physical line = offset + reader.line_num
    header: list[str] | None = None
    header_at = start + 1
    rows: list[RawRow] = []
    width = 0
    last_short: tuple[int, int] | None = None  # (line, cells) of a short row at the end
    next_line = start + 1
    try:
        for cells in reader:
            line = next_line
            next_line = offset + reader.line_num + 1
            if header is None:
                header = _header(cells, file_name, line, delim, lines[start])
                width = len(header)
                continue
            if not cells or _is_blank(cells):
                continue
            n = len(cells)
            if n > width:
                extra = cells[width:]
                if any(c.strip() for c in extra):
                    position = width + next(i for i, c in enumerate(extra) if c.strip()) + 1
                    raise DeliveryFormatError(
                        file_name,
                        f"the row has {n} cells but the header has {width} columns",
                        line=line,
                        expected=f"at most {width} cells",
                        found=f"{cells[position - 1][:40]!r} in cell {position}",
                        stage="columns",
                        problem_de=f"die Zeile hat {n} Zellen, die Kopfzeile aber nur "
                        f"{width} Spalten",
                        expected_de=f"höchstens {width} Zellen",
                        found_de=f"{cells[position - 1][:40]!r} in Zelle {position}",
                    )
                cells = cells[:width]
            elif n < width:
                cells = cells + [""] * (width - n)
            # a short row that ends on the file's last line: truncated if that has no line end
            last_short = (line, n) if n < width and next_line - 1 == len(lines) else None
            rows.append(RawRow(line, tuple(cells)))
    except csv.Error as err:
        text_line = lines[next_line - 1] if 0 < next_line <= len(lines) else None
        raise _quoting_error(file_name, next_line, err, text_line) from None

    # a short last row without a line end: the file was cut off in the middle of that line
    if last_short and not text.endswith("\n"):
        line, n = last_short
        raise DeliveryFormatError(
            file_name,
            "the file ends in the middle of a line — it may be truncated",
            line=line,
            expected=f"{width} cells and a line end",
            found=f"{n} cells and the end of the file",
            stage="file",
            problem_de="die Datei endet mitten in einer Zeile – sie ist vielleicht abgeschnitten",
            expected_de=f"{width} Zellen und ein Zeilenende",
            found_de=f"{n} Zellen und das Dateiende",
        )

    assert header is not None
    if width > 1 and rows and all(not any(c for c in r.cells[1:]) for r in rows):
        other = [d for d in DELIMITERS if d != delim and d in rows[0].cells[0]]
        if other:
            raise DeliveryFormatError(
                file_name,
                "every data row is a single cell",
                line=rows[0].line,
                expected=f"cells separated by {describe(delim)} as in the header",
                found=f"{describe(other[0])} — wrong delimiter?",
                stage="columns",
                problem_de="jede Datenzeile besteht aus nur einer Zelle – falsches Trennzeichen?",
                expected_de=f"Zellen getrennt durch {describe_de(delim)} wie in der Kopfzeile",
                found_de=f"{describe_de(other[0])} in den Datenzeilen",
            )

    return RawTable(
        file_name=file_name,
        columns=header,
        rows=rows,
        encoding=used,
        delimiter=delim,
        label_columns=0,
        header_line=header_at,
        metadata={"sep_line": "1"} if hint else {},
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
