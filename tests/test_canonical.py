"""RawTable -> canonical records, and school-grain aggregation, on hand-built tables."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from schemas.regions import match_region_names
from sources.canonical import FRAME_COLUMNS, RegionResolver
from sources.readers.base import DeliveryFormatError, RawRow, RawTable
from sources.registry import Source, load_registry, load_source
from tests.records import (
    aggregate_school_grain,
    combine_rows,
    derive_totals,
    record_types,
    to_records,
)

KEYS = RegionResolver()
KITA_U3 = "Kinder unter 3 Jahren in Tagesbetreuung"
KITA_3_6 = "Kinder von 3 bis unter 6 Jahren in Tagesbetreuung"


def table(
    columns: list[str],
    rows: list[list[str]],
    *,
    file_name: str = "delivery.csv",
    label_columns: int = 0,
    header_line: int = 1,
) -> RawTable:
    return RawTable(
        file_name=file_name,
        columns=columns,
        rows=[RawRow(header_line + 1 + i, tuple(cells)) for i, cells in enumerate(rows)],
        encoding="utf-8",
        delimiter=";",
        label_columns=label_columns,
        header_line=header_line,
    )


def registry(source_id: str) -> Source:
    return load_registry()[source_id]


def yaml_source(tmp_path: Path, mapping: dict[str, Any], **top: Any) -> Source:
    spec = {
        "id": "test_source",
        "title": "Test",
        "partner": "Partner",
        "licence": "CC0",
        "standing": "partner",
        "kind": "csv",
        **top,
        "mapping": mapping,
    }
    path = tmp_path / "test_source.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return load_source(path)


def with_mapping(source: Source, **changes: Any) -> Source:
    assert source.measures is not None
    return source.model_copy(update={"measures": source.measures.model_copy(update=changes)})


def rows_of(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Records as plain dicts (NaN/NA -> None) for exact comparisons."""
    out = []
    for record in frame.to_dict("records"):
        out.append(
            {k: (None if not isinstance(v, str) and pd.isna(v) else v) for k, v in record.items()}
        )
    return out


def one(frame: pd.DataFrame, **where: Any) -> dict[str, Any]:
    found = [r for r in rows_of(frame) if all(r[k] == v for k, v in where.items())]
    assert len(found) == 1, f"{len(found)} records match {where}:\n{frame}"
    return found[0]


# --- region keys, values, the frame ----------------------------------------------------------


def kita_table(*rows: list[str]) -> RawTable:
    return table(["Stichtag", "Gemeindeschlüssel", "Gemeindename", KITA_U3, KITA_3_6], list(rows))


def test_records_by_region_key() -> None:
    raw = kita_table(["01.03.2023", "05112000", "Duisburg", "1852", "12322 p"])
    frame = to_records(raw, registry("kita_betreuung"), KEYS)
    assert list(frame.columns) == list(FRAME_COLUMNS)
    assert rows_of(frame) == [
        {
            "measure": "daycare_children_u3",
            "region_code": "05112000",
            "region_label": "05112000",
            "school_number": "",
            "school_year": "2022/23",
            "start_year": 2022,
            "sex": "total",
            "nationality": "total",
            "value": 1852.0,
            "status": "ok",
            "raw_value": "1852",
            "source_line": 2,
            "source_column": KITA_U3,
            "problem": None,
            "problem_de": None,
            "problem_column": None,
        },
        {
            "measure": "daycare_children_3_6",
            "region_code": "05112000",
            "region_label": "05112000",
            "school_number": "",
            "school_year": "2022/23",
            "start_year": 2022,
            "sex": "total",
            "nationality": "total",
            "value": 12322.0,
            "status": "provisional",
            "raw_value": "12322 p",
            "source_line": 2,
            "source_column": KITA_3_6,
            "problem": None,
            "problem_de": None,
            "problem_column": None,
        },
    ]
    # typed columns (the relation's SQL types): a missing year or value is NULL, never text
    types = record_types(raw, registry("kita_betreuung"), KEYS)
    assert (types["start_year"], types["value"], types["source_line"]) == (
        "INTEGER", "DOUBLE", "INTEGER")  # fmt: skip


def test_region_key_is_stripped_and_an_empty_key_is_a_problem() -> None:
    raw = kita_table(
        ["01.03.2023", " 05112000 ", "Duisburg", "1", "2"],
        ["01.03.2023", "  ", "?", "3", "4"],
    )
    frame = to_records(raw, registry("kita_betreuung"), KEYS)
    first, _, empty, _ = rows_of(frame)
    assert first["region_code"] == "05112000"
    assert first["problem"] is None
    assert empty["region_code"] is None
    assert empty["problem"] == "region key is empty"
    assert (first["problem_column"], empty["problem_column"]) == (None, "Gemeindeschlüssel")
    assert empty["value"] == 3.0  # the value is still read: the record is quarantined whole
    assert empty["source_line"] == 3


