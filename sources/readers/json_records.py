"""A JSON API payload (as archived: {"records": [...]}) -> RawTable.

The json_api client concatenates all pages into one payload; each record becomes a row whose
"line" is its position (1-based) in the payload, each key a column. Nested values are kept as
their JSON text, so a mapping can still name them; a record that is not an object is an error
naming its position.
"""

from __future__ import annotations

import json

from sources.readers.base import DeliveryFormatError, RawRow, RawTable


def read_json_records(data: bytes, file_name: str) -> RawTable:
    try:
        payload = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DeliveryFormatError(
            file_name, f"not JSON: {exc}", expected="a JSON document"
        ) from None
    records = payload.get("records") if isinstance(payload, dict) else None
    if not isinstance(records, list):
        raise DeliveryFormatError(
            file_name, "no list of records", expected='{"records": [ {…}, … ]}',
            found=type(payload).__name__,
        )  # fmt: skip
    columns: list[str] = []
    for position, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise DeliveryFormatError(
                file_name, "a record is not an object", line=position,
                expected="a JSON object per record", found=json.dumps(record)[:60],
            )  # fmt: skip
        columns += [key for key in record if key not in columns]
    rows = [
        RawRow(position, tuple(_text(record.get(column)) for column in columns))
        for position, record in enumerate(records, start=1)
    ]
    return RawTable(file_name, columns, rows, encoding="utf-8", delimiter="json", header_line=0)


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
