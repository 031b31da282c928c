"""A JSON API payload (as archived: {"records": [...]}) -> RawTable.

The json_api client concatenates all pages into one payload; each record becomes a row whose
"line" is its position (1-based) in the payload, each key a column. Nested values are kept as
their JSON text, so a mapping can still name them; a record that is not an object is an error
naming its position.
"""

from __future__ import annotations

import json
from pathlib import Path

from sources.readers.base import DeliveryFormatError, RawRow, RawTable


def read_json_records(data: bytes | Path, file_name: str) -> RawTable:
    if isinstance(data, Path):
        data = data.read_bytes()  # an API payload: pages of records, not a bulk file
    try:
        payload = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DeliveryFormatError(
            file_name,
            f"not JSON: {exc}",
            expected="a JSON document",
            stage="file",
            problem_de=f"kein gültiges JSON: {_json_error_de(exc)}",
            expected_de="ein JSON-Dokument",
        ) from None
    records = payload.get("records") if isinstance(payload, dict) else None
    if not isinstance(records, list):
        kind = type(payload).__name__
        raise DeliveryFormatError(
            file_name,
            "no list of records",
            expected='{"records": [ {…}, … ]}',
            found=kind,
            stage="file",
            problem_de="keine Liste von Datensätzen",
            expected_de='{"records": [ {…}, … ]}',
            found_de=_TYPES_DE.get(kind, kind),
        )
    columns: list[str] = []
    for position, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise DeliveryFormatError(
                file_name,
                "a record is not an object",
                line=position,
                expected="a JSON object per record",
                found=json.dumps(record)[:60],
                stage="columns",
                problem_de="ein Datensatz ist kein Objekt",
                expected_de="ein JSON-Objekt je Datensatz",
                found_de=json.dumps(record)[:60],
            )
        columns += [key for key in record if key not in columns]
    rows = [
        RawRow(position, tuple(_text(record.get(column)) for column in columns))
        for position, record in enumerate(records, start=1)
    ]
    return RawTable(file_name, columns, rows, encoding="utf-8", delimiter="json", header_line=0)


_TYPES_DE = {
    "dict": "ein Objekt ohne eine Liste 'records'",
    "list": "eine Liste",
    "str": "eine Zeichenkette",
    "int": "eine Zahl",
    "float": "eine Zahl",
    "bool": "einen Wahrheitswert",
    "NoneType": "null",
}
_JSON_MESSAGES_DE = {
    "Expecting value": "ein Wert wird erwartet",
    "Extra data": "weitere Daten nach dem Ende des Dokuments",
    "Unterminated string starting at": "eine Zeichenkette wird nicht beendet, sie beginnt",
    "Expecting property name enclosed in double quotes": "ein Name in doppelten "
    "Anführungszeichen wird erwartet",
    "Expecting ',' delimiter": "',' wird erwartet",
    "Expecting ':' delimiter": "':' wird erwartet",
    "Invalid control character at": "ein ungültiges Steuerzeichen",
    "Invalid \\escape": "eine ungültige Escape-Sequenz (\\)",
}


def _json_error_de(exc: UnicodeDecodeError | json.JSONDecodeError) -> str:
    """The decoder's message in German, with line and column as the English one has them."""
    if isinstance(exc, UnicodeDecodeError):
        return (
            f"Byte 0x{exc.object[exc.start]:02x} an Byte-Position {exc.start} ist kein gültiges "
            "UTF-8"
        )
    message = _JSON_MESSAGES_DE.get(exc.msg, exc.msg)
    return f"{message}: Zeile {exc.lineno}, Spalte {exc.colno} (Zeichen {exc.pos})"


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
