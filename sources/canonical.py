"""A read delivery (RawTable) -> canonical records, as its registry YAML says.

Structural problems (a mapped column missing, row labels that do not fit) raise
DeliveryFormatError: the whole delivery is unusable. Problems of single cells (a value that is
not a number, an unknown region name, a malformed school year) do not: the record keeps the
problem text in its `problem` column (and in German in `problem_de`, for partners),
validation quarantines it with that reason, and the rest of the delivery loads.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import duckdb
import numpy as np

from schemas.catalogue import load_catalogue
from schemas.tables import (
    NUMERIC_STATUSES,
)
from sources.periods import (
    FORMAT_NAMES_DE,
    FORMATS,
    FORMATS_DE,
    PeriodError,
    readable_as,
    start_year,
)
from sources.readers.base import DeliveryFormatError, RawTable
from sources.readers.body import ensure_macros
from sources.readers.csv import looks_like_data, missing_header_error
from sources.registry import MeasureMapping, Source
from sources.scratch import register, temp_name, unordered
from sources.symbols import CellError, NumberFormat, parse_cell

# A record's row_id: line × ROW_STRIDE + the position of its value column in the mapping, so
# that ids follow the delivery's order without numbering (a sort) over millions of records.
ROW_STRIDE = 1_000_000

# Columns of the records frame handed to validation (RECORD_COLUMNS minus delivery/source ids,
# plus what validation and traceability need).
FRAME_COLUMNS = (
    "measure",
    "region_code",
    "region_label",
    "school_number",
    "school_year",
    "start_year",
    "sex",
    "nationality",
    "value",
    "status",
    "raw_value",
    "source_line",
    "source_column",
    "problem",
    "problem_de",
    "problem_column",  # the cell a partner must fix: the record's own, or the line's key cell
)

_DIMENSIONS_DE = {"sex": "Geschlecht", "nationality": "Staatsangehörigkeit"}


@dataclass
class RegionResolver:
    """Turns the region cells of a delivery into official keys.

    `match_names` resolves a whole column of (possibly indented) names in file order and
    returns (code or None, reason) per cell; `school_regions` maps Schulnummer -> AGS.
    """

    match_names: Callable[[list[str], str | None], list[tuple[str | None, str | None]]] | None = (
        None
    )
    school_regions: Mapping[str, str] = field(default_factory=dict)


def _column_positions(raw: RawTable, mapping: MeasureMapping) -> dict[str, int]:
    """Name -> position, with GENESIS row-label columns named by the mapping's `labels`."""
    names = list(raw.columns)
    if raw.label_columns:
        if len(mapping.labels) != raw.label_columns:
            raise DeliveryFormatError(
                raw.file_name,
                "the table's row labels do not fit the source's mapping",
                line=raw.header_line,
                expected=f"{len(mapping.labels)} row-label columns ({', '.join(mapping.labels)})",
                found=f"{raw.label_columns}",
                stage="columns",
                problem_de="die Zeilenbeschriftungen der Tabelle passen nicht zu den für "
                "diese Quelle vereinbarten",
                expected_de=f"{len(mapping.labels)} Spalten mit Zeilenbeschriftungen "
                f"({', '.join(mapping.labels)})",
                found_de=f"{raw.label_columns}",
            )
        names[: raw.label_columns] = mapping.labels
    return {name: i for i, name in enumerate(names)}


