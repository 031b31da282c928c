"""The "csv" download of GENESIS databases (Regionalstatistik, Landesdatenbank NRW, Destatis).

Layout, as in the real files under sources/demo/official/:

    GENESIS-Tabelle: 21111-9k21                      <- line 1: the table code
    Kommunalprofil: Schulen, Schüler/-innen,;;;;;;   <- title lines (text, then empty cells)
    Statistik der allgemeinbildenden Schulen;;;;;;
    ;;;;;Schulform;Schulform;...                     <- header rows: leading empty cells are the
    ;;;;;Insgesamt;Grundschulen;...                     row-label positions, then value headers
    Nordrhein-Westfalen;2022/23;Schulen;;Anzahl;5023;2794;...     <- data rows
      Düsseldorf, Regierungsbezirk;2022/23;...      <- region names indented by hierarchy
    __________                                       <- footer: notes (quoted, multi-line),
    "Aus Datenschutzgründen ..."                        © licence, "Stand: 09.06.2023 / 12:41:43"
    © IT.NRW, Düsseldorf, 2023. ...
    Stand: 09.06.2023 / 12:41:43
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator

import duckdb

from sources.readers.base import DeliveryFormatError, RawTable
from sources.readers.body import load_body
from sources.readers.csv import csv_error_de
from sources.readers.decoding import Source, Text, check_text

DELIMITER = ";"
_TITLE = re.compile(r'^\ufeff?"?GENESIS-Tabelle:\s*(?P<code>[^";]*)')
_FOOTER = re.compile(r'^"?_{3,}')
_FFCSV_HEADER = re.compile(r"^\ufeff?statistics_code[;,]")


def _footer_line(text: Text, after: int) -> tuple[int | None, int]:
    """(physical line of the first footer line '__________' after line `after`, or None; the
    number of lines of the text). Blocks are searched with str.find, lines tested with the
    pattern only where one may start."""
    line = 1
    for block in text.blocks():
        body = block[:-1] if block.endswith("\n") else block
        candidates = [0] if body.startswith(("_", '"_')) else []
        for marker in ("\n_", '\n"_'):
            at = body.find(marker)
            while at >= 0:
                candidates.append(at + 1)
                at = body.find(marker, at + 1)
        for position in sorted(candidates):
            number = line + body.count("\n", 0, position)
            end = body.find("\n", position)
            if number > after and _FOOTER.match(body[position : end if end >= 0 else None]):
                return number, 0
        line += body.count("\n") + 1
    return None, line - 1


def read_genesis_table(
    data: Source,
    file_name: str,
    *,
    encoding: str = "auto",
    conn: duckdb.DuckDBPyConnection | None = None,
) -> RawTable:
    """Read a GENESIS table CSV (the bytes, or the path of the file).

    Returns a RawTable whose first `label_columns` positions are the row labels (named "") and
    whose value columns are named by their non-empty header cells joined with " | ", e.g.
    "Schulform | Gymnasien". `header_line` is the line of the last header row; the rows are
    the data rows only, cells unstripped (indentation of region names kept), with their
    physical line numbers, in a temporary table of `conn`. `metadata` holds `table_code`,
    `title` (title lines joined with a space), `stand` (e.g. "09.06.2023 / 12:41:43"),
    `licence` (the © text on one line) and `notes` (the other footer text, line breaks kept);
    keys whose part is absent are "".
    """
    text = check_text(data, file_name, encoding)
    conn = conn if conn is not None else duckdb.connect()
    numbered = enumerate(text.lines(), start=1)
    first, first_text = next(((n, t) for n, t in numbered if t.strip()), (1, ""))
    match = _TITLE.match(first_text)
    if match is None:
        found = first_text[:60]
        hint = hint_de = ""
        if _FFCSV_HEADER.match(found):
            hint = " — this is a GENESIS flat file (ffcsv), read it as kind genesis_ffcsv"
            hint_de = (
                " – das ist eine GENESIS-Flatfile (ffcsv), sie ist als kind genesis_ffcsv zu lesen"
            )
        raise DeliveryFormatError(
            file_name,
            "not a GENESIS table: the first line does not name the table",
            line=first,
            expected="'GENESIS-Tabelle: <code>'",
            found=f"{found!r}{hint}",
            stage="file",
            problem_de="keine GENESIS-Tabelle: die erste Zeile nennt keine Tabelle",
            expected_de="'GENESIS-Tabelle: <Code>'",
            found_de=f"{found!r}{hint_de}",
        )
    table_code = match.group("code").strip()

    footer, total = _footer_line(text, first)
    if footer is None:
        raise DeliveryFormatError(
            file_name,
            "the GENESIS footer is missing — the file may be truncated",
            line=total,
            expected="a line '__________' followed by notes, © licence and 'Stand:'",
            found="the end of the file",
            stage="file",
            problem_de="der GENESIS-Tabellenfuß fehlt – die Datei ist vielleicht abgeschnitten",
            expected_de="eine Zeile '__________', danach Fußnoten, ©-Lizenz und 'Stand:'",
            found_de="das Dateiende",
        )

    # title lines and header rows, up to the first data row
    title: list[str] = []
    header_rows: list[tuple[int, list[str]]] = []
    body_lines = ((n, t) for n, t in numbered if n < footer)
    consumed: list[int] = []

    def records() -> Iterator[str]:
        for number, line in body_lines:
            consumed.append(number)
            yield line + "\n"

    reader = csv.reader(records(), delimiter=DELIMITER, strict=True)
    data_from: int | None = None
    next_line = first + 1
    try:
        for cells in reader:
            line = next_line
            next_line = first + 1 + reader.line_num
            if not cells or (not cells[0].strip() and not any(c.strip() for c in cells)):
                continue
            if cells[0] == "":
                header_rows.append((line, cells))
            elif header_rows:
                data_from = line
                break
            else:
                texts = [c.strip() for c in cells if c.strip()]
                if len(texts) > 1 and title:
                    raise DeliveryFormatError(
                        file_name,
                        "no header rows found after the title",
                        line=line,
                        expected="rows starting with ';' (the empty row-label cells) that name "
                        "the value columns",
                        found=f"a data row {DELIMITER.join(cells)[:60]!r}",
                        stage="columns",
                        problem_de="keine Kopfzeilen nach dem Titel gefunden",
                        expected_de="Zeilen, die mit ';' beginnen (den leeren Zellen der "
                        "Zeilenbeschriftungen) und die Wertspalten benennen",
                        found_de=f"eine Datenzeile {DELIMITER.join(cells)[:60]!r}",
                    )
                title.append(" ".join(texts))
    except csv.Error as err:
        raise _malformed(file_name, next_line, err) from None

    if not header_rows:
        raise DeliveryFormatError(
            file_name,
            "no header rows found after the title",
            line=footer,
            expected="rows starting with ';' (the empty row-label cells) that name the value "
            "columns",
            found="the footer",
            stage="columns",
            problem_de="keine Kopfzeilen nach dem Titel gefunden",
            expected_de="Zeilen, die mit ';' beginnen (den leeren Zellen der "
            "Zeilenbeschriftungen) und die Wertspalten benennen",
            found_de="den Tabellenfuß",
        )
    width, label_columns, columns = _columns(header_rows, file_name)
    body = load_body(conn, text, data_from if data_from is not None else footer, width,
                     DELIMITER, stop=footer)  # fmt: skip
    wrong = conn.execute(
        f"SELECT line, n FROM {body.relation} WHERE n <> {width} ORDER BY line LIMIT 1"
    ).fetchone()
    quoting = body.quoting_error
    if quoting is not None and (wrong is None or quoting.line <= wrong[0]):
        raise _malformed(file_name, quoting.line, quoting.error)
    if wrong:
        raise _width_error(file_name, wrong[0], wrong[1], width, label_columns)

    metadata = {"table_code": table_code, "title": " ".join(title)}
    metadata.update(_footer(line + "\n" for line in text.lines(footer + 1)))
    return RawTable(
        file_name,
        columns,
        encoding=text.encoding,
        delimiter=DELIMITER,
        label_columns=label_columns,
        header_line=header_rows[-1][0],
        metadata=metadata,
        conn=conn,
        relation=body.relation,
        row_count=body.rows,
    )


def _malformed(file_name: str, line: int, err: csv.Error) -> DeliveryFormatError:
    return DeliveryFormatError(
        file_name,
        f"malformed quoting: {err}",
        line=line,
        expected="GENESIS table rows separated by ';'",
        stage="columns",
        problem_de=f"fehlerhafte Anführungszeichen: {csv_error_de(str(err))}",
        expected_de="Zeilen einer GENESIS-Tabelle, getrennt durch ';'",
    )


def _width_error(
    file_name: str, line: int, cells: int, width: int, label_columns: int
) -> DeliveryFormatError:
    return DeliveryFormatError(
        file_name,
        f"the data row has {cells} cells but the header has {width}",
        line=line,
        expected=f"{width} cells ({label_columns} labels and {width - label_columns} values)",
        found=f"{cells} cells",
        stage="columns",
        problem_de=f"die Datenzeile hat {cells} Zellen, die Kopfzeilen aber {width}",
        expected_de=f"{width} Zellen ({label_columns} Beschriftungen und "
        f"{width - label_columns} Werte)",
        found_de=f"{cells} Zellen",
    )


def _columns(
    header_rows: list[tuple[int, list[str]]], file_name: str
) -> tuple[int, int, list[str]]:
    """(width, label_columns, column names) from the header rows."""
    width = max(len(cells) for _, cells in header_rows)
    label_columns = min(_leading_empty(cells) for _, cells in header_rows)
    last_line = header_rows[-1][0]
    if label_columns >= width:
        raise DeliveryFormatError(
            file_name,
            "the header rows name no value column",
            line=last_line,
            expected="value-column headers after the empty row-label cells",
            stage="columns",
            problem_de="die Kopfzeilen benennen keine Wertspalte",
            expected_de="Überschriften der Wertspalten nach den leeren Zellen der "
            "Zeilenbeschriftungen",
        )
    columns = [""] * label_columns
    first_position: dict[str, int] = {}
    for position in range(label_columns, width):
        parts = [
            cells[position].strip()
            for _, cells in header_rows
            if position < len(cells) and cells[position].strip()
        ]
        name = " | ".join(parts)
        if not name:
            raise DeliveryFormatError(
                file_name,
                f"value column {position + 1} has no header",
                line=last_line,
                expected="a header for every value column",
                found="empty cells in every header row",
                stage="columns",
                problem_de=f"die Wertspalte {position + 1} hat keine Überschrift",
                expected_de="eine Überschrift für jede Wertspalte",
                found_de="leere Zellen in allen Kopfzeilen",
            )
        if name in first_position:
            raise DeliveryFormatError(
                file_name,
                f"value columns {first_position[name] + 1} and {position + 1} have the same header",
                line=last_line,
                column=name,
                expected="unique column headers",
                stage="columns",
                problem_de=f"die Wertspalten {first_position[name] + 1} und {position + 1} haben "
                "dieselbe Überschrift",
                expected_de="eindeutige Spaltenüberschriften",
            )
        first_position[name] = position
        columns.append(name)
    return width, label_columns, columns


def _leading_empty(cells: list[str]) -> int:
    n = 0
    for cell in cells:
        if cell.strip():
            break
        n += 1
    return n


def _footer(lines: Iterable[str]) -> dict[str, str]:
    """stand, licence and notes from the lines after '__________'."""
    stand = licence = ""
    notes: list[str] = []
    for cells in csv.reader(lines, delimiter=DELIMITER):
        while cells and not cells[-1].strip():
            cells.pop()
        record = DELIMITER.join(cells).strip()
        if not record:
            continue
        if record.startswith("Stand:"):
            stand = record[len("Stand:") :].strip()
        elif record.startswith(("©", "(c)", "(C)")):
            licence = " ".join(part.strip() for part in record.split("\n") if part.strip())
        else:
            notes.append("\n".join(part.rstrip() for part in record.split("\n")))
    return {"stand": stand, "licence": licence, "notes": "\n".join(notes)}
