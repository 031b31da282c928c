"""What an export holds: the tidy indicator and measure tables, selected from the publication.

The publication is attached read-only to a private in-memory connection and detached at the
end (an analyst may hold it open; the working warehouse is never read). Every exported column
is described here, in English for the metadata file and in German for the notes sheet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from expectations.rules import literal
from exports.config import Protection
from exports.protection import PUBLIC_LEVELS, Scope, Suppression, suppress
from warehouse.contract import MART_COLUMNS

# the status a value-less cell has, and the symbol official statistics write for it
STATUS_SYMBOL = {
    "suppressed": ".",
    "not_available": "...",
    "not_applicable": "x",
    "unreliable": "/",
}

INDICATOR_COLUMNS = (
    "indicator_id",
    "indicator_name",
    "goal_id",
    "region_code",
    "region_name",
    "region_level",
    "in_ruhr",
    "school_year",
    "start_year",
    "sex",
    "nationality",
    "value",
    "numerator",
    "denominator",
    "unit",
    "status",
    "aggregation",
    "series_break",
    "series_break_reason",
    "sources",
    "synthetic",
)
MEASURE_COLUMNS = (
    "measure",
    "measure_label",
    "unit",
    "region_code",
    "region_name",
    "region_level",
    "in_ruhr",
    "school_year",
    "start_year",
    "sex",
    "nationality",
    "value",
    "status",
    "source_id",
    "source_title",
    "synthetic",
)
TABLES = {
    "indicators": ("marts.indicator_values", INDICATOR_COLUMNS),
    "measures": ("marts.measure_values", MEASURE_COLUMNS),
}
# numbers that may carry a symbol instead of a value
NUMBER_COLUMNS = ("value", "numerator", "denominator")

COLUMNS_DE = {
    "indicator_id": "Kennung des Indikators",
    "indicator_name": "Name des Indikators",
    "goal_id": "Kennung des Ziels",
    "measure": "Kennung der Messgröße",
    "measure_label": "Bezeichnung der Messgröße",
    "unit": "Einheit",
    "region_code": "amtlicher Gebietsschlüssel (AGS); RVR = Ruhrgebiet, 05 = NRW",
    "region_name": "Name des Gebiets",
    "region_level": "Gebietsebene (gemeinde, kreis, regierungsbezirk, land, verband, bund)",
    "in_ruhr": "true = Gemeinde oder Kreis des Ruhrgebiets",
    "school_year": "Schuljahr, z. B. 2022/23",
    "start_year": "erstes Kalenderjahr des Schuljahres",
    "sex": "Geschlecht: total (insgesamt), female (weiblich), male (männlich)",
    "nationality": "Staatsangehörigkeit: total (insgesamt), german (deutsch), foreign "
    "(ausländisch)",
    "value": "Wert; ohne Wert steht das Zeichen der Spalte status (siehe Zeichenerklärung)",
    "numerator": "Zähler (Summe der Zähler-Messgrößen)",
    "denominator": "Nenner (Summe der Nenner-Messgrößen)",
    "status": "ok, suppressed (geheim gehalten), not_available (nicht vorhanden), "
    "not_applicable (nicht sinnvoll), unreliable (unsicher), provisional (vorläufig), "
    "estimated (geschätzt)",
    "aggregation": "delivered (so geliefert) oder summed from N parts (Summe aus N Teilgebieten)",
    "series_break": "true = Bruch in der Zeitreihe: Quellen oder Berechnung anders als im "
    "Vorjahr, die Veränderung ist nicht nur eine Veränderung in der Sache",
    "series_break_reason": "was sich gegenüber dem Vorjahr geändert hat",
    "sources": "Quellen der verwendeten Messgrößen",
    "source_id": "Kennung der Quelle",
    "source_title": "Titel der Quelle",
    "synthetic": "true = synthetische Demodaten",
}


def describe(table: str, column: str) -> str:
    """The English description of an exported column (the analysts' contract)."""
    mart = TABLES[table][0]
    return next(c.description for c in MART_COLUMNS[mart] if c.name == column)


def column_type(table: str, column: str) -> str:
    mart = TABLES[table][0]
    return next(c.type for c in MART_COLUMNS[mart] if c.name == column)


class SelectionError(ValueError):
    """An indicator, region or year range the publication does not have."""


@dataclass(frozen=True)
class Selection:
    """What to export. Empty tuples mean "all"; `regions` may name `ruhr` (the Ruhr, its
    53 Gemeinden and 15 Kreise, and NRW for comparison)."""

    tables: tuple[str, ...] = ("indicators", "measures")
    indicators: tuple[str, ...] = ()
    measures: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    years: tuple[int, int] | None = None

    def describe_de(self) -> str:
        parts = [
            f"Indikatoren: {', '.join(self.indicators) or 'alle'}",
            f"Gebiete: {', '.join(self.regions) or 'alle'}",
        ]
        if self.years:
            parts.append(f"Schuljahre ab {self.years[0]} bis {self.years[1]} (Beginnjahr)")
        return "; ".join(parts)


def parse_years(text: str) -> tuple[int, int]:
    """`2018-2022`, `2018/19-2022/23` or one year: first and last start year."""
    match = re.fullmatch(r"\s*(\d{4})(?:/\d{2})?\s*(?:-\s*(\d{4})(?:/\d{2})?)?\s*", text)
    if not match:
        raise SelectionError(
            f"--years {text!r}: expected a start year or a range, e.g. 2018-2022 or 2018/19-2022/23"
        )
    first = int(match.group(1))
    last = int(match.group(2) or first)
    if last < first:
        raise SelectionError(f"--years {text!r}: the range ends before it starts")
    return first, last


@dataclass
class Extract:
    """The selected tables as data frames (symbols not yet applied), with what was done."""

    frames: dict[str, pd.DataFrame]
    published_at: str
    public: bool
    suppression: Suppression | None = None
    rules: Protection | None = None
    notes: list[str] = field(default_factory=list)


def extract(published: Path, selection: Selection, rules: Protection | None) -> Extract:
    """Read `selection` from the publication; with `rules`, apply small-cell protection."""
    if not published.exists():
        raise SelectionError(f"no publication at {published}: run the pipeline first")
    with duckdb.connect() as conn:
        conn.execute(f"ATTACH {literal(str(published))} AS published (READ_ONLY)")
        try:
            return _extract(conn, selection, rules)
        finally:
            conn.execute("DETACH published")


def _extract(
    conn: duckdb.DuckDBPyConnection, selection: Selection, rules: Protection | None
) -> Extract:
    indicators, measures = _items(conn, selection)
    regions = _regions(conn, selection.regions)
    (published_at,) = conn.execute(
        "SELECT max(published_at) FROM published.meta.publication"
    ).fetchone()
    where = ["true"]
    if regions is not None:
        where.append(f"region_code IN ({', '.join(literal(r) for r in regions)})")
    if selection.years:
        where.append("start_year BETWEEN {} AND {}".format(*selection.years))
    if rules is not None:  # public: regions only, never a school
        where.append(f"region_level IN ({', '.join(literal(level) for level in PUBLIC_LEVELS)})")
    suppression = None
    if rules is not None:
        scope = Scope(frozenset(indicators), frozenset(measures), selection.years)
        suppression = suppress(conn, rules, scope)
    frames = {}
    for table in selection.tables:
        mart, columns = TABLES[table]
        items = indicators if table == "indicators" else measures
        key = "indicator_id" if table == "indicators" else "measure"
        sql = (
            f"SELECT {', '.join(columns)} FROM published.{mart} "
            f"WHERE {key} IN ({', '.join(literal(i) for i in items) or 'NULL'}) "
            f"AND {' AND '.join(where)} "
            f"ORDER BY {key}, region_code, start_year, sex, nationality"
        )
        if rules is not None:
            sql = _protected(table, sql)
        frames[table] = conn.execute(sql).df()
    return Extract(frames, str(published_at), rules is not None, suppression, rules)


def _protected(table: str, sql: str) -> str:
    """`sql` with the hidden cells of `suppress` blanked and their status `suppressed`."""
    on = (
        "h.region_code = t.region_code AND h.start_year = t.start_year AND h.sex = t.sex "
        "AND h.nationality = t.nationality"
    )
    if table == "measures":
        return f"""
            SELECT t.* REPLACE (
                CASE WHEN h.item IS NULL THEN t.value END AS value,
                CASE WHEN h.item IS NULL THEN t.status ELSE 'suppressed' END AS status)
            FROM ({sql}) t
            LEFT JOIN (SELECT * FROM hidden_cells WHERE tab = 'measure') h
                ON h.item = t.measure AND {on}
            ORDER BY t.measure, t.region_code, t.start_year, t.sex, t.nationality"""
    return f"""
        SELECT t.* REPLACE (
            CASE WHEN v.item IS NULL THEN t.value END AS value,
            CASE WHEN n.item IS NULL THEN t.numerator END AS numerator,
            CASE WHEN d.item IS NULL THEN t.denominator END AS denominator,
            CASE WHEN v.item IS NULL THEN t.status ELSE 'suppressed' END AS status)
        FROM ({sql}) t
        LEFT JOIN hidden_values v ON v.item = t.indicator_id AND {on.replace("h.", "v.")}
        LEFT JOIN (SELECT * FROM hidden_cells WHERE tab = 'numerator') n
            ON n.item = t.indicator_id AND {on.replace("h.", "n.")}
        LEFT JOIN (SELECT * FROM hidden_cells WHERE tab = 'denominator') d
            ON d.item = t.indicator_id AND {on.replace("h.", "d.")}
        ORDER BY t.indicator_id, t.region_code, t.start_year, t.sex, t.nationality"""


def _items(conn: duckdb.DuckDBPyConnection, selection: Selection) -> tuple[list[str], list[str]]:
    """The indicators and measures selected; with indicators named, the measures they use."""
    catalogue = dict(
        conn.execute(
            "SELECT indicator_id, coalesce(numerator_measures || ' + ' || denominator_measures, "
            "(SELECT numerator_measures || ' + ' || denominator_measures "
            " FROM published.marts.indicators r WHERE r.indicator_id = i.of_indicator)) "
            "FROM published.marts.indicators i ORDER BY indicator_id"
        ).fetchall()
    )
    known_measures = [
        m
        for (m,) in conn.execute(
            "SELECT DISTINCT measure FROM published.marts.measure_values ORDER BY measure"
        ).fetchall()
    ]
    unknown = [i for i in selection.indicators if i not in catalogue]
    if unknown:
        raise SelectionError(
            f"unknown indicator {unknown[0]!r}; the publication has: {', '.join(catalogue)}"
        )
    unknown = [m for m in selection.measures if m not in known_measures]
    if unknown:
        raise SelectionError(f"unknown measure {unknown[0]!r} (see marts.measure_values)")
    indicators = list(selection.indicators) or list(catalogue)
    measures = list(selection.measures)
    if not measures:
        measures = (
            sorted({m for i in indicators for m in catalogue[i].split(" + ")})
            if selection.indicators
            else sorted(known_measures)
        )
    return indicators, measures


def _regions(conn: duckdb.DuckDBPyConnection, named: tuple[str, ...]) -> list[str] | None:
    if not named:
        return None
    codes: list[str] = []
    for name in named:
        if name.lower() == "ruhr":
            codes += ["RVR", "05"]
            codes += [
                c
                for (c,) in conn.execute(
                    "SELECT region_code FROM published.marts.regions WHERE in_ruhr "
                    "AND level IN ('gemeinde', 'kreis') ORDER BY region_code"
                ).fetchall()
            ]
            continue
        if not conn.execute(
            "SELECT count(*) FROM published.marts.regions WHERE region_code = ?", [name]
        ).fetchone()[0]:
            raise SelectionError(
                f"unknown region {name!r}: expected an official key (05513000, 05562, 05), "
                "RVR or ruhr"
            )
        codes.append(name)
    return codes