@pytest.mark.parametrize(
    ("cell", "value", "status"),
    [
        ("-", 0.0, "ok"),
        (".", None, "suppressed"),
        ("x", None, "not_applicable"),
        ("/", None, "unreliable"),
        ("...", None, "not_available"),
        ("", None, "not_available"),
        ("(12)", 12.0, "unreliable"),
        ("12 e", 12.0, "estimated"),
        ("12 r", 12.0, "ok"),
        ("12,5", 12.5, "ok"),
    ],
)
def test_symbols_become_statuses(cell: str, value: float | None, status: str) -> None:
    raw = kita_table(["01.03.2023", "05112000", "Duisburg", cell, "1"])
    record = one(to_records(raw, registry("kita_betreuung"), KEYS), measure="daycare_children_u3")
    assert (record["value"], record["status"], record["raw_value"]) == (value, status, cell)
    # read as a number, but children are counted in whole numbers (issue 9: counts are counts)
    whole = value is None or value == int(value)
    assert record["problem"] == (
        None if whole else f"column {KITA_U3!r}: count {cell!r} is not a whole number"
    )


@pytest.mark.parametrize(
    ("cell", "problem"),
    [
        ("12.5", "'12.5' uses '.'; expected a number with decimal ','"),
        ("1.234", "'1.234' has a thousands separator '.'"),
        ("=SUMME(A1:A2)", "'=SUMME(A1:A2)' is a spreadsheet formula, not a value"),
        ("viele", "'viele' is not a number or a statistical symbol"),
    ],
)
def test_unreadable_cell_is_a_problem_naming_the_column(cell: str, problem: str) -> None:
    raw = kita_table(["01.03.2023", "05112000", "Duisburg", "7", cell])
    frame = to_records(raw, registry("kita_betreuung"), KEYS)
    good = one(frame, measure="daycare_children_u3")
    bad = one(frame, measure="daycare_children_3_6")
    assert good["problem"] is None
    assert (bad["value"], bad["status"], bad["raw_value"]) == (None, None, cell)
    assert bad["problem"].startswith(f"column {KITA_3_6!r}: {problem}")
    assert bad["source_column"] == KITA_3_6
    assert (good["problem_column"], bad["problem_column"]) == (None, KITA_3_6)
    assert bad["source_line"] == 2


def test_declared_thousands_and_decimal_point() -> None:
    source = registry("kita_betreuung").model_copy(update={"decimal": ",", "thousands": "."})
    raw = kita_table(["01.03.2023", "05112000", "Duisburg", "1.852", "12.322,0"])
    frame = to_records(raw, source, KEYS)
    assert frame["value"].tolist() == [1852.0, 12322.0]
    raw = table(
        ["schulnummer", "schuljahr", "schulname", "teilnehmende_schueler", "foerderstunden"],
        [["100001", "2022/23", "A", "25", "710.5"]],
    )
    resolver = RegionResolver(school_regions={"100001": "05913000"})
    frame = to_records(raw, registry("lernfoerderung"), resolver)
    assert one(frame, measure="programme_tutoring_hours")["value"] == 710.5


def test_missing_mapped_column_names_file_line_and_column_with_a_hint() -> None:
    source = registry("schulabgaenger_abschlussart")
    columns = ["Schuljahr", "Gemeindeschlüssel", "Gemeinde", "Geschlecht", "Staatsangehörigkeit"]
    columns += ["Abgänger/-innen insgesamt", "ohne Hauptschulabschluss"]
    columns += ["mit Hauptschulabschluss", "mit mittlerem Schulabschluss", "mit Fachhochschulreif"]
    columns += ["mit allgemeiner Hochschulreife", "Anteil ohne Hauptschulabschluss in %"]
    raw = table(columns, [], file_name="ohne_fhr.csv")
    with pytest.raises(DeliveryFormatError) as exc:
        to_records(raw, source, KEYS)
    message = str(exc.value)
    assert message.startswith(
        "ohne_fhr.csv, line 1, column 'mit Fachhochschulreife': missing column "
        "'mit Fachhochschulreife' (did you mean 'mit Fachhochschulreif'?)"
    )
    assert "expected the columns named in the source's mapping" in message
    assert "found 12 column(s): 'Schuljahr'; 'Gemeindeschlüssel'" in message
    assert (exc.value.file_name, exc.value.line, exc.value.column) == (
        "ohne_fhr.csv",
        1,
        "mit Fachhochschulreife",
    )


def test_several_missing_columns_without_close_match() -> None:
    raw = table(["Datum", "AGS", "Anzahl"], [], file_name="kita.csv", header_line=3)
    with pytest.raises(DeliveryFormatError) as exc:
        to_records(raw, registry("kita_betreuung"), KEYS)
    message = str(exc.value)
    assert message.startswith("kita.csv, line 3, column 'Gemeindeschlüssel': missing columns ")
    assert "'Stichtag'" in message
    assert f"{KITA_U3!r}" in message
    assert "did you mean" not in message
    assert "found 3 column(s): 'Datum'; 'AGS'; 'Anzahl'" in message


