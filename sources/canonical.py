"""A read delivery (RawTable) -> canonical records, as its registry YAML says.

Structural problems (a mapped column missing, row labels that do not fit) raise
DeliveryFormatError: the whole delivery is unusable. Problems of single cells (a value that is
not a number, an unknown region name, a malformed school year) do not: the record keeps the
problem text in its `problem` column (and in German in `problem_de`, for partners),
validation quarantines it with that reason, and the rest of the delivery loads.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from schemas.tables import (
    NUMERIC_STATUSES,
    parse_school_year,
    school_year_label,
    school_year_of_date,
)
from sources.readers.base import DeliveryFormatError, RawTable
from sources.readers.csv import looks_like_data, missing_header_error
from sources.registry import MeasureMapping, Source
from sources.symbols import CellError, NumberFormat, parse_cell

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
_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


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
                problem_de="die Zeilenbeschriftungen der Tabelle passen nicht zur Zuordnung "
                "(mapping) der Quelle",
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
        expected_de="die Spalten, die in der Zuordnung (mapping) der Quelle genannt sind",
        found_de=f"{len(available)} {'Spalte' if len(available) == 1 else 'Spalten'}: " + listed,
    )


class _YearError(ValueError):
    """A school year, year or date cell that cannot be read, in English and German."""

    def __init__(self, message_en: str, message_de: str) -> None:
        super().__init__(message_en)
        self.message_de = message_de


def _school_year(text: str, fmt: str) -> int:
    cell = text.strip()
    if fmt == "school_year":
        return parse_school_year(cell)
    if fmt in ("start_year", "end_year"):  # 2022 -> 2022/23, or (end_year) 2023 -> 2022/23
        if not re.fullmatch(r"\d{4}", cell):
            raise _YearError(
                f"year {cell!r} is not a four-digit year",
                f"Jahr {cell!r} ist keine vierstellige Jahreszahl",
            )
        return int(cell) if fmt == "start_year" else int(cell) - 1
    pattern = _DATE if fmt == "date" else _ISO_DATE
    match = pattern.match(cell)
    if not match:
        expected = "a date like 01.03.2024" if fmt == "date" else "a date like 2023-12-31"
        expected_de = "ein Datum wie 01.03.2024" if fmt == "date" else "ein Datum wie 2023-12-31"
        raise _YearError(
            f"date {cell!r} is not {expected}", f"Datum {cell!r} ist nicht {expected_de}"
        )
    parts = [int(p) for p in match.groups()]
    day, month, year = parts if fmt == "date" else (parts[2], parts[1], parts[0])
    try:
        return school_year_of_date(dt.date(year, month, day))
    except ValueError:
        raise _YearError(f"date {cell!r} does not exist", f"Datum {cell!r} gibt es nicht") from None


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


def _resolve_regions(
    raw: RawTable, cells: list[str], mapping: MeasureMapping, resolver: RegionResolver
) -> list[tuple[str | None, str | None]]:
    if mapping.region_by == "key":
        return [(c.strip() or None, None if c.strip() else "region key is empty") for c in cells]
    if mapping.region_by == "name":
        if resolver.match_names is None:
            raise RuntimeError("no region-name matcher configured")
        return resolver.match_names(cells, mapping.region_scope)
    results = []
    for cell in cells:
        number = cell.strip()
        region = resolver.school_regions.get(number)
        reason = None if region else f"Schulnummer {number!r} is not in the school directory"
        results.append((region, reason))
    return results


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
    required = _required(mapping)
    _require_columns(raw, positions, required)
    if source.kind in ("genesis_ffcsv", "genesis_api"):
        return list(dict.fromkeys(required)), []  # a fixed format: its other columns are known
    unused = [
        c
        for c in raw.columns[raw.label_columns :]
        if c and c not in required and c not in mapping.ignore_columns
    ]
    return list(dict.fromkeys(required)), unused


def _required(mapping: MeasureMapping) -> list[str]:
    dims = [mapping.sex, mapping.nationality]
    required = [mapping.region_column, mapping.year_column]
    required += [d.column for d in dims if d.column]
    required += [lk.column for lk in mapping.lookups.values()]
    required += list(mapping.filters)
    required += [v.column for v in mapping.values]
    return required


def to_records(raw: RawTable, source: Source, resolver: RegionResolver) -> pd.DataFrame:
    """The delivery as canonical records (FRAME_COLUMNS), one row per delivered value."""
    mapping = source.measures
    assert mapping is not None, f"{source.id} is not a measure source"
    positions = _column_positions(raw, mapping)
    dims = [mapping.sex, mapping.nationality]
    _require_columns(raw, positions, _required(mapping))

    rows = raw.rows
    if mapping.filters:
        keep = [(positions[c], v) for c, v in mapping.filters.items()]
        rows = [r for r in rows if all(r.cells[i].strip() == v for i, v in keep)]

    region_pos = positions[mapping.region_column]
    regions = _resolve_regions(raw, [r.cells[region_pos] for r in rows], mapping, resolver)
    school_grain = mapping.region_by == "school_number"
    to_german = _school_problem_de if school_grain else region_problem_de
    regions_de = [to_german(reason) if reason else None for _, reason in regions]
    number_format = NumberFormat(decimal=source.decimal, thousands=source.thousands)
    # cell text -> (value, status, problem, problem in German)
    cell_cache: dict[str, tuple[float | None, str | None, str | None, str | None]] = {}

    def cell_value(text: str) -> tuple[float | None, str | None, str | None, str | None]:
        if text not in cell_cache:
            try:
                value, status = parse_cell(text, number_format)
                cell_cache[text] = (value, status, None, None)
            except CellError as exc:
                cell_cache[text] = (None, None, str(exc), exc.message_de)
        return cell_cache[text]

    year_cache: dict[str, tuple[int | None, str | None, str | None]] = {}
    value_columns = [(positions[v.column], v) for v in mapping.values]
    lookups = [
        (name, lk.column, positions[lk.column], lk.values) for name, lk in mapping.lookups.items()
    ]
    out: dict[str, list] = {c: [] for c in FRAME_COLUMNS}

    for row, (region_code, region_problem), region_problem_german in zip(
        rows, regions, regions_de, strict=True
    ):
        cells = row.cells
        year_text = cells[positions[mapping.year_column]]
        if year_text not in year_cache:
            try:
                year_cache[year_text] = (_school_year(year_text, mapping.year_format), None, None)
            except ValueError as exc:
                year_cache[year_text] = (
                    None,
                    f"column {mapping.year_column!r}: {exc}",
                    f"Spalte {mapping.year_column!r}: {year_problem_de(exc)}",
                )
        start_year, year_problem, year_problem_german = year_cache[year_text]
        row_problems = [p for p in (region_problem, year_problem) if p]
        row_problems_de = [p for p in (region_problem_german, year_problem_german) if p]
        key_cells = ((mapping.region_column, region_problem), (mapping.year_column, year_problem))
        row_problem_columns = [column for column, problem in key_cells if problem]
        subgroup: list[str | None] = []
        for dim, name in zip(dims, ("sex", "nationality"), strict=True):
            if dim.constant is not None:
                subgroup.append(dim.constant)
                continue
            text = cells[positions[dim.column]].strip()
            mapped = dim.values.get(text)
            if mapped is None:
                allowed = ", ".join(repr(k) for k in dim.values)
                row_problem_columns.append(dim.column)
                row_problems.append(
                    f"column {dim.column!r}: {name} {text!r} is not one of {allowed}"
                )
                row_problems_de.append(
                    f"Spalte {dim.column!r}: {_DIMENSIONS_DE[name]} {text!r} ist keiner der "
                    f"Werte {allowed}"
                )
            subgroup.append(mapped)
        pieces: dict[str, str] = {}
        for name, column, pos, values in lookups:
            text = cells[pos].strip()
            if text in values:
                pieces[name] = values[text]
            else:
                allowed = ", ".join(repr(k) for k in values)
                row_problem_columns.append(column)
                row_problems.append(
                    f"column {column!r}: {text!r} is not one of {allowed} (lookup {name!r})"
                )
                row_problems_de.append(
                    f"Spalte {column!r}: {text!r} ist keiner der Werte {allowed} "
                    f"(Zuordnung {name!r})"
                )
        region_label = cells[region_pos].strip()
        school_number = region_label if school_grain else ""
        year_label = school_year_label(start_year) if start_year else None
        # Several columns of one line may map to one measure (IT.NRW's two Förderschule
        # columns): they are added up; a non-numeric part makes the sum non-numeric.
        merged: dict[tuple, list] = {}
        for pos, target in value_columns:
            text = cells[pos]
            value, status, cell_problem, cell_problem_de = cell_value(text)
            try:
                measure = target.measure.format(**pieces)
            except KeyError:
                measure = None  # the lookup problem is already recorded
            sex = target.sex or subgroup[0]
            nationality = target.nationality or subgroup[1]
            problem = f"column {target.column!r}: {cell_problem}" if cell_problem else None
            problem_de = f"Spalte {target.column!r}: {cell_problem_de}" if cell_problem else None
            # a failed lookup leaves no measure: keep such cells apart, one per column
            key = (measure or f"?{target.column}", sex, nationality)
            if key in merged:
                _merge(merged[key], value, status, text, target.column, problem, problem_de)
            else:
                merged[key] = [value, status, text, target.column, problem, problem_de]
        row_problem = "; ".join(row_problems) if row_problems else None
        row_problem_de = "; ".join(row_problems_de) if row_problems_de else None
        row_problem_column = row_problem_columns[0] if row_problem_columns else None
        for (measure, sex, nationality), record in merged.items():
            value, status, text, column, problem, problem_de = record
            out["measure"].append(None if measure.startswith("?") else measure)
            out["region_code"].append(region_code)
            out["region_label"].append(region_label)
            out["school_number"].append(school_number)
            out["school_year"].append(year_label)
            out["start_year"].append(start_year)
            out["sex"].append(sex)
            out["nationality"].append(nationality)
            out["value"].append(value)
            out["status"].append(status)
            out["raw_value"].append(text)
            out["source_line"].append(row.line)
            out["source_column"].append(column)
            out["problem"].append(
                "; ".join(p for p in (row_problem, problem) if p) if problem else row_problem
            )
            out["problem_de"].append(
                "; ".join(p for p in (row_problem_de, problem_de) if p)
                if problem_de
                else row_problem_de
            )
            out["problem_column"].append(column if problem else row_problem_column)

    frame = pd.DataFrame(out, columns=list(FRAME_COLUMNS))
    frame["start_year"] = frame["start_year"].astype("Int64")
    frame["value"] = frame["value"].astype("float64")
    frame["source_line"] = frame["source_line"].astype("int64")
    return frame


def _merge(
    into: list,
    value,
    status,
    text: str,
    column: str,
    problem: str | None,
    problem_de: str | None,
) -> None:
    """Add a further column's cell to a record of the same line and measure: numbers add up
    (keeping a flag such as provisional); a symbol ('.', 'x') makes the sum that symbol."""
    total, total_status, total_text, columns, problems, problems_de = into
    if total_status is None or status is None:  # an unreadable part: the problem says why
        into[0], into[1] = None, None
    elif total_status in NUMERIC_STATUSES and status in NUMERIC_STATUSES:
        into[0] = total + value
        into[1] = total_status if total_status != "ok" else status
    else:
        into[0] = None
        into[1] = total_status if total_status not in NUMERIC_STATUSES else status
    into[2] = f"{total_text} + {text}"
    into[3] = f"{columns} + {column}"
    into[4] = "; ".join(p for p in (problems, problem) if p) or None
    into[5] = "; ".join(p for p in (problems_de, problem_de) if p) or None


RECORD_KEY = ["measure", "region_code", "school_year", "start_year", "sex", "nationality"]


def sum_records(records: pd.DataFrame, key: list[str], what: str) -> pd.DataFrame:
    """Add up the records sharing `key`. A symbol ('.', 'x') in any of them makes the sum that
    symbol — never a smaller sum that silently leaves a part out; a flag such as provisional
    carries over to the sum."""
    lines = records.assign(
        symbol=records["status"].where(~records["status"].isin(NUMERIC_STATUSES)),
        flag=records["status"].where(records["status"].isin(NUMERIC_STATUSES[1:])),
    )
    agg = (
        lines.groupby(key, dropna=False)
        .agg(
            value=("value", "sum"),
            source_line=("source_line", "min"),
            lines=("source_line", "nunique"),
            symbol=("symbol", "first"),
            flag=("flag", "first"),
        )
        .reset_index()
    )
    agg["status"] = agg["symbol"].fillna(agg["flag"]).fillna("ok")
    agg.loc[agg["symbol"].notna(), "value"] = None
    agg["raw_value"] = None
    agg["source_column"] = agg["lines"].map(lambda n: f"sum of {n} {what}")
    return agg.drop(columns=["symbol", "flag", "lines"])


def combine_rows(records: pd.DataFrame) -> pd.DataFrame:
    """Flat files list leaves: lines that differ only in dimensions the mapping ignores (e.g.
    the protection status of 12531) become one record per canonical key, their sum. Records
    with a problem stay as they are, to be quarantined with their reason."""
    clean = records["problem"].isna() & records["measure"].notna() & records["region_code"].notna()
    if not clean.any():
        return records
    summed = sum_records(records[clean], [*RECORD_KEY, "school_number"], "lines")
    summed["region_label"] = (
        records[clean]
        .groupby([*RECORD_KEY, "school_number"], dropna=False)["region_label"]
        .first()
        .values
    )
    summed["problem"] = None
    summed["problem_de"] = None
    summed["problem_column"] = None
    result = pd.concat([summed, records[~clean]], ignore_index=True)[list(FRAME_COLUMNS)]
    return result.astype({"start_year": "Int64", "value": "float64", "source_line": "Int64"})


def derive_totals(records: pd.DataFrame, dimensions: tuple[str, ...]) -> pd.DataFrame:
    """Add `total` over sex and/or nationality as the sum of the delivered subgroups, where the
    delivery has no total of its own (GENESIS flat files list male and female, not the sum)."""
    result = records
    for dimension in dimensions:
        others = [c for c in RECORD_KEY if c != dimension]
        parts = result[result[dimension] != "total"]
        if parts.empty:
            continue
        totals = sum_records(parts, others, f"{dimension} subgroups")
        totals[dimension] = "total"
        delivered = result[result[dimension] == "total"][others].drop_duplicates()
        totals = totals.merge(delivered, on=others, how="left", indicator=True)
        totals = totals[totals["_merge"] == "left_only"].drop(columns="_merge")
        totals["region_label"] = None
        totals["school_number"] = ""
        totals["problem"] = None
        totals["problem_de"] = None
        totals["problem_column"] = None
        result = pd.concat([result, totals[list(FRAME_COLUMNS)]], ignore_index=True)
    return result.astype({"start_year": "Int64", "value": "float64", "source_line": "Int64"})


def aggregate_school_grain(
    records: pd.DataFrame,
    source: Source,
    covered_regions: list[str],
    held_back: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """School-level lines -> one record per municipality, measure and school year.

    `count_rows_as` counts the schools; with `absent_means_zero` a covered municipality without
    any line in a school year the delivery reports gets 0 (the programme was not there).
    `held_back` are the school records quarantined: a municipality sum that would leave one of
    them out is `not_available` — a smaller sum (or a 0) would look complete and be wrong.
    """
    mapping = source.measures
    assert mapping is not None
    held = _placed(held_back)
    if records.empty and held.empty:
        return records
    if not held.empty:
        records = pd.concat([records, held], ignore_index=True)
    key = ["region_code", "school_year", "start_year", "sex", "nationality"]
    measures = sorted(records["measure"].dropna().unique())
    agg = sum_records(records, [*key, "measure"], "school line(s)")
    frames = [agg]
    if mapping.count_rows_as:
        counts = records.groupby(key, dropna=False)["school_number"].nunique().reset_index()
        counts = counts.rename(columns={"school_number": "value"})
        counts["measure"] = mapping.count_rows_as
        counts["value"] = counts["value"].astype("float64")
        counts["status"] = "ok"
        counts["raw_value"] = None
        counts["source_line"] = records.groupby(key, dropna=False)["source_line"].min().values
        counts["source_column"] = "number of school lines"
        frames.append(counts)
        measures.append(mapping.count_rows_as)
    result = pd.concat(frames, ignore_index=True)
    if mapping.absent_means_zero:
        years = records[["school_year", "start_year"]].drop_duplicates()
        present = set(zip(result["region_code"], result["school_year"], strict=True))
        zeros = [
            {
                "region_code": region,
                "school_year": year.school_year,
                "start_year": year.start_year,
                "sex": "total",
                "nationality": "total",
                "measure": measure,
                "value": 0.0,
                "status": "ok",
                "raw_value": None,
                "source_line": None,
                "source_column": "no line for this municipality: 0",
            }
            for year in years.itertuples()
            for region in covered_regions
            if (region, year.school_year) not in present
            for measure in measures
        ]
        if zeros:
            result = pd.concat([result, pd.DataFrame(zeros)], ignore_index=True)
    if not held.empty:
        _name_held_back_lines(result, held, key)
    result["region_label"] = None
    result["school_number"] = ""
    result["problem"] = None
    result["problem_de"] = None
    result["problem_column"] = None
    result = result[list(FRAME_COLUMNS)]
    return result.astype({"start_year": "Int64", "value": "float64", "source_line": "Int64"})


def _placed(held_back: pd.DataFrame | None) -> pd.DataFrame:
    """Quarantined school records whose municipality, year and measure are known, as
    `not_available` parts of their municipality's sum."""
    if held_back is None or held_back.empty:
        return pd.DataFrame(columns=list(FRAME_COLUMNS))
    placed = held_back.dropna(subset=["measure", "region_code", "school_year"])
    return placed.assign(value=float("nan"), status="not_available", raw_value=None)


def _name_held_back_lines(result: pd.DataFrame, held: pd.DataFrame, key: list[str]) -> None:
    """Say in the sum's `source_column` which school lines are missing from it and why."""
    lines = (
        held.groupby([*key, "measure"], dropna=False)["source_line"]
        .agg(lambda s: ", ".join(str(int(n)) for n in sorted(set(s.dropna()))))
        .rename("held_lines")
        .reset_index()
    )
    merged = result[[*key, "measure"]].merge(lines, on=[*key, "measure"], how="left")
    hit = merged["held_lines"].notna().to_numpy()
    result.loc[hit, "source_column"] = (
        result.loc[hit, "source_column"]
        + "; not available: line(s) "
        + merged.loc[hit, "held_lines"].to_numpy()
        + " held back in quarantine"
    )
