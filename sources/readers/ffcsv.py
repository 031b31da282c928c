"""GENESIS flat-file CSV ("ffcsv"), as a file or as the zip the GENESIS REST API returns.

    statistics_code;statistics_label;time_code;time_label;time;
    1_variable_code;1_variable_label;1_variable_attribute_code;1_variable_attribute_label;
    [2_variable_code;...;]value;value_unit;value_variable_code;value_variable_label

UTF-8 with BOM, ';'-separated, one value per row.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from pathlib import Path

import duckdb

from sources.readers.base import DeliveryFormatError, RawTable
from sources.readers.csv import read_csv
from sources.readers.decoding import Source, head_bytes
from sources.scratch import temp_name

REQUIRED = ("time", "value", "value_variable_code")
_ATTRIBUTE = re.compile(r"^\d+_variable_attribute_code$")
_MEMBER_CODE = re.compile(r"^(?P<code>.+?)_\d+(?:_[a-z]{2})?_flat\.csv$", re.IGNORECASE)
_MAX_MEMBER = 2 * 1024**3  # refuse to inflate more than 2 GiB


def _csv_members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    return [
        info
        for info in archive.infolist()
        if not info.is_dir()
        and info.filename.lower().endswith(".csv")
        and not info.filename.startswith("__MACOSX/")
    ]


def unzip_single_csv(data: bytes, file_name: str) -> tuple[bytes, str]:
    """The bytes and name of the one .csv inside a zip payload."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, EOFError, ValueError) as err:
        raise DeliveryFormatError(
            file_name,
            "the zip archive is corrupt or truncated",
            expected="a complete zip archive holding one .csv file",
            found=f"{len(data)} bytes that do not form a readable archive ({err})",
            stage="file",
            problem_de="das zip-Archiv ist beschädigt oder abgeschnitten",
            expected_de="ein vollständiges zip-Archiv mit einer .csv-Datei",
            found_de=f"{len(data)} Bytes, die kein lesbares Archiv ergeben ({err})",
        ) from None
    with archive:
        members = _csv_members(archive)
        if len(members) != 1:
            names = ", ".join(info.filename for info in archive.infolist()) or "nothing"
            raise DeliveryFormatError(
                file_name,
                "the zip archive holds no .csv file"
                if not members
                else f"the zip archive holds {len(members)} .csv files",
                expected="exactly one .csv file",
                found=names,
                stage="file",
                problem_de="das zip-Archiv enthält keine .csv-Datei"
                if not members
                else f"das zip-Archiv enthält {len(members)} .csv-Dateien",
                expected_de="genau eine .csv-Datei",
                found_de=names if archive.infolist() else "nichts",
            )
        info = members[0]
        if info.file_size > _MAX_MEMBER:
            raise DeliveryFormatError(
                file_name,
                f"{info.filename} is too large to unpack",
                expected=f"at most {_MAX_MEMBER} bytes",
                found=f"{info.file_size} bytes",
                stage="file",
                problem_de=f"{info.filename} ist zu groß zum Entpacken",
                expected_de=f"höchstens {_MAX_MEMBER} Bytes",
                found_de=f"{info.file_size} Bytes",
            )
        try:
            return archive.read(info), info.filename
        except (zipfile.BadZipFile, EOFError, zlib.error, OSError) as err:
            raise DeliveryFormatError(
                file_name,
                f"{info.filename} in the zip archive is corrupt or truncated",
                expected="a complete zip archive holding one .csv file",
                found=str(err),
                stage="file",
                problem_de=f"{info.filename} im zip-Archiv ist beschädigt oder abgeschnitten",
                expected_de="ein vollständiges zip-Archiv mit einer .csv-Datei",
                found_de=str(err),
            ) from None


def read_ffcsv(
    data: Source, file_name: str, *, conn: duckdb.DuckDBPyConnection | None = None
) -> RawTable:
    """Read a GENESIS flat file; `data` is the CSV itself or a zip holding exactly one .csv.

    Columns are the ffcsv header names; one row per value. Encoding is detected as for every
    reader (GENESIS writes UTF-8 with BOM), the delimiter must be ';'. Raises
    DeliveryFormatError if `time`, `value`, `value_variable_code` or every
    `N_variable_attribute_code` column is missing. For a zip, errors inside the CSV name it as
    "<file_name> [<member>]"; `metadata["member"]` is the member's name and
    `metadata["table_code"]` the table code taken from a GENESIS member name such as
    "AI-N-01-2-5_1773175147935_de_flat.csv".
    """
    metadata: dict[str, str] = {}
    name = file_name
    if head_bytes(data, 4).startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        payload = data if isinstance(data, bytes) else Path(data).read_bytes()
        data, member = unzip_single_csv(payload, file_name)
        name = f"{file_name} [{member}]"
        metadata["member"] = member
        match = _MEMBER_CODE.match(member.rsplit("/", 1)[-1])
        if match:
            metadata["table_code"] = match.group("code")

    table = read_csv(data, name, delimiter=";", conn=conn)
    missing = [c for c in REQUIRED if c not in table.columns]
    if not any(_ATTRIBUTE.match(c) for c in table.columns):
        missing.append("1_variable_attribute_code")
    if missing:
        raise DeliveryFormatError(
            name,
            "not a GENESIS flat file: missing column"
            + ("s " if len(missing) > 1 else " ")
            + ", ".join(missing),
            line=table.header_line,
            expected="the ffcsv header statistics_code;…;time;1_variable_code;…;"
            "1_variable_attribute_code;…;value;value_unit;value_variable_code;…",
            found="columns " + ";".join(table.columns)[:120],
            stage="columns",
            problem_de="keine GENESIS-Flatfile: "
            + ("es fehlen die Spalten " if len(missing) > 1 else "es fehlt die Spalte ")
            + ", ".join(missing),
            expected_de="die ffcsv-Kopfzeile statistics_code;…;time;1_variable_code;…;"
            "1_variable_attribute_code;…;value;value_unit;value_variable_code;…",
            found_de="die Spalten " + ";".join(table.columns)[:120],
        )
    table.file_name = file_name
    table.metadata.update(metadata)
    return _with_variable_columns(_with_quality(table))


