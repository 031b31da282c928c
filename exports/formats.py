"""Writing an extract: CSV for German Excel, plain CSV, XLSX, Parquet, and the metadata file.

- `csv` (the default): what German Excel and LibreOffice open with a double click — UTF-8 with
  a byte order mark (else Excel guesses cp1252 and garbles ü), `;` between cells, a decimal
  comma, no thousands separator (a `1.234` could be read as 1,234), CRLF line ends;
- `csv-international`: UTF-8 without BOM, `,`, a decimal point;
- `xlsx`: one sheet per table with typed cells (numbers are numbers), and a sheet of notes;
- `parquet`: typed columns; a value-less cell is NULL and its status says why.

Beside the data, `datapackage.json` (a Frictionless Data Package) describes every column.

A text cell that begins with `=`, `+`, `-`, `@` (or a tab or carriage return) would be run as a
formula by a spreadsheet ("CSV injection"): it is written with a leading apostrophe. Numbers,
and the statistical symbols (`-` `.` `...` `x` `/`), are written as they are.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from exports.tables import (
    COLUMNS_DE,
    NUMBER_COLUMNS,
    STATUS_SYMBOL,
    Extract,
    Selection,
    column_type,
    describe,
)

FORMATS = ("csv", "csv-international", "xlsx", "parquet")
SHEET_DE = {"indicators": "Indikatoren", "measures": "Messgrößen"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
SYMBOLS = frozenset({"-", "–", ".", "...", "…", "x", "X", "/"})


def neutralise(text: str) -> str:
    """A text cell a spreadsheet would take for a formula, made plain text."""
    if text.startswith(FORMULA_START) and text not in SYMBOLS and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", "."))
    except ValueError:
        return False
    return True


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _number(value: float, decimal: str) -> str:
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value)).replace(".", decimal)


def symbols(extract: Extract) -> dict[str, str]:
    """status -> the symbol a value-less number cell shows (the protection's own for ours)."""
    rules = extract.rules
    return STATUS_SYMBOL | ({"suppressed": rules.symbol} if rules is not None else {})


def _cell_text(column: str, value: Any, symbol: str, decimal: str) -> str:
    if _missing(value):
        return symbol if column in NUMBER_COLUMNS else ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _number(value, decimal)
    return neutralise(str(value))


def _rows(frame: pd.DataFrame, marks: dict[str, str]) -> Iterable[tuple[dict[str, Any], str]]:
    """Each record with the symbol its value-less number cells show."""
    for record in frame.to_dict("records"):
        yield record, marks.get(record.get("status") or "", "")


def write(extract: Extract, selection: Selection, out: Path, fmt: str) -> list[Path]:
    """Write `extract` into the folder `out` in `fmt`; the files written."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    out.mkdir(parents=True, exist_ok=True)
    if fmt == "xlsx":
        files = [_xlsx(extract, selection, out / "bildungsmonitor.xlsx")]
    elif fmt == "parquet":
        files = []
        for table, frame in extract.frames.items():
            path = out / f"{table}.parquet"
            frame.to_parquet(path, index=False)
            files.append(path)
    else:
        files = [
            _csv(frame, out / f"{table}.csv", fmt, symbols(extract))
            for table, frame in extract.frames.items()
        ]
    files.append(_metadata(extract, selection, files, out / "datapackage.json", fmt))
    return files


def _csv(frame: pd.DataFrame, path: Path, fmt: str, marks: dict[str, str]) -> Path:
    german = fmt == "csv"
    decimal, delimiter = (",", ";") if german else (".", ",")
    with path.open("w", encoding="utf-8-sig" if german else "utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter, lineterminator="\r\n")
        writer.writerow(frame.columns)
        for record, symbol in _rows(frame, marks):
            writer.writerow(_cell_text(c, v, symbol, decimal) for c, v in record.items())
    return path


def _xlsx_value(column: str, value: Any, symbol: str) -> Any:
    if _missing(value):
        return (symbol or None) if column in NUMBER_COLUMNS else None
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() and column == "start_year" else value
    if hasattr(value, "item"):  # numpy scalars: the plain Python value
        return value.item()
    return neutralise(str(value))


def _xlsx(extract: Extract, selection: Selection, path: Path) -> Path:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    for table, frame in extract.frames.items():
        sheet = book.create_sheet(SHEET_DE[table])
        sheet.freeze_panes = "A2"
        sheet.append(list(frame.columns))
        for record, symbol in _rows(frame, symbols(extract)):
            sheet.append([_xlsx_value(c, v, symbol) for c, v in record.items()])
    notes = book.create_sheet("Hinweise")
    for line in notes_de(extract, selection):
        notes.append([neutralise(cell) for cell in line])
    book.save(path)
    return path


def notes_de(extract: Extract, selection: Selection) -> list[list[str]]:
    """The notes sheet: what the file holds, the symbols, the protection, every column."""
    lines = [
        ["Bildungsmonitor Ruhr – Export"],
        ["Stand der Veröffentlichung", extract.published_at],
        ["Auswahl", selection.describe_de()],
        [],
        ["Zeichenerklärung"],
        [".", "Zahlenwert unbekannt oder geheim zu halten"],
        ["...", "Angabe fällt später an / nicht vorhanden"],
        ["x", "Tabellenfach gesperrt, weil Aussage nicht sinnvoll"],
        ["/", "keine Angabe, da Zahlenwert nicht sicher genug"],
        ["-", "genau null (nichts vorhanden)"],
        [],
    ]
    rules = extract.rules
    if extract.public and rules is not None and extract.suppression is not None:
        done = extract.suppression
        lines += [
            ["Geheimhaltung"],
            [
                "Primäre Geheimhaltung",
                f"Fallzahlen von Personen unter {rules.count_threshold} und Quoten mit einem "
                f"Nenner unter {rules.denominator_threshold} sind durch „{rules.symbol}“ ersetzt "
                "(status suppressed).",
            ],
            [
                "Sekundäre Geheimhaltung",
                "Weitere Werte sind gesperrt, damit kein gesperrter Wert aus einer Summe und "
                "ihren übrigen Teilen (Gemeinden eines Kreises, Kreise und Gemeinden des "
                "Ruhrgebiets, Geschlecht und Staatsangehörigkeit, Abschlussarten) "
                "zurückgerechnet werden kann.",
            ],
            [
                "Gesperrte Zellen (ganze Veröffentlichung)",
                f"{done.primary:,} primär, {done.secondary:,} sekundär, "
                f"{done.derived:,} abgeleitet".replace(",", "."),
            ],
            ["Schuldaten", "Werte einzelner Schulen sind in diesem Export nicht enthalten."],
            [],
        ]
    lines.append(["Spalte", "Tabelle", "Bedeutung"])
    for table, frame in extract.frames.items():
        lines += [[c, SHEET_DE[table], COLUMNS_DE[c]] for c in frame.columns]
    return lines


_FRICTIONLESS = {
    "VARCHAR": "string",
    "INTEGER": "integer",
    "BIGINT": "integer",
    "DOUBLE": "number",
    "BOOLEAN": "boolean",
    "TIMESTAMP": "datetime",
}


def _metadata(extract: Extract, selection: Selection, files: list[Path], path: Path, fmt: str):
    """datapackage.json: every resource and column, the CSV dialect, the symbols."""
    german = fmt == "csv"
    resources = []
    for table, frame in extract.frames.items():
        fields = []
        for column in frame.columns:
            spec: dict[str, Any] = {
                "name": column,
                "type": _FRICTIONLESS[column_type(table, column)],
                "description": describe(table, column),
                "description_de": COLUMNS_DE[column],
            }
            if column in NUMBER_COLUMNS:
                spec["missingValues"] = ["", *symbols(extract).values()]
                if german:
                    spec["decimalChar"] = ","
            fields.append(spec)
        resource: dict[str, Any] = {
            "name": table,
            "path": next(f.name for f in files if f.stem in (table, "bildungsmonitor")),
            "rows": len(frame),
            "schema": {"fields": fields},
        }
        if fmt in ("csv", "csv-international"):
            resource["encoding"] = "utf-8-sig" if german else "utf-8"
            resource["dialect"] = {"delimiter": ";" if german else ",", "lineTerminator": "\r\n"}
        if fmt == "xlsx":
            resource["sheet"] = SHEET_DE[table]
        resources.append(resource)
    package = {
        "name": "bildungsmonitor-export",
        "title": "Bildungsmonitor Ruhr – export",
        "created_from_publication": extract.published_at,
        "selection": {
            "indicators": list(selection.indicators),
            "measures": list(selection.measures),
            "regions": list(selection.regions),
            "years": list(selection.years) if selection.years else None,
        },
        "public": extract.public,
        "symbols": {symbol: status for status, symbol in symbols(extract).items()},
        "resources": resources,
    }
    if extract.public and extract.rules is not None:
        package["protection"] = extract.rules.model_dump()
    path.write_text(json.dumps(package, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path