# --- school years ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "cell", "start_year"),
    [
        ("school_year", "2022/23", 2022),
        ("school_year", "2022/2023", 2022),
        ("school_year", " 1999/00 ", 1999),
        ("start_year", "2022", 2022),
        ("date", "01.03.2023", 2022),
        ("date", "1.8.2023", 2023),
        ("date", "31.07.2023", 2022),
        ("iso_date", "2022-12-31", 2022),
        ("iso_date", "2023-08-01", 2023),
    ],
)
def test_school_year_formats(fmt: str, cell: str, start_year: int) -> None:
    source = with_mapping(registry("kita_betreuung"), year_format=fmt)
    frame = to_records(kita_table([cell, "05112000", "Duisburg", "1", "2"]), source, KEYS)
    record = rows_of(frame)[0]
    assert record["start_year"] == start_year
    assert record["school_year"] == f"{start_year}/{(start_year + 1) % 100:02d}"
    assert record["problem"] is None


@pytest.mark.parametrize(
    ("fmt", "cell", "problem"),
    [
        ("date", "31.02.2023", "date '31.02.2023' does not exist"),
        ("date", "2023-03-01", "date '2023-03-01' is not a date like 01.03.2024"),
        ("iso_date", "01.03.2023", "date '01.03.2023' is not a date like 2023-12-31"),
        ("iso_date", "2023-13-01", "date '2023-13-01' does not exist"),
        ("start_year", "22", "year '22' is not a four-digit year"),
        ("start_year", "2022/23", "year '2022/23' is not a four-digit year"),
        ("school_year", "2022/24", "school year '2022/24': the second year must follow the first"),
        ("school_year", "22/23", "school year '22/23' is not of the form 2022/23"),
    ],
)
def test_bad_school_year_is_a_problem(fmt: str, cell: str, problem: str) -> None:
    source = with_mapping(registry("kita_betreuung"), year_format=fmt)
    good = {"date": "01.03.2023", "iso_date": "2023-03-01", "start_year": "2022",
            "school_year": "2022/23"}[fmt]  # fmt: skip
    frame = to_records(
        kita_table([cell, "05112000", "Duisburg", "1", "2"], [good, "05113000", "Essen", "3", "4"]),
        source,
        KEYS,
    )
    assert len(frame) == 4
    for record in rows_of(frame)[:2]:
        assert record["school_year"] is None
        assert record["start_year"] is None
        assert record["problem"].startswith(f"column 'Stichtag': {problem}")
        assert record["problem_column"] == "Stichtag"  # the cell to fix, not the value's column
        assert record["value"] in (1.0, 2.0)


def test_year_problem_and_cell_problem_are_joined() -> None:
    raw = kita_table(["31.02.2023", "05112000", "Duisburg", "abc", "2"])
    record = one(to_records(raw, registry("kita_betreuung"), KEYS), measure="daycare_children_u3")
    assert record["problem"].startswith(
        f"column 'Stichtag': date '31.02.2023' does not exist; column {KITA_U3!r}: 'abc' is not"
    )
    assert record["problem_column"] == KITA_U3  # its own cell is wrong too: point there


# --- region names and school numbers ---------------------------------------------------------


def test_region_names_through_the_matcher(tmp_path: Path) -> None:
    calls: list[tuple[list[str], str | None]] = []

    def match_names(cells: list[str], scope: str | None) -> list[tuple[str | None, str | None]]:
        calls.append((list(cells), scope))
        known = {"Marl, Stadt": "05562024"}
        return [
            (known.get(c.strip()), None if c.strip() in known else f"unknown {c.strip()!r}")
            for c in cells
        ]

    source = yaml_source(
        tmp_path,
        {
            "region": {"column": "Stadt", "by": "name", "scope": "05562"},
            "school_year": {"column": "Schuljahr"},
            "values": {"Abgänger insgesamt": "leavers_total"},
        },
    )
    raw = table(
        ["Schuljahr", "Stadt", "Abgänger insgesamt"],
        [["2024/25", "  Marl, Stadt", "904"], ["2024/25", "Atlantis", "1"]],
    )
    frame = to_records(raw, source, RegionResolver(match_names=match_names))
    assert calls == [(["  Marl, Stadt", "Atlantis"], "05562")]  # unstripped, in file order
    marl, atlantis = rows_of(frame)
    assert (marl["region_code"], marl["region_label"], marl["problem"]) == (
        "05562024",
        "Marl, Stadt",
        None,
    )
    assert (atlantis["region_code"], atlantis["problem"]) == (None, "unknown 'Atlantis'")
    assert atlantis["value"] == 1.0


def test_region_names_without_a_matcher_is_a_configuration_error(tmp_path: Path) -> None:
    source = yaml_source(
        tmp_path,
        {
            "region": {"column": "Stadt", "by": "name"},
            "school_year": {"column": "Schuljahr"},
            "values": {"N": "leavers_total"},
        },
    )
    raw = table(["Schuljahr", "Stadt", "N"], [["2024/25", "Marl, Stadt", "1"]])
    with pytest.raises(RuntimeError, match="no region-name matcher configured"):
        to_records(raw, source, KEYS)


ITNRW_LABELS = 5