def _require_columns(raw: RawTable, positions: dict[str, int], required: list[str]) -> None:
    missing = [c for c in dict.fromkeys(required) if c not in positions]
    if not missing:
        return
    wanted = list(dict.fromkeys(required))
    if (
        len(missing) == len(wanted)
        and not raw.label_columns
        and raw.header_line >= 1
        and looks_like_data(raw.columns)
    ):  # not one expected name, but numbers and keys: the header line was left out
        raise missing_header_error(raw.file_name, raw.header_line, raw.columns, wanted)
    available = [c for c in positions if c]
    hints = []
    hints_de = []
    for column in missing:
        close = difflib.get_close_matches(column, available, n=1, cutoff=0.6)
        hints.append(f"{column!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        hints_de.append(f"{column!r}" + (f" (meinten Sie {close[0]!r}?)" if close else ""))
    listed = "; ".join(repr(c) for c in available[:12]) + (" …" if len(available) > 12 else "")
    raise DeliveryFormatError(
        raw.file_name,
        f"missing column{'s' if len(missing) > 1 else ''} {', '.join(hints)}",
        line=raw.header_line,
        column=missing[0],
        expected="the columns named in the source's mapping",
        found=f"{len(available)} column(s): " + listed,
        stage="columns",
        problem_de=f"{'Spalten fehlen' if len(missing) > 1 else 'Spalte fehlt'}: "
        + ", ".join(hints_de),
        expected_de="die Spalten, die für diese Quelle vereinbart sind",
        found_de=f"{len(available)} {'Spalte' if len(available) == 1 else 'Spalten'}: " + listed,
    )


# every time rule a source may declare: sources/periods.py
_YearError = PeriodError
_school_year = start_year


# The English messages of schemas.tables.parse_school_year and of the region matcher
# (schemas/regions.py), in German. A message none of them fits keeps its English text behind a
# German prefix.
_YEAR_MESSAGES_DE: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"school year (?P<cell>.+) is not of the form 2022/23"),
        "Schuljahr {cell} hat nicht die Form 2022/23",
    ),
    (
        re.compile(
            r"school year (?P<cell>.+): the second year must follow the first "
            r"\(expected (?P<label>[^)]+)\)"
        ),
        "Schuljahr {cell}: das zweite Jahr muss auf das erste folgen (erwartet {label})",
    ),
)
_REGION_MESSAGES_DE: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"region key is empty"), "Gebietsschlüssel ist leer"),
    (re.compile(r"empty region name"), "Gebietsname ist leer"),
    (
        re.compile(r"unknown parent region (?P<parent>.+)"),
        "unbekanntes übergeordnetes Gebiet {parent}",
    ),
    (
        re.compile(
            r"unknown region name (?P<name>.+) in scope (?P<scope>\S+) "
            r"\(outside it: (?P<codes>.*)\)"
        ),
        "unbekannter Gebietsname {name} innerhalb von {scope} (passt außerhalb: {codes})",
    ),
    (re.compile(r"unknown region name (?P<name>.+)"), "unbekannter Gebietsname {name}"),
    (
        re.compile(r"no (?P<what>.+?) named (?P<name>.+); the name fits (?P<codes>.*)"),
        "keine Übereinstimmung für {name} als {what}; der Name passt zu {codes}",
    ),
    (
        re.compile(
            r"(?P<name>.+) names only historical regions \((?P<codes>.*)\); "
            r"use include_historical=True"
        ),
        "{name} bezeichnet nur ehemalige Gebiete ({codes}); include_historical=True verwenden",
    ),
    (
        re.compile(
            r"no region named (?P<name>.+) below (?P<parent>\S+) \(elsewhere: (?P<codes>.*)\)"
        ),
        "kein Gebiet namens {name} unterhalb von {parent} (anderswo: {codes})",
    ),
    (
        re.compile(
            r"ambiguous: (?P<name>.+) matches (?P<n>\d+) regions \((?P<codes>.*)\); (?P<hint>.*)"
        ),
        "mehrdeutig: {name} passt zu {n} Gebieten ({codes}); {hint}",
    ),
)
_WORDS_DE = {
    # region kinds and levels in the matcher's messages
    "region": "Gebiet",
    "kreisfreie Stadt": "kreisfreie Stadt",
    "land": "Land",
    "kreis": "Kreis",
    "gemeinde": "Gemeinde",
    "regierungsbezirk": "Regierungsbezirk",
    "verband": "Verband",
    # the matcher's hints for ambiguous names
    "the name does not tell them apart": "der Name unterscheidet sie nicht",
    "give a Land scope or a parent": "bitte ein Land als Bereich (scope) oder ein "
    "übergeordnetes Gebiet angeben",
    "give a parent": "bitte ein übergeordnetes Gebiet angeben",
}


def _translate(
    message: str, patterns: tuple[tuple[re.Pattern[str], str], ...], fallback: str
) -> str:
    for pattern, template in patterns:
        match = pattern.fullmatch(message)
        if match:
            parts = {k: _WORDS_DE.get(v, v) for k, v in match.groupdict().items()}
            return template.format(**parts)
    return f"{fallback}: {message}"


def region_problem_de(reason: str) -> str:
    """A region reason (empty key, the region matcher's English reasons) in German."""
    return _translate(reason, _REGION_MESSAGES_DE, "Gebiet")


def year_problem_de(exc: ValueError) -> str:
    """A school-year/date error in German (ours carry it; parse_school_year's are mapped)."""
    german = getattr(exc, "message_de", None)
    if german is not None:
        return german
    return _translate(str(exc), _YEAR_MESSAGES_DE, "Schuljahr")