def _with_quality(table: RawTable) -> RawTable:
    """A table fetched with `quality=on` states each value's quality in a column `value_q`
    (`e` estimated, `()` limited informative value, `p` provisional, `r` revised): it is
    written into the value as the printed table writes it — `166 e`, `(12)` — so that the
    value and its flag are read as one cell (sources/symbols.py), never one without the
    other. An unknown flag makes the cell unreadable, and its record is quarantined."""
    if "value_q" not in table.columns:
        return table
    conn, relation = table.conn, table.relation
    assert conn is not None and relation is not None
    value = f"c{table.columns.index('value')}"
    flag = f"c{table.columns.index('value_q')}"
    conn.execute(
        f"UPDATE {relation} SET {value} = CASE WHEN trim({flag}) = '()' "
        f"THEN '(' || trim({value}) || ')' ELSE trim({value}) || ' ' || trim({flag}) END "
        f"WHERE coalesce(trim({flag}), '') <> ''"
    )
    return table


def _with_variable_columns(table: RawTable) -> RawTable:
    """Add one column per classifying variable, named by its code: `variable:GES` holds the
    attribute code (GESM, GESW), `variable:GES:label` its label (männlich, weiblich).

    The position of a variable (1_, 2_, 3_ …) differs between tables and even between
    selections of one table; mappings address it by its code instead. A line that lacks a
    variable (flat files of mixed structure) gets "" there.
    """
    conn, relation = table.conn, table.relation
    assert conn is not None and relation is not None
    numbers = sorted(int(c.split("_", 1)[0]) for c in table.columns if _ATTRIBUTE.match(c))
    index = {name: i for i, name in enumerate(table.columns)}
    slots = [
        (index[f"{n}_variable_code"], index[f"{n}_variable_attribute_code"],
         index.get(f"{n}_variable_attribute_label"))
        for n in numbers
        if f"{n}_variable_code" in index
    ]  # fmt: skip
    if not slots:
        return table
    # in order of first appearance, as a reader going down the file meets them
    seen = _first_seen(conn, relation, slots)
    codes = sorted(seen, key=seen.__getitem__)
    if not codes:
        return table
    extra = []
    width = len(table.columns)
    # each slot's cells stripped once (a CASE per code below reads them many times)
    stripped = {
        position: f"s{position}"
        for code_at, attribute_at, label_at in slots
        for position in (code_at, attribute_at, label_at)
        if position is not None
    }
    for position, code in enumerate(codes):
        literal = code.replace("'", "''")
        attribute = " ".join(
            f"WHEN {stripped[code_at]} = '{literal}' THEN {stripped[attribute_at]}"
            for code_at, attribute_at, _ in reversed(slots)
        )
        label = " ".join(
            f"WHEN {stripped[code_at]} = '{literal}' THEN "
            + (stripped[label_at] if label_at is not None else "''")
            for code_at, _, label_at in reversed(slots)
        )
        extra.append(f"CASE {attribute} ELSE '' END AS c{width + 2 * position}")
        extra.append(f"CASE {label} ELSE '' END AS c{width + 2 * position + 1}")
    widened = temp_name("raw_variables")
    helpers = ", ".join(f"py_strip(c{p}) AS {name}" for p, name in stripped.items())
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE {widened} AS SELECT * EXCLUDE "
        f"({', '.join(stripped.values())}), {', '.join(extra)} "
        f"FROM (SELECT *, {helpers} FROM {relation})"
    )
    conn.execute(f"DROP TABLE {relation}")
    table.relation = widened
    table.columns = [
        *table.columns,
        *(name for code in codes for name in (f"variable:{code}", f"variable:{code}:label")),
    ]
    return table


def _first_seen(
    conn: duckdb.DuckDBPyConnection, relation: str, slots: list[tuple[int, int, int | None]]
) -> dict[str, tuple[int, int]]:
    """Variable code -> (line, slot) where it first appears, reading line by line and, within a
    line, slot by slot."""
    rows = conn.execute(
        " UNION ALL ".join(
            f"SELECT py_strip(c{code_at}) AS code, min(line) AS line, {slot} AS slot "
            f"FROM {relation} WHERE py_strip(c{code_at}) <> '' GROUP BY 1"
            for slot, (code_at, _, _) in enumerate(slots)
        )
    ).fetchall()
    first: dict[str, tuple[int, int]] = {}
    for code, line, slot in rows:
        if code not in first or (line, slot) < first[code]:
            first[code] = (line, slot)
    return first