def itnrw_table(rows: list[list[str]], **kwargs: Any) -> RawTable:
    source = registry("itnrw_21111_9k21")
    assert source.measures is not None
    value_columns = [v.column for v in source.measures.values]
    return table(
        [""] * ITNRW_LABELS + value_columns,
        rows,
        label_columns=kwargs.pop("label_columns", ITNRW_LABELS),
        header_line=7,
        file_name="itnrw_21111-9k21_kommunalprofil_schulen.csv",
        **kwargs,
    )


def itnrw_row(region: str, variable: str = "Schulen", subgroup: str = "", **cells: str) -> list:
    values = ["1"] * 14
    for index, text in cells.items():
        values[int(index.removeprefix("c"))] = text
    return [region, "2022/23", variable, subgroup, "Anzahl", *values]


def test_indented_itnrw_names_with_the_real_matcher() -> None:
    names = [
        "Nordrhein-Westfalen",
        "  Düsseldorf, Regierungsbezirk",
        "    Duisburg, krfr. Stadt",
        "    Kleve, Kreis",
        "      Kleve, Stadt",
        "      Goch, Stadt",
        "    Atlantis, Kreis",
    ]
    raw = itnrw_table([itnrw_row(name) for name in names])
    source = registry("itnrw_21111_9k21")
    frame = to_records(raw, source, RegionResolver(match_names=match_region_names))
    totals = rows_of(frame[frame["measure"] == "schools_total"])
    assert [r["region_code"] for r in totals] == [
        "05",
        "051",
        "05112000",
        "05154",
        "05154036",
        "05154016",
        None,
    ]
    assert [r["region_label"] for r in totals] == [n.strip() for n in names]
    assert [r["problem"] for r in totals] == [None] * 6 + ["unknown region name 'Atlantis, Kreis'"]
    assert [r["source_line"] for r in totals] == list(range(8, 15))


def test_itnrw_lookup_template_and_the_two_foerderschule_columns() -> None:
    source = registry("itnrw_21111_9k21")
    resolver = RegionResolver(match_names=lambda cells, scope: [("05", None)] * len(cells))
    raw = itnrw_table(
        [
            itnrw_row("Nordrhein-Westfalen", "Schulen", c4="482", c5="2"),
            itnrw_row("Nordrhein-Westfalen", "Schüler/-innen", "Insgesamt", c4="5", c5="-"),
            itnrw_row("Nordrhein-Westfalen", "Lehrkräfte", c4="5", c5="."),
            itnrw_row("Nordrhein-Westfalen", "Schulabgänger/-innen", c4="5 p", c5="3"),
        ]
    )
    frame = to_records(raw, source, resolver)
    assert len(frame) == 4 * 13  # 14 value columns, the two Förderschule columns make one
    assert frame["problem"].isna().all()
    assert set(frame["measure"]) == source.measure_ids()
    schools = one(frame, measure="schools_foerderschule")
    assert (schools["value"], schools["status"], schools["raw_value"]) == (484.0, "ok", "482 + 2")
    assert schools["source_column"] == (
        "Schulform | Förderschulen Grund-/Hauptschulen + "
        "Schulform | Förderschulen Realschulen/Gymnasien"
    )
    pupils = one(frame, measure="pupils_foerderschule")
    assert (pupils["value"], pupils["status"], pupils["raw_value"]) == (5.0, "ok", "5 + -")
    assert pupils["sex"] == "total"
    teachers = one(frame, measure="teachers_foerderschule")
    assert (teachers["value"], teachers["status"], teachers["raw_value"]) == (
        None,
        "suppressed",
        "5 + .",
    )
    leavers = one(frame, measure="leavers_schoolform_foerderschule")
    assert (leavers["value"], leavers["status"], leavers["raw_value"]) == (
        8.0,
        "provisional",
        "5 p + 3",
    )
    assert one(frame, measure="pupils_gymnasium")["value"] == 1.0


def test_itnrw_unknown_variable_and_subgroup_are_problems() -> None:
    source = registry("itnrw_21111_9k21")
    resolver = RegionResolver(match_names=lambda cells, scope: [("05", None)] * len(cells))
    raw = itnrw_table([itnrw_row("Nordrhein-Westfalen", "Klassen", "weiblich")])
    frame = to_records(raw, source, resolver)
    # no measure can be formed: every delivered cell stays a record that carries the problem
    assert len(frame) == 14
    assert frame["source_column"].nunique() == 14
    record = rows_of(frame)[0]
    assert record["measure"] is None
    assert record["sex"] is None
    assert "column 'subgroup': sex 'weiblich' is not one of 'Insgesamt', ''" in record["problem"]
    assert record["problem_column"] == "subgroup"  # the first of the line's problems
    assert (
        "column 'variable': 'Klassen' is not one of 'Schulen', 'Schüler/-innen', 'Lehrkräfte', "
        "'Schulabgänger/-innen'" in record["problem"]
    )