def _school_problem_de(reason: str) -> str:
    match = re.fullmatch(r"Schulnummer (?P<number>.+) is not in the school directory", reason)
    if match:
        return f"Schulnummer {match.group('number')} steht nicht im Schulverzeichnis"
    return region_problem_de(reason)


def mapped_columns(raw: RawTable, source: Source) -> tuple[list[str], list[str]]:
    """(the columns the mapping needs, the delivered columns it does not use); raises
    DeliveryFormatError naming a missing column."""
    mapping = source.measures
    assert mapping is not None, f"{source.id} is not a measure source"
    positions = _column_positions(raw, mapping)
    required = _required(mapping, positions)
    _require_columns(raw, positions, required)
    if source.kind in ("genesis_ffcsv", "genesis_api"):
        return list(dict.fromkeys(required)), []  # a fixed format: its other columns are known
    unused = [
        c
        for c in raw.columns[raw.label_columns :]
        if c and c not in required and c not in mapping.ignore_columns
    ]
    return list(dict.fromkeys(required)), unused


def _region_columns(mapping: MeasureMapping, positions: dict[str, int]) -> list[str]:
    """The region columns the delivery has (of several, a flat file may lack some levels);
    the first one, to be named as missing, if it has none."""
    columns = mapping.region_columns
    if not columns or columns[0] != mapping.region_column:  # a copy given another column
        columns = (mapping.region_column,)
    return [c for c in columns if c in positions] or [columns[0]]


def _required(mapping: MeasureMapping, positions: dict[str, int]) -> list[str]:
    dims = [mapping.sex, mapping.nationality]
    required = [*_region_columns(mapping, positions), mapping.year_column]
    required += [d.column for d in dims if d.column]
    required += [lk.column for lk in mapping.lookups.values()]
    required += list(mapping.filters)
    required += [v.column for v in mapping.values]
    return required


class _Relations:
    """Temporary tables of one mapping, named once, dropped together."""

    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self.conn = conn
        self.names: list[str] = []

    def name(self, stem: str) -> str:
        name = temp_name(stem)
        self.names.append(name)
        return name

    def load(self, stem: str, columns: dict[str, str], rows: list[tuple]) -> str:
        """A table of Python-computed rows (lookups of distinct cells); `columns`: name ->
        DuckDB type. Scanned from NumPy arrays: pyarrow's arrays of Python values import
        pandas (a second of the screener's start) for nothing."""
        name = self.name(stem)
        values = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
        arrays = {}
        for column, value in zip(columns, values, strict=True):
            arrays[column] = np.empty(len(value), dtype=object)
            arrays[column][:] = value
        register(self.conn, "lookup_rows", arrays)
        typed = ", ".join(f"{c}::{t} AS {c}" for c, t in columns.items())
        try:
            self.conn.execute(
                f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {typed} FROM lookup_rows"
            )
        finally:
            self.conn.unregister("lookup_rows")
        return name

    def drop(self) -> None:
        for name in self.names:
            self.conn.execute(f"DROP TABLE IF EXISTS {name}")
        self.names = []


_TEXT = "VARCHAR"


def _lit(value: str | None) -> str:
    return "NULL" if value is None else "'" + value.replace("'", "''") + "'"


def _distinct(conn: duckdb.DuckDBPyConnection, expression: str, relation: str) -> list[str]:
    return [v for (v,) in conn.execute(f"SELECT DISTINCT {expression} FROM {relation}").fetchall()]


def _simple_number(text: str, decimal: str) -> str:
    """SQL: the cells Python's parse_cell reads as a plain number with status ok, and the
    value, without calling Python: digits, an optional minus, the declared decimal
    separator. Everything else (symbols, flags, spaces, separators, text) goes to Python."""
    sep = "\\." if decimal == "." else decimal
    return f"regexp_full_match({text}, '-?[0-9]+({sep}[0-9]+)?')"


def _plain_number(text: str, source: Source) -> str:
    """SQL: _simple_number, but never a code the source declared (-1 may mean "missing")."""
    simple = _simple_number(text, source.decimal)
    if not source.symbols:
        return simple
    codes = ", ".join(_lit(code) for code, _ in source.symbols)
    numbers = [float(code) for code, _ in source.symbols if re.fullmatch(r"[+-]?\d+(\.\d+)?", code)]
    declared = f"{text} IN ({codes})"
    if numbers:
        listed = ", ".join(repr(n) for n in numbers)
        declared += f" OR TRY_CAST(replace({text}, ',', '.') AS DOUBLE) IN ({listed})"
    return f"({simple} AND NOT coalesce({declared}, false))"


