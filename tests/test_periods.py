"""Every time format a source may declare (sources/periods.py), with real values of the GENESIS
recordings (`../shared/data/genesis-recordings`: Stichtag dates, STAGV quarter ends, years) and
the examples of issue 12 (`2023-10P6M`, `09.05.2011`); a time column none of whose cells fits
the declared rule is a structural error that names the column, an example and the rule that
fits."""

from __future__ import annotations

import pytest

from sources.periods import FORMATS, PeriodError, readable_as, start_year
from sources.readers.base import DeliveryFormatError
from tests.test_canonical import KEYS, kita_table, registry, rows_of, to_records, with_mapping


@pytest.mark.parametrize(
    ("fmt", "cell", "anchor", "expected"),
    [
        # JAHR (91111-0001: 1990 … 2022; 52411-02-01-4: 2024)
        ("start_year", "1990", "start", 1990),
        ("end_year", "2024", "start", 2023),
        ("period", "2019", "start", 2018),  # 12211-Z-11: the calendar year 2019 …
        ("period", "2019", "end", 2019),  # … ends in school year 2019/20
        # STAG (11111-02-01-4, 12411-01-01-4: 2024-12-31; 1000A-2022: Zensus 2022-05-15)
        ("iso_date", "2024-12-31", "start", 2024),
        ("iso_date", "2022-05-15", "start", 2021),
        ("iso_date", "2025-06-30", "start", 2024),  # 13111-01-03-4
        # STAGV: quarter ends (71311-0001: 2023-06-30 … 2025-09-30)
        ("iso_date", "2023-06-30", "start", 2022),
        ("iso_date", "2025-09-30", "start", 2025),
        # older exports and partners: German dates
        ("date", "09.05.2011", "start", 2010),
        ("date", "01.03.2024", "start", 2023),
        ("school_year", "2022/23", "start", 2022),
        # SEMEST: winter semester 2023/24 as GENESIS writes it; the summer semester after it
        ("semester", "2023-10P6M", "start", 2023),
        ("semester", "2024-04P6M", "start", 2023),
        ("semester", "WS 2023/24", "start", 2023),
        ("semester", "Wintersemester 2023/2024", "start", 2023),
        ("semester", "SoSe 2024", "start", 2023),
        ("period", "2023-10P6M", "end", 2023),
        # quarters and months
        ("quarter", "2023-07P3M", "start", 2022),
        ("quarter", "2023-07P3M", "end", 2023),
        ("quarter", "2023-Q3", "start", 2022),
        ("quarter", "3. Quartal 2023", "end", 2023),
        ("month", "2023-09", "start", 2023),
        ("month", "2023-09P1M", "start", 2023),
        ("month", "09.2023", "start", 2023),
        ("month", "September 2023", "start", 2023),
        ("month", "März 2024", "start", 2023),
    ],
)
def test_each_rule_maps_a_cell_to_its_school_year(
    fmt: str, cell: str, anchor: str, expected: int
) -> None:
    assert start_year(cell, fmt, anchor) == expected


@pytest.mark.parametrize(
    ("fmt", "cell", "message", "german"),
    [
        (
            "semester",
            "2023-10P3M",  # a quarter, not a semester
            "semester '2023-10P3M' is not of the form WS 2023/24, SoSe 2024 or 2023-10P6M",
            "Semester '2023-10P3M' hat nicht die Form WS 2023/24, SoSe 2024 oder 2023-10P6M",
        ),
        (
            "semester",
            "WS 2023/25",
            "semester 'WS 2023/25' is not of the form WS 2023/24, SoSe 2024 or 2023-10P6M",
            "Semester 'WS 2023/25' hat nicht die Form WS 2023/24, SoSe 2024 oder 2023-10P6M",
        ),
        (
            "month",
            "13.2023",
            "month '13.2023' is not of the form 2023-09, 09.2023, September 2023 or 2023-09P1M",
            "Monat '13.2023' hat nicht die Form 2023-09, 09.2023, September 2023 oder 2023-09P1M",
        ),
        ("period", "2023-02-30", "date '2023-02-30' does not exist",
         "Datum '2023-02-30' gibt es nicht"),
    ],
)  # fmt: skip
def test_a_cell_the_rule_cannot_read_says_what_it_expected(
    fmt: str, cell: str, message: str, german: str
) -> None:
    with pytest.raises(PeriodError) as caught:
        start_year(cell, fmt)
    assert (str(caught.value), caught.value.message_de) == (message, german)


def test_which_rules_read_a_cell() -> None:
    assert readable_as("2023-10P6M") == ["semester", "period"]
    assert readable_as("2024-12-31") == ["iso_date", "period"]
    assert readable_as("09.05.2011") == ["date"]
    assert readable_as("abc") == []
    assert set(FORMATS) == {"school_year", "start_year", "end_year", "date", "iso_date",
                            "period", "semester", "quarter", "month"}  # fmt: skip