def test_genesis_label_count_mismatch_is_a_format_error() -> None:
    raw = itnrw_table([], label_columns=4)
    with pytest.raises(DeliveryFormatError) as exc:
        to_records(raw, registry("itnrw_21111_9k21"), KEYS)
    assert str(exc.value) == (
        "itnrw_21111-9k21_kommunalprofil_schulen.csv, line 7: the table's row labels do not fit "
        "the source's mapping (expected 5 row-label columns (region, school_year, variable, "
        "subgroup, unit); found 4)"
    )


def test_school_numbers_place_lines_in_municipalities() -> None:
    raw = table(
        ["schulnummer", "schuljahr", "schulname", "teilnehmende_schueler", "foerderstunden"],
        [
            ["100001", "2022/23", "A", "25", "710.0"],
            [" 999999 ", "2022/23", "B", "3", "1"],
        ],
    )
    resolver = RegionResolver(school_regions={"100001": "05913000"})
    frame = to_records(raw, registry("lernfoerderung"), resolver)
    known = one(frame, measure="programme_pupils_reached", school_number="100001")
    assert (known["region_code"], known["region_label"], known["problem"]) == (
        "05913000",
        "100001",
        None,
    )
    unknown = one(frame, measure="programme_pupils_reached", school_number="999999")
    assert unknown["region_code"] is None
    assert unknown["problem"] == "Schulnummer '999999' is not in the school directory"
    assert "programme_schools_reached" not in set(frame["measure"])  # counted when aggregating


# --- subgroups, lookups, filters -------------------------------------------------------------


LEAVER_COLUMNS = [
    "Schuljahr",
    "Gemeindeschlüssel",
    "Gemeinde",
    "Geschlecht",
    "Staatsangehörigkeit",
    "Abgänger/-innen insgesamt",
    "ohne Hauptschulabschluss",
    "mit Hauptschulabschluss",
    "mit mittlerem Schulabschluss",
    "mit Fachhochschulreife",
    "mit allgemeiner Hochschulreife",
    "Anteil ohne Hauptschulabschluss in %",
]


def test_subgroup_columns() -> None:
    raw = table(
        LEAVER_COLUMNS,
        [
            ["2022/23", "05513000", "Gelsenkirchen", "weiblich", "ausländisch", *"1234567"],
            ["2022/23", "05513000", "Gelsenkirchen", "männlich", "deutsch", *"1234567"],
            ["2022/23", "05513000", "Gelsenkirchen", "divers", "insgesamt", *"1234567"],
        ],
    )
    frame = to_records(raw, registry("schulabgaenger_abschlussart"), KEYS)
    assert len(frame) == 3 * 7
    first = frame[frame["source_line"] == 2]
    assert set(zip(first["sex"], first["nationality"], strict=True)) == {("female", "foreign")}
    second = frame[frame["source_line"] == 3]
    assert set(zip(second["sex"], second["nationality"], strict=True)) == {("male", "german")}
    share = one(frame, measure="leavers_without_hsa_share", source_line=2)
    assert share["value"] == 7.0
    third = rows_of(frame[frame["source_line"] == 4])
    assert {(r["sex"], r["nationality"]) for r in third} == {(None, "total")}
    assert {r["problem"] for r in third} == {
        "column 'Geschlecht': sex 'divers' is not one of 'insgesamt', 'weiblich', 'männlich'"
    }


def test_value_columns_fix_their_own_subgroup(tmp_path: Path) -> None:
    source = yaml_source(
        tmp_path,
        {
            "region": {"column": "AGS"},
            "school_year": {"column": "Schuljahr"},
            "nationality": "german",
            "values": {
                "Abgänger insgesamt": "leavers_total",
                "Abgänger weiblich": {"measure": "leavers_total", "sex": "female"},
                "Abgänger männlich": {"measure": "leavers_total", "sex": "male"},
                "ohne Abschluss ausländisch": {
                    "measure": "leavers_without_hsa",
                    "nationality": "foreign",
                },
            },
        },
    )
    raw = table(
        [
            "Schuljahr",
            "AGS",
            "Abgänger insgesamt",
            "Abgänger weiblich",
            "Abgänger männlich",
            "ohne Abschluss ausländisch",
        ],
        [["2024/25", "05562024", "904", "441", "463", "12"]],
    )
    frame = to_records(raw, source, KEYS)
    got = {(r["measure"], r["sex"], r["nationality"]): r["value"] for r in rows_of(frame)}
    assert got == {
        ("leavers_total", "total", "german"): 904.0,
        ("leavers_total", "female", "german"): 441.0,
        ("leavers_total", "male", "german"): 463.0,
        ("leavers_without_hsa", "total", "foreign"): 12.0,
    }


def test_two_columns_of_one_measure_with_different_subgroups_are_not_added(
    tmp_path: Path,
) -> None:
    source = yaml_source(
        tmp_path,
        {
            "region": {"column": "AGS"},
            "school_year": {"column": "Jahr", "format": "start_year"},
            "values": {"A": "leavers_total", "B": {"measure": "leavers_total", "sex": "male"}},
        },
    )
    raw = table(["Jahr", "AGS", "A", "B"], [["2024", "05562024", "5", "3"]])
    assert to_records(raw, source, KEYS)["value"].tolist() == [5.0, 3.0]