def to_records(
    raw: RawTable,
    source: Source,
    resolver: RegionResolver,
    conn: duckdb.DuckDBPyConnection | None = None,
) -> str:
    """The delivery as canonical records (FRAME_COLUMNS), one row per delivered value, in a
    temporary table of `conn` (default: the connection the raw table lives in); `row_id`
    orders them as delivered (line, then the mapping's order of value columns) — the table
    itself is in no particular order."""
    mapping = source.measures
    assert mapping is not None, f"{source.id} is not a measure source"
    positions = _column_positions(raw, mapping)
    _require_columns(raw, positions, _required(mapping, positions))
    conn = conn if conn is not None else (raw.conn or duckdb.connect())
    ensure_macros(conn)
    relation = raw.table_in(conn)
    temp = _Relations(conn)
    try:
        return _to_records(conn, relation, raw, source, resolver, positions, temp)
    finally:
        temp.drop()


def _unreadable_time(conn, raw: RawTable, mapping, rows: str, year_cell: str, example: str):
    """The structural error of a time column none of whose cells the declared rule reads."""
    fmt = mapping.year_format
    line = conn.execute(
        f"SELECT min(line) FROM {rows} WHERE {year_cell} IS NOT DISTINCT FROM ?", [example]
    ).fetchone()[0]
    fitting = readable_as(example)
    hint = (
        f"; it reads as {' or '.join(fitting)}: declare `school_year: {{format: {fitting[0]}}}` "
        "in the source's YAML"
    )
    hint_de = (
        f"; lesbar als {' oder '.join(FORMAT_NAMES_DE[f] for f in fitting)} — die "
        "Geschäftsstelle passt die Beschreibung der Quelle an"
    )
    return DeliveryFormatError(
        raw.file_name,
        f"no cell of the time column is a {fmt} ({FORMATS[fmt]}){hint}",
        line=line,
        column=mapping.year_column,
        expected=FORMATS[fmt],
        found=repr(example),
        stage="columns",
        problem_de=f"keine Zeitangabe der Spalte hat die vereinbarte Form "
        f"({FORMAT_NAMES_DE[fmt]}){hint_de}",
        expected_de=FORMATS_DE[fmt],
        found_de=repr(example),
    )


def _cell(positions: dict[str, int], column: str) -> str:
    return f"c{positions[column]}"