def test_a_time_column_in_another_format_is_a_structural_error() -> None:
    """The real case of issue 12: GENESIS semesters read with a year rule. Not 4,410
    quarantined records: one error naming the column, an example and the rule that reads it."""
    source = with_mapping(registry("kita_betreuung"), year_format="start_year")
    raw = kita_table(
        ["2023-10P6M", "05112000", "Duisburg", "1", "2"],
        ["2023-10P6M", "05113000", "Essen", "3", "4"],
    )
    with pytest.raises(DeliveryFormatError) as caught:
        to_records(raw, source, KEYS)
    error = caught.value
    assert (error.line, error.column, error.stage) == (2, "Stichtag", "columns")
    assert str(error) == (
        "delivery.csv, line 2, column 'Stichtag': no cell of the time column is a start_year "
        "(2022 (for 2022/23)); it reads as semester or period: declare "
        "`school_year: {format: semester}` in the source's YAML (expected 2022 (for 2022/23); "
        "found '2023-10P6M')"
    )
    assert error.message_de.startswith(
        "delivery.csv, Zeile 2, Spalte 'Stichtag': keine Zeitangabe der Spalte hat die "
        "vereinbarte Form (Jahr (Beginn des Schuljahres)); lesbar als Semester oder Zeitraum "
        "(ISO 8601)"
    )
    # declared as what it is, the same cells load, with their school year
    semesters = with_mapping(source, year_format="semester")
    assert {r["school_year"] for r in rows_of(to_records(raw, semesters, KEYS))} == {"2023/24"}


def test_a_wrong_date_in_the_right_format_stays_a_record_problem() -> None:
    """Not every unreadable cell is a wrong rule: 31.02. is a date that does not exist."""
    source = with_mapping(registry("kita_betreuung"), year_format="date")
    frame = to_records(kita_table(["31.02.2023", "05112000", "Duisburg", "1", "2"]), source, KEYS)
    assert {r["problem"] for r in rows_of(frame)} == {
        "column 'Stichtag': date '31.02.2023' does not exist"
    }


def test_the_example_in_docs_sources_md() -> None:
    """docs/sources.md, `school_year.format`: the structural error as the page shows it."""
    from tests.conftest import REPO
    from tests.test_canonical import KITA_3_6, KITA_U3, table

    text = (REPO / "docs/sources.md").read_text()
    (shown,) = [line.strip() for line in text.splitlines() if "semester.csv, line 2" in line]
    source = with_mapping(registry("kita_betreuung"), year_column="time", year_format="start_year")
    raw = table(
        ["time", "Gemeindeschlüssel", "Gemeindename", KITA_U3, KITA_3_6],
        [["2023-10P6M", "05112000", "Duisburg", "1", "2"]],
        file_name="semester.csv",
    )
    with pytest.raises(DeliveryFormatError) as caught:
        to_records(raw, source, KEYS)
    assert str(caught.value) == shown


def test_the_production_students_table_as_the_live_service_shapes_it() -> None:
    """regionalstatistik_21311_01_01_4 (production) on a flat file shaped like the live table of
    issue 12: time 2023-10P6M (SEMEST), GESINS and NAT01 with INSGESAMT totals, subject groups
    HS-FG2 with their own total — every figure once, in school year 2023/24, never doubled."""
    import duckdb

    from sources.delivery import read_payload, records_relation
    from sources.registry import REGISTRIES, load_registry

    source = load_registry(REGISTRIES / "production")["regionalstatistik_21311_01_01_4"]
    header = (
        "statistics_code;statistics_label;time_code;time_label;time;"
        "1_variable_code;1_variable_label;1_variable_attribute_code;1_variable_attribute_label;"
        "2_variable_code;2_variable_label;2_variable_attribute_code;2_variable_attribute_label;"
        "3_variable_code;3_variable_label;3_variable_attribute_code;3_variable_attribute_label;"
        "4_variable_code;4_variable_label;4_variable_attribute_code;4_variable_attribute_label;"
        "value;value_unit;value_variable_code;value_variable_label"
    )
    lines = [header]
    students = {}
    for sex in ("GESM", "GESW", "INSGESAMT"):
        for nationality in ("NATA", "NATD", "INSGESAMT"):
            for group in ("HS-FG2-01", "HS-FG2-02", "INSGESAMT"):
                value = 1000 + 10 * len(lines)
                if group == "INSGESAMT":
                    students[(sex, nationality)] = value
                lines.append(
                    f"21311;Statistik der Studenten;SEMEST;Semester;2023-10P6M;"
                    f"KREISE;Kreise;05113;Essen;GESINS;Geschlecht;{sex};x;"
                    f"NAT01;Nationalität;{nationality};x;HS-FG2;Fächergruppe;{group};x;"
                    f"{value};Anzahl;HS-W02;Studierende"
                )
    data = ("\n".join(lines) + "\n").encode()
    with duckdb.connect() as conn:
        raw = read_payload(source, data, "21311-01-01-4-B_flat.csv", conn)
        relation = records_relation(conn, raw, source)
        got = conn.execute(
            f"SELECT sex, nationality, school_year, value, problem FROM {relation}"
        ).fetchall()
    sexes = {"GESM": "male", "GESW": "female", "INSGESAMT": "total"}
    nationalities = {"NATA": "foreign", "NATD": "german", "INSGESAMT": "total"}
    assert sorted(got) == sorted(
        (sexes[s], nationalities[n], "2023/24", float(v), None) for (s, n), v in students.items()
    )