def bev_table(*rows: list[str]) -> RawTable:
    return table(
        [
            "time",
            "1_variable_attribute_code",
            "2_variable_attribute_code",
            "value",
            "value_variable_code",
        ],
        list(rows),
    )


def test_filters_and_lookups() -> None:
    raw = bev_table(
        ["2022-12-31", "05111000", "ALT000B03", "16804", "BEVSTD"],
        ["2022-12-31", "05111000", "ALT003B06", "18243", "BEVSTD"],
        ["2022-12-31", "05111000", "ALT000B03", "99", "OTHER"],
        ["2022-12-31", "05111000", "ALT003B06", "98", " BEVSTD "],
    )
    frame = to_records(raw, registry("bevoelkerung_kinder"), KEYS)
    assert rows_of(frame[["measure", "school_year", "value", "source_line", "problem"]]) == [
        {
            "measure": "population_u3",
            "school_year": "2022/23",
            "value": 16804.0,
            "source_line": 2,
            "problem": None,
        },
        {
            "measure": "population_3_6",
            "school_year": "2022/23",
            "value": 18243.0,
            "source_line": 3,
            "problem": None,
        },
        {
            "measure": "population_3_6",
            "school_year": "2022/23",
            "value": 98.0,
            "source_line": 5,  # the filter compares stripped cells
            "problem": None,
        },
    ]


def test_unknown_lookup_value_is_a_problem() -> None:
    raw = bev_table(["2022-12-31", "05111000", "ALT006B10", "5", "BEVSTD"])
    record = rows_of(to_records(raw, registry("bevoelkerung_kinder"), KEYS))[0]
    assert record["measure"] is None
    assert record["value"] == 5.0
    assert "'ALT006B10' is not one of 'ALT000B03', 'ALT003B06'" in record["problem"]


def test_unknown_lookup_value_names_the_delivered_column() -> None:
    raw = bev_table(["2022-12-31", "05111000", "ALT006B10", "5", "BEVSTD"])
    record = rows_of(to_records(raw, registry("bevoelkerung_kinder"), KEYS))[0]
    assert record["problem"].startswith("column '2_variable_attribute_code': 'ALT006B10'")


def test_missing_filter_or_lookup_column_is_a_format_error() -> None:
    raw = table(["time", "1_variable_attribute_code", "value"], [], file_name="12411.csv")
    with pytest.raises(DeliveryFormatError) as exc:
        to_records(raw, registry("bevoelkerung_kinder"), KEYS)
    message = str(exc.value)
    assert message.startswith(
        "12411.csv, line 1, column '2_variable_attribute_code': missing columns "
        "'2_variable_attribute_code' (did you mean '1_variable_attribute_code'?), "
    )
    assert "'value_variable_code'" in message


# --- two columns of one line, one measure ----------------------------------------------------


@pytest.fixture
def summed_source(tmp_path: Path) -> Source:
    return yaml_source(
        tmp_path,
        {
            "region": {"column": "AGS"},
            "school_year": {"column": "Schuljahr"},
            "values": {"A": "pupils_foerderschule", "B": "pupils_foerderschule"},
        },
    )


@pytest.mark.parametrize(
    ("a", "b", "value", "status"),
    [
        ("5", "-", 5.0, "ok"),
        ("-", "5", 5.0, "ok"),
        ("5", "3", 8.0, "ok"),
        ("5", ".", None, "suppressed"),
        (".", "5", None, "suppressed"),
        ("x", "5", None, "not_applicable"),
        # '/' is unreliable without a figure: not 5 (the other column alone)
        ("5", "/", None, "unreliable"),
        ("/", "5", None, "unreliable"),
        ("/", ".", None, "unreliable"),
        ("5", "", None, "not_available"),
        ("5 p", "3", 8.0, "provisional"),
        ("5", "3 p", 8.0, "provisional"),
        ("(5)", "3", 8.0, "unreliable"),
        ("5 e", "3", 8.0, "estimated"),
        ("2,5", "0,25", 2.75, "ok"),
    ],
)
def test_two_columns_of_one_line_are_summed(
    summed_source: Source, a: str, b: str, value: float | None, status: str
) -> None:
    raw = table(["Schuljahr", "AGS", "A", "B"], [["2022/23", "05112000", a, b]])
    frame = to_records(raw, summed_source, KEYS)
    assert len(frame) == 1
    record = rows_of(frame)[0]
    assert record["measure"] == "pupils_foerderschule"
    if value is None:
        assert record["value"] is None
    else:
        assert math.isclose(record["value"], value)
    assert record["status"] == status
    assert record["raw_value"] == f"{a} + {b}"
    assert record["source_column"] == "A + B"
    # pupils are counted in whole numbers: a fractional sum is read, and said to be wrong
    whole = value is None or value == int(value)
    assert record["problem"] == (
        None if whole else f"column 'A + B': count '{a} + {b}' is not a whole number"
    )