def _to_records(conn, relation, raw, source, resolver, positions, temp) -> str:
    mapping = source.measures
    school_grain = mapping.region_by == "school_number"
    # --- the rows the mapping keeps ---------------------------------------------------------
    rows = relation
    if mapping.filters:
        rows = temp.name("rows")
        where = " AND ".join(
            f"py_strip({_cell(positions, c)}) IN ({', '.join(_lit(v) for v in values)})"
            for c, values in mapping.filters.items()
        )
        conn.execute(f"CREATE TEMP TABLE {rows} AS SELECT * FROM {relation} WHERE {where}")
    region_columns = _region_columns(mapping, positions)
    if len(region_columns) > 1:  # one variable per level: the line's first non-empty one
        levels = rows
        rows = temp.name("rows_region")
        first = ", ".join(f"nullif(py_strip({_cell(positions, c)}), '')" for c in region_columns)
        conn.execute(
            f"CREATE TEMP TABLE {rows} AS SELECT *, coalesce({first}, '') AS c_region FROM {levels}"
        )
        region_cell = "c_region"
    else:
        region_cell = _cell(positions, region_columns[0])
    year_cell = _cell(positions, mapping.year_column)
    joins: list[str] = []
    fields: dict[str, str] = {}

    # --- regions ------------------------------------------------------------------------------
    if mapping.region_by == "key":
        fields["region_code"] = f"nullif(py_strip(r.{region_cell}), '')"
        empty = "region key is empty"
        fields["region_problem"] = (
            f"CASE WHEN py_strip(r.{region_cell}) = '' THEN {_lit(empty)} END"
        )
        fields["region_problem_de"] = (
            f"CASE WHEN py_strip(r.{region_cell}) = '' THEN {_lit(region_problem_de(empty))} END"
        )
    elif mapping.region_by == "name":
        if resolver.match_names is None:
            raise RuntimeError("no region-name matcher configured")
        # a repeated name below itself resolves as the first: match each run of names once
        starts = conn.execute(
            f"SELECT line, {region_cell} FROM {rows} "
            f"QUALIFY {region_cell} IS DISTINCT FROM lag({region_cell}) OVER (ORDER BY line) "
            "ORDER BY line"
        ).fetchall()
        matched = resolver.match_names([cell for _, cell in starts], mapping.region_scope)
        runs = temp.load(
            "region_runs",
            {"start_line": "INTEGER", "code": _TEXT, "reason": _TEXT, "reason_de": _TEXT},
            [
                (line, code, reason, region_problem_de(reason) if reason else None)
                for (line, _), (code, reason) in zip(starts, matched, strict=True)
            ],
        )
        joins.append(f"ASOF LEFT JOIN {runs} g ON r.line >= g.start_line")
        fields["region_code"] = "g.code"
        fields["region_problem"] = "g.reason"
        fields["region_problem_de"] = "g.reason_de"
    else:
        numbers = _distinct(conn, f"py_strip({region_cell})", rows)
        schools = []
        for number in numbers:
            region = resolver.school_regions.get(number)
            reason = None if region else f"Schulnummer {number!r} is not in the school directory"
            schools.append((number, region, reason, _school_problem_de(reason) if reason else None))
        table = temp.load(
            "schools",
            {"number": _TEXT, "code": _TEXT, "reason": _TEXT, "reason_de": _TEXT},
            schools,
        )
        joins.append(f"LEFT JOIN {table} s ON s.number = py_strip(r.{region_cell})")
        fields["region_code"] = "s.code"
        fields["region_problem"] = "s.reason"
        fields["region_problem_de"] = "s.reason_de"
    fields["region_label"] = f"py_strip(r.{region_cell})"
    fields["school_number"] = f"py_strip(r.{region_cell})" if school_grain else "''"

    # --- school years: each distinct cell once ------------------------------------------------
    years = []
    for text in _distinct(conn, year_cell, rows):
        try:
            years.append(
                (text, _school_year(text, mapping.year_format, mapping.year_anchor), None, None)
            )
        except ValueError as exc:
            years.append(
                (
                    text,
                    None,
                    f"column {mapping.year_column!r}: {exc}",
                    f"Spalte {mapping.year_column!r}: {year_problem_de(exc)}",
                )
            )
    if years and all(start is None for _, start, _, _ in years):
        # not one cell fits the declared rule, but they fit another: the YAML declares the
        # wrong rule (GENESIS semesters read as years …) — a structural error saying which fits
        example = next((text for text, *_ in years if readable_as(text or "")), None)
        if example is not None:
            raise _unreadable_time(conn, raw, mapping, rows, year_cell, example)
    year_table = temp.load(
        "years",
        {"text": _TEXT, "start_year": "INTEGER", "problem": _TEXT, "problem_de": _TEXT},
        years,
    )
    joins.append(f"LEFT JOIN {year_table} y ON y.text = r.{year_cell}")
    fields["start_year"] = "y.start_year"
    fields["year_problem"] = "y.problem"
    fields["year_problem_de"] = "y.problem_de"

    # --- a line with fewer cells than the header: a cell is missing somewhere, so the values
    # after it stand one column early — never padded and read as if nothing were wrong
    problems: list[tuple[str, str | None]] = []
    if raw.header_cells is not None:  # the reader of delimited text counted each line's cells
        width = raw.header_cells
        fields["cells_problem"] = (
            f"CASE WHEN r.n < {width} THEN 'the line has ' || r.n || ' cells, the header "
            f"{width}: a cell is missing, the values after it would stand in the wrong "
            "columns' END"
        )
        fields["cells_problem_de"] = (
            f"CASE WHEN r.n < {width} THEN 'die Zeile hat ' || r.n || ' Zellen, die Kopfzeile "
            f"{width}: eine Zelle fehlt, die Werte danach stünden in falschen Spalten' END"
        )
        problems.append(("cells_problem", None))

    # --- subgroups and lookups: value maps over each column's distinct cells -------------------
    problems += [
        ("region_problem", mapping.region_column),
        ("year_problem", mapping.year_column),
    ]
    maps: list[tuple[str, str, dict[str, str], Callable[[str, str], tuple[str, str]]]] = []
    for dim, name in ((mapping.sex, "sex"), (mapping.nationality, "nationality")):
        if dim.constant is not None:
            fields[name] = _lit(dim.constant)
            continue
        allowed = ", ".join(repr(k) for k in dim.values)

        def dim_problem(text, column=dim.column, name=name, allowed=allowed):
            return (
                f"column {column!r}: {name} {text!r} is not one of {allowed}",
                f"Spalte {column!r}: {_DIMENSIONS_DE[name]} {text!r} ist keiner der Werte "
                f"{allowed}",
            )

        maps.append((name, dim.column, dim.values, dim_problem))
    for name, lookup in mapping.lookups.items():
        allowed = ", ".join(repr(k) for k in lookup.values)

        def lookup_problem(text, column=lookup.column, name=name, allowed=allowed):
            return (
                f"column {column!r}: {text!r} is not one of {allowed} (lookup {name!r})",
                f"Spalte {column!r}: {text!r} ist keiner der Werte {allowed} (Zuordnung {name!r})",
            )

        maps.append((f"lookup_{name}", lookup.column, lookup.values, lookup_problem))
    for alias_index, (target, column, values, problem) in enumerate(maps):
        cell = _cell(positions, column)
        entries = []
        for text in _distinct(conn, f"py_strip({cell})", rows):
            mapped = values.get(text)
            en, de = problem(text) if mapped is None else (None, None)
            entries.append((text, mapped, en, de))
        table = temp.load(
            f"map_{alias_index}",
            {"text": _TEXT, "mapped": _TEXT, "problem": _TEXT, "problem_de": _TEXT},
            entries,
        )
        alias = f"m{alias_index}"
        joins.append(f"LEFT JOIN {table} {alias} ON {alias}.text = py_strip(r.{cell})")
        fields[target] = f"{alias}.mapped"
        fields[f"{target}_problem"] = f"{alias}.problem"
        fields[f"{target}_problem_de"] = f"{alias}.problem_de"
        problems.append((f"{target}_problem", column))
    row_problem = ", ".join(name for name, _ in problems)
    row_problem_de = ", ".join(f"{name}_de" for name, _ in problems)
    first_problem_column = ", ".join(
        f"CASE WHEN {name} IS NOT NULL THEN {_lit(column) if column else 'NULL'} END"
        for name, column in problems
    )

    # --- one row per line with everything the line says, and its value cells v0 … ------------
    values = mapping.values
    lines = temp.name("lines")
    row_problem = f"nullif(concat_ws('; ', {row_problem}), '')"
    row_problem_de = f"nullif(concat_ws('; ', {row_problem_de}), '')"
    cells = ", ".join(f"r.{_cell(positions, v.column)} AS v{k}" for k, v in enumerate(values))
    label = "start_year || '/' || lpad(((start_year + 1) % 100)::VARCHAR, 2, '0')"
    conn.execute(
        f"CREATE TEMP TABLE {lines} AS SELECT * EXCLUDE ({', '.join(_problem_fields(problems))}), "
        f"{label} AS school_year, {row_problem} AS row_problem, "
        f"{row_problem_de} AS row_problem_de, coalesce({first_problem_column}) "
        f"AS row_problem_column FROM (SELECT r.line, "
        + ", ".join(f"{expr} AS {name}" for name, expr in fields.items())
        + f", {cells} FROM {rows} r {' '.join(joins)})"
    )

    # --- every value cell parsed: plain numbers in SQL, the rest once per distinct text ----
    simple = _plain_number("text", source)
    number_format = NumberFormat(
        decimal=source.decimal, thousands=source.thousands, symbols=source.symbols
    )
    every_cell = " UNION ".join(
        f"SELECT DISTINCT v{k} AS text FROM {lines}" for k in range(len(values))
    )
    parsed = []
    for text in _distinct(conn, "text", f"({every_cell}) WHERE NOT {simple}"):
        try:
            value, status = parse_cell(text, number_format)
            parsed.append((text, value, status, None, None))
        except CellError as exc:
            parsed.append((text, None, None, str(exc), exc.message_de))
    parsed_table = temp.load(
        "parsed",
        {"text": _TEXT, "value": "DOUBLE", "status": _TEXT, "problem": _TEXT,
         "problem_de": _TEXT},
        parsed,
    )  # fmt: skip
    plain = "CAST(replace(c.text, ',', '.') AS DOUBLE)" if source.decimal == "," else (
        "CAST(c.text AS DOUBLE)"
    )  # fmt: skip
    targets = temp.load(
        "targets",
        {"k": "INTEGER", "column_name": _TEXT, "column_label": _TEXT, "template": _TEXT,
         "sex": _TEXT, "nationality": _TEXT},
        [(k, v.column, repr(v.column), v.measure, v.sex, v.nationality)
         for k, v in enumerate(values)],
    )  # fmt: skip
    measure = "t.template"
    for name in mapping.lookups:
        measure = f"replace({measure}, {_lit('{' + name + '}')}, c.lookup_{name})"
    unpivoted = (
        f"(SELECT * EXCLUDE (cell), CAST(substr(cell, 2) AS INTEGER) AS k FROM "
        f"(UNPIVOT {lines} ON {', '.join(f'v{k}' for k in range(len(values)))} "
        f"INTO NAME cell VALUE text))"
    )
    # one row per value cell, the line's fields along (no join with the lines again); `parsed`
    # holds only texts that are no plain number, so a match says the cell went to Python
    cell_values = f"""
        SELECT c.* EXCLUDE (text, k, sex, nationality), c.k, {measure} AS measure,
            coalesce(t.sex, c.sex) AS sex, coalesce(t.nationality, c.nationality) AS nationality,
            CASE WHEN p.text IS NULL THEN {plain} ELSE p.value END AS value,
            CASE WHEN p.text IS NULL THEN 'ok' ELSE p.status END AS status,
            c.text AS raw_value, t.column_name AS source_column,
            'column ' || t.column_label || ': ' || p.problem AS cell_problem,
            'Spalte ' || t.column_label || ': ' || p.problem_de AS cell_problem_de
        FROM {unpivoted} c JOIN {targets} t ON t.k = c.k
        LEFT JOIN {parsed_table} p ON p.text = c.text"""

    # --- columns of one line that map to one measure are added up (IT.NRW's Förderschulen):
    # only the columns that can meet another are grouped, the others pass through
    merging = _merging_columns(mapping)
    if merging:
        merged = temp.name("merged")
        per_cell = temp.name("cell_values")
        conn.execute(f"CREATE TEMP TABLE {per_cell} AS {cell_values}")
        numeric = ", ".join(_lit(s) for s in NUMERIC_STATUSES)
        # a cell that is a figure; '/' (unreliable, no figure) is a symbol like '.': the sum
        # is that symbol, not the other columns alone
        figure = f"status IN ({numeric}) AND value IS NOT NULL"
        listed = ", ".join(str(k) for k in sorted(merging))
        line_fields = [
            n
            for n, *_ in conn.execute(f"DESCRIBE {lines}").fetchall()
            if n not in ("line", "sex", "nationality") and not _is_value_cell(n)
        ]
        carried = ", ".join(f"any_value({n}) AS {n}" for n in line_fields)
        conn.execute(
            f"""CREATE TEMP TABLE {merged} AS
            SELECT line, {carried}, min(k) AS k, any_value(measure) AS measure,
                any_value(sex) AS sex, any_value(nationality) AS nationality,
                CASE WHEN bool_or(status IS NULL) OR NOT bool_and({figure})
                     THEN NULL ELSE sum(value) END AS value,
                CASE WHEN bool_or(status IS NULL) THEN NULL
                     WHEN bool_and({figure})
                     THEN coalesce(arg_min(status, k) FILTER (WHERE status <> 'ok'), 'ok')
                     ELSE arg_min(status, k) FILTER (WHERE NOT ({figure}))
                END AS status,
                {_in_column_order("raw_value", " + ")} AS raw_value,
                {_in_column_order("source_column", " + ")} AS source_column,
                nullif({_in_column_order("cell_problem", "; ")}, '') AS cell_problem,
                nullif({_in_column_order("cell_problem_de", "; ")}, '') AS cell_problem_de
            FROM {per_cell} WHERE k IN ({listed})
            GROUP BY line, coalesce(measure, '?' || source_column), sex, nationality"""
        )
        cell_values = (
            f"SELECT * FROM {per_cell} WHERE k NOT IN ({listed}) "
            f"UNION ALL BY NAME SELECT * FROM {merged}"
        )

    # --- the records: a record's id orders it by line, then by the mapping's value columns ---
    records = temp_name("records")
    units = ", ".join(f"({_lit(m.id)}, {_lit(m.unit)})" for m in load_catalogue().measures.values())
    # counts are whole numbers: '341,5' is a typing or a unit mistake, and '-0' a negative
    # number the partner's sheet rounded to zero (not a zero)
    column = "'''' || v.source_column || ''''"
    raw = "'''' || v.raw_value || ''''"
    count_problem, count_problem_de = (
        f"""CASE WHEN u.unit = 'count' AND v.value <> trunc(v.value)
            THEN {_lit(column_word)} || {column} || {_lit(count_word)} || {raw}
                || {_lit(fraction)}
        WHEN u.unit = 'count' AND v.value = 0 AND contains(v.raw_value, '-')
            AND regexp_matches(v.raw_value, {_lit(_NEGATIVE_ZERO)})
            THEN {_lit(column_word)} || {column} || {_lit(count_word)} || {raw}
                || {_lit(minus_zero)} END"""
        for column_word, count_word, fraction, minus_zero in (
            ("column ", ": count ", " is not a whole number",
             " is a negative number rounded to zero"),
            ("Spalte ", ": Anzahl ", " ist keine ganze Zahl",
             " ist eine auf null gerundete negative Zahl"),
        )
    )  # fmt: skip
    with unordered(conn):  # (the row id holds the order)
        conn.execute(
            f"""CREATE TEMP TABLE {records} AS
        SELECT * EXCLUDE (count_problem, count_problem_de) REPLACE (
            CASE WHEN count_problem IS NULL THEN problem
                 ELSE concat_ws('; ', problem, count_problem) END AS problem,
            CASE WHEN count_problem_de IS NULL THEN problem_de
                 ELSE concat_ws('; ', problem_de, count_problem_de) END AS problem_de,
            CASE WHEN count_problem IS NOT NULL AND problem IS NULL THEN source_column
                 ELSE problem_column END AS problem_column)
        FROM (
        SELECT v.measure, v.region_code, v.region_label, v.school_number, v.school_year,
            v.start_year, v.sex, v.nationality, v.value, v.status,
            v.raw_value, v.line AS source_line, v.source_column,
            CASE WHEN v.cell_problem IS NULL THEN v.row_problem
                 ELSE concat_ws('; ', v.row_problem, v.cell_problem) END AS problem,
            CASE WHEN v.cell_problem_de IS NULL THEN v.row_problem_de
                 ELSE concat_ws('; ', v.row_problem_de, v.cell_problem_de) END AS problem_de,
            CASE WHEN v.cell_problem IS NOT NULL THEN v.source_column
                 ELSE v.row_problem_column END AS problem_column,
            u.unit, v.line::BIGINT * {ROW_STRIDE} + v.k AS row_id,
            {count_problem} AS count_problem, {count_problem_de} AS count_problem_de
        FROM ({cell_values}) v
        LEFT JOIN (VALUES {units}) u(measure, unit) ON u.measure = v.measure)"""
        )
    return records