def test_an_unreadable_part_makes_the_sum_a_problem(summed_source: Source) -> None:
    raw = table(["Schuljahr", "AGS", "A", "B"], [["2022/23", "05112000", "5", "fünf"]])
    record = rows_of(to_records(raw, summed_source, KEYS))[0]
    assert (record["value"], record["status"], record["raw_value"]) == (None, None, "5 + fünf")
    assert record["problem"].startswith("column 'B': 'fünf' is not a number")


@pytest.mark.parametrize(
    ("cells", "value", "status"),
    [
        (("5", "3"), 8.0, "ok"),
        (("(5)", "3"), 8.0, "unreliable"),  # a flagged figure: the sum is flagged
        (("5", "-"), 5.0, "ok"),
        (("5", "."), None, "suppressed"),
        # '/' has no figure: the sum is '/', not the others alone, and never a 0
        (("5", "/"), None, "unreliable"),
        (("/", "/"), None, "unreliable"),
        (("/", "."), None, "unreliable"),  # the first symbol, in the order of the lines
    ],
)
def test_a_part_without_a_figure_makes_lines_added_up_that_symbol(
    cells: tuple[str, str], value: float | None, status: str
) -> None:
    """combine_rows (lines of ignored dimensions) and derive_totals (total over sex)."""
    raw = kita_table(*[["01.03.2023", "05112000", "Duisburg", cell, "1"] for cell in cells])
    frame = to_records(raw, registry("kita_betreuung"), KEYS)
    parts = frame[frame["measure"] == "daycare_children_u3"].reset_index(drop=True)
    combined = one(combine_rows(parts), measure="daycare_children_u3")
    assert (combined["value"], combined["status"]) == (value, status)
    assert combined["source_column"] == "sum of 2 lines"
    total = one(derive_totals(parts.assign(sex=["male", "female"]), ("sex",)), sex="total")
    assert (total["value"], total["status"]) == (value, status)
    assert total["source_column"] == "sum of 2 sex subgroups"


# --- school grain ----------------------------------------------------------------------------

A, B, C = "05913000", "05911000", "05914000"
SCHOOL_COLUMNS = ["schulnummer", "schuljahr", "schulname", "teilnehmende_schueler"]
SCHOOL_COLUMNS += ["foerderstunden"]
SCHOOLS = {"100001": A, "100002": A, "100003": B}


def school_records(rows: list[list[str]], source: Source | None = None) -> pd.DataFrame:
    source = source or registry("lernfoerderung")
    return to_records(table(SCHOOL_COLUMNS, rows), source, RegionResolver(school_regions=SCHOOLS))


def by_key(frame: pd.DataFrame) -> dict[tuple, tuple]:
    return {
        (r["region_code"], r["school_year"], r["measure"]): (r["value"], r["status"])
        for r in rows_of(frame)
    }


def test_aggregate_school_grain_sums_counts_and_fills_zeros() -> None:
    source = registry("lernfoerderung")
    records = school_records(
        [
            ["100001", "2022/23", "S1", "10", "100.5"],
            ["100002", "2022/23", "S2", "20", "50"],
            ["100003", "2022/23", "S3", "5", "10"],
            ["100003", "2023/24", "S3", "7", "12"],
        ]
    )
    result = aggregate_school_grain(records, source, [A, B, C])
    assert list(result.columns) == list(FRAME_COLUMNS)
    got = by_key(result)
    ok = "ok"
    assert got == {
        (A, "2022/23", "programme_pupils_reached"): (30.0, ok),
        (A, "2022/23", "programme_tutoring_hours"): (150.5, ok),
        (A, "2022/23", "programme_schools_reached"): (2.0, ok),
        (B, "2022/23", "programme_pupils_reached"): (5.0, ok),
        (B, "2022/23", "programme_tutoring_hours"): (10.0, ok),
        (B, "2022/23", "programme_schools_reached"): (1.0, ok),
        (C, "2022/23", "programme_pupils_reached"): (0.0, ok),
        (C, "2022/23", "programme_tutoring_hours"): (0.0, ok),
        (C, "2022/23", "programme_schools_reached"): (0.0, ok),
        (B, "2023/24", "programme_pupils_reached"): (7.0, ok),
        (B, "2023/24", "programme_tutoring_hours"): (12.0, ok),
        (B, "2023/24", "programme_schools_reached"): (1.0, ok),
        (A, "2023/24", "programme_pupils_reached"): (0.0, ok),
        (A, "2023/24", "programme_tutoring_hours"): (0.0, ok),
        (A, "2023/24", "programme_schools_reached"): (0.0, ok),
        (C, "2023/24", "programme_pupils_reached"): (0.0, ok),
        (C, "2023/24", "programme_tutoring_hours"): (0.0, ok),
        (C, "2023/24", "programme_schools_reached"): (0.0, ok),
    }
    assert len(result) == len(got)
    summed = one(result, region_code=A, school_year="2022/23", measure="programme_pupils_reached")
    assert summed["source_column"] == "sum of 2 school line(s)"
    assert summed["source_line"] == 2  # the first line of the group
    assert (summed["sex"], summed["nationality"], summed["start_year"]) == ("total", "total", 2022)
    assert summed["school_number"] == ""
    counted = one(result, region_code=A, school_year="2022/23", measure="programme_schools_reached")
    assert counted["source_column"] == "number of school lines"
    zero = one(result, region_code=C, school_year="2022/23", measure="programme_pupils_reached")
    assert zero["source_column"] == "no line for this municipality: 0"
    assert zero["source_line"] is None
    assert zero["start_year"] == 2022


def test_a_school_is_counted_once_per_year() -> None:
    records = school_records(
        [["100001", "2022/23", "S1", "10", "1"], ["100001", "2022/23", "S1", "4", "1"]]
    )
    result = aggregate_school_grain(records, registry("lernfoerderung"), [A])
    got = by_key(result)
    assert got[(A, "2022/23", "programme_schools_reached")] == (1.0, "ok")
    assert got[(A, "2022/23", "programme_pupils_reached")] == (14.0, "ok")


def test_without_absent_means_zero_or_count_rows_as() -> None:
    source = with_mapping(registry("lernfoerderung"), absent_means_zero=False, count_rows_as=None)
    records = school_records([["100003", "2022/23", "S3", "5", "10"]], source)
    result = aggregate_school_grain(records, source, [A, B, C])
    assert by_key(result) == {
        (B, "2022/23", "programme_pupils_reached"): (5.0, "ok"),
        (B, "2022/23", "programme_tutoring_hours"): (10.0, "ok"),
    }


def test_aggregate_of_no_records_is_empty() -> None:
    records = school_records([])
    assert aggregate_school_grain(records, registry("lernfoerderung"), [A]).empty


@pytest.mark.parametrize(("cell", "status"), [(".", "suppressed"), ("/", "unreliable")])
def test_a_suppressed_school_figure_is_not_silently_dropped(cell: str, status: str) -> None:
    records = school_records(
        [["100001", "2022/23", "S1", "10", "1"], ["100002", "2022/23", "S2", cell, "1"]]
    )
    result = aggregate_school_grain(records, registry("lernfoerderung"), [A])
    assert by_key(result)[(A, "2022/23", "programme_pupils_reached")] == (None, status)


def test_a_held_back_school_value_makes_its_municipality_not_available() -> None:
    """S2's hours are quarantined: A's hours are not the smaller sum of S1 alone, and C, whose
    only school is held back, is not a 0 from absent_means_zero."""
    records = school_records(
        [
            ["100001", "2022/23", "S1", "10", "100"],
            ["100002", "2022/23", "S2", "4", "7,5"],
            ["100003", "2022/23", "S3", "5", "10"],
        ]
    )
    held = (records["school_number"] == "100002") & (
        records["measure"] == "programme_tutoring_hours"
    )
    result = aggregate_school_grain(
        records[~held], registry("lernfoerderung"), [A, B, C], held_back=records[held]
    )
    got = by_key(result)
    assert got[(A, "2022/23", "programme_tutoring_hours")] == (None, "not_available")
    assert got[(A, "2022/23", "programme_pupils_reached")] == (14.0, "ok")  # S2's pupils are fine
    assert got[(A, "2022/23", "programme_schools_reached")] == (2.0, "ok")
    assert got[(B, "2022/23", "programme_tutoring_hours")] == (10.0, "ok")
    hours = one(result, region_code=A, school_year="2022/23", measure="programme_tutoring_hours")
    assert hours["source_column"] == (
        "sum of 2 school line(s); not available: line(s) 3 held back in quarantine"
    )


def test_a_held_back_only_school_is_not_a_zero() -> None:
    records = school_records([["100001", "2022/23", "S1", "x1", "1"]])
    held = records["measure"] == "programme_pupils_reached"
    result = aggregate_school_grain(
        records[~held], registry("lernfoerderung"), [A, C], held_back=records[held]
    )
    got = by_key(result)
    assert got[(A, "2022/23", "programme_pupils_reached")] == (None, "not_available")
    assert got[(C, "2022/23", "programme_pupils_reached")] == (0.0, "ok")


def test_a_provisional_school_figure_makes_the_sum_provisional() -> None:
    records = school_records(
        [["100001", "2022/23", "S1", "10", "1"], ["100002", "2022/23", "S2", "4 p", "1"]]
    )
    result = aggregate_school_grain(records, registry("lernfoerderung"), [A])
    assert by_key(result)[(A, "2022/23", "programme_pupils_reached")] == (14.0, "provisional")


def test_a_failed_lookup_keeps_one_quarantinable_record_per_column() -> None:
    columns = ["", "", "", "", *(v.column for v in registry(
        "regionalstatistik_21111_01_03_4").measures.values)]  # fmt: skip
    raw = table(columns, [["2023", "05513", "Gelsenkirchen", "Raketenschulen", "1", "2", "3", "4"]],
                label_columns=4)  # fmt: skip
    records = rows_of(to_records(raw, registry("regionalstatistik_21111_01_03_4"), KEYS))
    assert len(records) == 4
    assert {r["measure"] for r in records} == {None}
    assert len({r["source_column"] for r in records}) == 4
    assert all("column 'school_type': 'Raketenschulen' is not one of" in r["problem"]
               for r in records)  # fmt: skip