# a cell that says minus zero, in any notation: -0, - 0, -0,0, -0.00
_NEGATIVE_ZERO = r"^\s*-\s*0+([.,]0*)?\s*$"


def _problem_fields(problems: list[tuple[str, str | None]]) -> list[str]:
    """The per-line problem fields folded into row_problem (English and German)."""
    return [name for problem, _ in problems for name in (problem, f"{problem}_de")]


def _is_value_cell(name: str) -> bool:
    return name[:1] == "v" and name[1:].isdigit()


def _in_column_order(column: str, separator: str) -> str:
    """SQL aggregate: the group's non-null values joined in the order of their columns (k)."""
    pairs = f"list_sort(list(struct_pack(k := k, v := {column})))"
    kept = f"list_filter({pairs}, lambda x: x.v IS NOT NULL)"
    return f"array_to_string(list_transform({kept}, lambda x: x.v), '{separator}')"


def _expand(template: str, lookups: dict) -> set[str]:
    """Every measure id a template can yield over its lookups' values."""
    results = {template}
    for name, lookup in lookups.items():
        if "{" + name + "}" in template:
            results = {
                r.replace("{" + name + "}", v) for r in results for v in lookup.values.values()
            }
    return results


def _merging_columns(mapping: MeasureMapping) -> set[int]:
    """The value columns (by position in the mapping) that can yield the same measure and
    subgroup as another column of the same line: they are added up. Decided from the mapping,
    so that most columns — and most deliveries — skip the grouping. A column without a
    subgroup of its own takes the line's: the dimension's constant, or unknown (None) when the
    dimension is a column of the delivery."""
    sex, nationality = mapping.sex.constant, mapping.nationality.constant
    produced = [
        (v.sex or sex, v.nationality or nationality, _expand(v.measure, mapping.lookups))
        for v in mapping.values
    ]
    merging: set[int] = set()
    for i, (sex_a, nationality_a, measures_a) in enumerate(produced):
        for j in range(i + 1, len(produced)):
            sex_b, nationality_b, measures_b = produced[j]
            same_sex = sex_a is None or sex_b is None or sex_a == sex_b
            same_nationality = (
                nationality_a is None or nationality_b is None or nationality_a == nationality_b
            )
            if same_sex and same_nationality and measures_a & measures_b:
                merging |= {i, j}
    return merging
