"""Territory over time (Gebietsstand): region keys with their validity, the change list and the
office's file read with clear errors, and series carried to today's territory by the indicator
SQL on a small real warehouse (the fixtures of tests/test_indicator_sql.py)."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import duckdb
import pytest

from expectations.validation import outside_validity
from schemas.catalogue import load_catalogue
from schemas.regions import load_regions, region_rows, snapshot_rows, territory
from schemas.territory import TERRITORY_YAML, load_territory
from schemas.yamlmodel import YamlError
from sources.registry import load_registry
from tests.test_indicator_sql import base, deliver, warehouse  # noqa: F401 (fixtures)
from warehouse.build import (
    build_measure_revisions,
    build_sql_table,
    load_catalogue_tables,
    load_regions_table,
    load_sources_table,
)
from warehouse.db import DataPaths, init_schema
from warehouse.ingest import ingest_source
from warehouse.staging import stage_source

AACHEN_RULE = (
    "summed from 2 predecessors (05313 + 05354: Bildung der StädteRegion Aachen (NRW), 2009-10-21)"
)


# --- the model ------------------------------------------------------------------------------


def test_keys_carry_their_validity_and_successors() -> None:
    known = territory()
    kreis_aachen = known.validity["05354"]
    assert (kreis_aachen.name, kreis_aachen.level) == ("Kreis Aachen", "kreis")
    assert (kreis_aachen.valid_from, kreis_aachen.valid_until) == (None, dt.date(2009, 10, 20))
    assert [(s.code, s.kind) for s in kreis_aachen.successors] == [("05334", "merge")]
    assert known.validity["05334"].valid_from == dt.date(2009, 10, 21)
    hanau = known.validity["06415"]
    assert (hanau.name, hanau.valid_from, hanau.valid_until) == ("Hanau", dt.date(2026, 1, 1), None)
    # a key that goes on with the rest of its territory: a split, valid throughout
    main_kinzig = known.validity["06435"]
    assert (main_kinzig.valid_from, main_kinzig.valid_until) == (None, None)
    assert sorted((s.code, s.kind) for s in main_kinzig.successors) == [
        ("06415", "new"),
        ("06435", "split"),
    ]
    # a Kreis split in four (Sachsen-Anhalt 2007)
    assert {s.kind for s in known.validity["15151"].successors} == {"split"}
    assert len(known.validity["15151"].successors) == 4
    # a school year accepts the keys valid on any of its days
    assert kreis_aachen.valid_in(2009) and not kreis_aachen.valid_in(2010)
    assert hanau.valid_in(2025) and not hanau.valid_in(2024)


def test_the_kreis_list_and_the_office_file_are_both_read() -> None:
    changes = {(c.old_code, c.new_code): c for c in territory().changes}
    assert len(changes) == 93  # 79 rows of the Kreis list, 14 of territory.yaml
    assert changes[("05354", "05334")].source == "schemas/kreis_changes_2007-2026.csv, line 60"
    aachen = changes[("05313000", "05334002")]
    assert (aachen.kind, aachen.level, aachen.source) == (
        "rename",
        "gemeinde",
        "schemas/territory.yaml, line 23",
    )


def test_todays_territory_has_hanau_and_not_its_old_key() -> None:
    rows = {r.region_code: r for r in region_rows()}
    assert rows["06415"].is_current and rows["06415000"].is_current
    assert rows["06415"].parent_code == "064" and rows["06415000"].kreis_code == "06415"
    assert not rows["06435014"].is_current and rows["06435014"].valid_until == dt.date(2025, 12, 31)
    assert rows["06435"].is_current
    kreise = load_regions().query("level == 'kreis' and is_current")
    assert len(kreise) == 401  # 400 on 2024-12-31 (regions.csv), Hanau since 2026-01-01


def _copy_territory(tmp_path: Path, yaml_text: str | None = None, csv_text: str | None = None):
    shutil.copy(TERRITORY_YAML.parent / "kreis_changes_2007-2026.csv", tmp_path)
    (tmp_path / "territory.yaml").write_text(
        yaml_text or TERRITORY_YAML.read_text(encoding="utf-8"), encoding="utf-8"
    )
    if csv_text is not None:
        (tmp_path / "kreis_changes_2007-2026.csv").write_text(csv_text, encoding="utf-8")
    known = {r.region_code: (r.name, r.level) for r in snapshot_rows()}
    return lambda: load_territory(known, tmp_path / "territory.yaml")


def _csv_with(line: str) -> str:
    original = (TERRITORY_YAML.parent / "kreis_changes_2007-2026.csv").read_text(encoding="utf-8")
    return original + line + "\n"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "05354;05334;21.10.2009;Bildung der StädteRegion Aachen",
            "schemas/kreis_changes_2007-2026.csv, line 81: column 'effective': found "
            "'21.10.2009', expected a date YYYY-MM-DD",
        ),
        (
            "5354;05334;2009-10-21;Bildung der StädteRegion Aachen",
            "schemas/kreis_changes_2007-2026.csv, line 81: column 'old_kreis': found '5354', "
            "expected a Kreis key (5 digits) or a Gemeinde key (8 digits)",
        ),
        (
            "05999;05334;2009-10-21;Bildung der StädteRegion Aachen",
            "schemas/kreis_changes_2007-2026.csv, line 81: column 'old_kreis': 05999 is not a "
            "key of schemas/regions.csv (a key created later belongs under new_regions in "
            "territory.yaml)",
        ),
        (
            "05354;05334;2009-10-21",
            "schemas/kreis_changes_2007-2026.csv, line 81: 3 cells: expected 4",
        ),
        (
            "05354;05334;2009-10-21;Bildung der StädteRegion Aachen (NRW)",
            "schemas/kreis_changes_2007-2026.csv, line 81: 05354 -> 05334 on 2009-10-21 is "
            "listed twice (also schemas/kreis_changes_2007-2026.csv, line 60)",
        ),
        (
            "05354;05354004;2009-10-21;Bildung der StädteRegion Aachen",
            "schemas/kreis_changes_2007-2026.csv, line 81: columns 'old_kreis' and 'new_kreis': "
            "05354 and 05354004 are of different levels (5 digits for Kreise, 8 for Gemeinden)",
        ),
    ],
)
def test_a_bad_row_of_the_kreis_list_names_file_line_and_column(
    tmp_path: Path, line: str, message: str
) -> None:
    load = _copy_territory(tmp_path, csv_text=_csv_with(line))
    with pytest.raises(YamlError) as caught:
        load()
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            '{old: "05313000", new: "05334002", effective: 2009-10-21, change: x, share: 0,5}',
            "key 'changes[14].share': '0,5' — a decimal comma? YAML numbers take a point: 0.5",
        ),
        (
            '{old: "05313000", new: "05334002", effective: 21.10.2009, change: x}',
            "key 'changes[14].effective': ",
        ),
        (
            '{old: "05313000", new: "05334002", effective: 2009-10-21, change: x, anteil: 1}',
            "key 'changes[14].anteil': unknown key",
        ),
    ],
)
def test_a_bad_row_of_the_office_file_names_line_and_key(
    tmp_path: Path, row: str, message: str
) -> None:
    text = TERRITORY_YAML.read_text(encoding="utf-8").replace(
        "\n# Keys created after", f"\n  - {row}\n\n# Keys created after"
    )
    load = _copy_territory(tmp_path, yaml_text=text)
    with pytest.raises(YamlError) as caught:
        load()
    line = text.splitlines().index(f"  - {row}") + 1
    assert str(caught.value).startswith(f"schemas/territory.yaml, line {line}, {message}")


# --- the indicator SQL ----------------------------------------------------------------------


def dropout(region: str, year: str, total: float, without: float) -> list[tuple]:
    return [
        ("leavers_total", region, year, total, "ok"),
        ("leavers_without_hsa", region, year, without, "ok"),
    ]


def series(conn, region: str) -> dict[str, tuple]:
    build_measure_revisions(conn)
    build_sql_table(conn, "indicators/indicator_values.sql")
    rows = conn.execute(
        "SELECT school_year, numerator, denominator, aggregation, series_break, "
        "series_break_reason FROM marts.indicator_values WHERE indicator_id = 'dropout_rate' "
        "AND region_code = ? AND sex = 'total' AND nationality = 'total' ORDER BY start_year",
        [region],
    ).fetchall()
    return {r[0]: r[1:] for r in rows}


def test_a_series_across_a_merger_is_continuous_on_todays_territory(warehouse) -> None:  # noqa: F811
    records = []
    for year in ("2007/08", "2008/09", "2009/10"):
        records += dropout("05313", year, 1000, 50) + dropout("05354", year, 2000, 120)
    for year in ("2010/11", "2011/12"):
        records += dropout("05334", year, 3100, 160)
    deliver(warehouse, "d1", 1, records)
    values = series(warehouse, "05334")
    assert values == {
        "2007/08": (170, 3000, AACHEN_RULE, False, None),
        "2008/09": (170, 3000, AACHEN_RULE, False, None),
        "2009/10": (170, 3000, AACHEN_RULE, False, None),
        "2010/11": (160, 3100, "delivered", False, None),
        "2011/12": (160, 3100, "delivered", False, None),
    }


def test_a_merger_is_not_summed_from_some_of_its_predecessors(warehouse) -> None:  # noqa: F811
    deliver(warehouse, "d1", 1, dropout("05313", "2008/09", 1000, 50))
    assert series(warehouse, "05334") == {}


def test_a_renamed_gemeinde_keeps_its_series(warehouse) -> None:  # noqa: F811
    records = dropout("06435014", "2024/25", 800, 40) + dropout("06415000", "2026/27", 820, 41)
    records += dropout("06435014", "2025/26", 810, 40)
    deliver(warehouse, "d1", 1, records)
    rule = (
        "carried from predecessor 06435014 (Hanau verlässt den Main-Kinzig-Kreis und wird "
        "kreisfreie Stadt, 2026-01-01)"
    )
    assert series(warehouse, "06415000") == {
        "2024/25": (40, 800, rule, False, None),
        "2025/26": (40, 810, rule, False, None),
        "2026/27": (41, 820, "delivered", False, None),
    }


def test_a_split_breaks_the_series_of_the_key_that_goes_on(warehouse) -> None:  # noqa: F811
    records = []
    for year, total in (("2024/25", 4000), ("2025/26", 4010), ("2026/27", 3200)):
        records += dropout("06435", year, total, 200)
    deliver(warehouse, "d1", 1, records)
    values = series(warehouse, "06435")
    assert [v[3] for v in values.values()] == [False, False, True]
    assert values["2026/27"][4] == (
        "territory: 06435 changed on 2026-01-01 (split: Hanau verlässt den Main-Kinzig-Kreis "
        "(übriges Kreisgebiet))"
    )


def test_a_kreis_that_takes_in_another_sums_both_before_the_change(warehouse) -> None:  # noqa: F811
    records = dropout("16063", "2019/20", 1200, 60)  # Eisenach missing: the old territory
    for year in ("2020/21",):
        records += dropout("16063", year, 1200, 60) + dropout("16056", year, 400, 30)
    records += dropout("16063", "2021/22", 1610, 88)
    deliver(warehouse, "d1", 1, records)
    values = series(warehouse, "16063")
    rule = (
        "summed from 2 predecessors (16056 + 16063: Eingliederung der kreisfreien Stadt "
        "Eisenach in den Wartburgkreis, 2021-07-01)"
    )
    reason = (
        "territory: 16063 changed on 2021-07-01 (merge: Eingliederung der kreisfreien Stadt "
        "Eisenach in den Wartburgkreis)"
    )
    assert values == {
        "2019/20": (60, 1200, "delivered", False, None),
        "2020/21": (90, 1600, rule, True, reason),
        "2021/22": (88, 1610, "delivered", False, None),
    }


def test_region_changes_and_todays_regions_are_marts(warehouse) -> None:  # noqa: F811
    build_sql_table(warehouse, "marts/regions.sql")
    build_sql_table(warehouse, "marts/region_changes.sql")
    rows = warehouse.execute(
        "SELECT old_code, old_name, new_code, new_name, effective, first_school_year, kind, "
        "source FROM marts.region_changes WHERE new_code = '05334' ORDER BY old_code"
    ).fetchall()
    assert rows == [
        (
            "05313", "Aachen (alt)", "05334", "Städteregion Aachen", dt.date(2009, 10, 21),
            "2010/11", "merge", "schemas/kreis_changes_2007-2026.csv, line 59",
        ),
        (
            "05354", "Kreis Aachen", "05334", "Städteregion Aachen", dt.date(2009, 10, 21),
            "2010/11", "merge", "schemas/kreis_changes_2007-2026.csv, line 60",
        ),
    ]  # fmt: skip
    assert warehouse.execute(
        "SELECT is_current, valid_from, valid_until FROM marts.regions "
        "WHERE region_code IN ('05354', '06415') ORDER BY region_code"
    ).fetchall() == [(False, None, dt.date(2009, 10, 20)), (True, dt.date(2026, 1, 1), None)]


# --- a delivery through ingest, staging and core: the worked example of docs/analysts.md ---

ANALYSTS_DOC = Path(__file__).resolve().parent.parent / "docs" / "analysts.md"


def _doc_table_after(text: str, sql: str) -> list[str]:
    """The markdown table's data lines right after the ```sql block `sql` in the doc."""
    after = text[text.index(sql) + len(sql) :].split("\n\n", 2)[1]
    return after.splitlines()[2:]


def _as_table_lines(rows: list[tuple]) -> list[str]:
    def cell(value: object) -> str:
        return str(value).lower() if isinstance(value, bool) else str(value)

    return ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]


def test_analysts_doc_example_dissolved_and_new_kreise_load_and_the_series_goes_on(
    tmp_path: Path,
) -> None:
    """The doc's partner file keyed by the dissolved Kreise of Aachen (2007/08–2009/10), the
    StädteRegion since and the new kreisfreie Stadt Hanau (2025/26) loads; the Kreis Aachen in
    2012/13 is quarantined with its validity; the doc's queries give the doc's tables."""
    text = ANALYSTS_DOC.read_text(encoding="utf-8")
    (delivery,) = re.findall(r"```csv\n(.*?)```", text, re.S)
    queries = [
        q
        for q in re.findall(r"```sql\n(.*?)```", text, re.S)
        if "05334" in q or "region_keys_valid_in_year" in q
    ]
    paths = DataPaths(tmp_path / "data")
    delivered = tmp_path / "abgaenger_gebietsstand.csv"
    delivered.write_bytes(delivery.encode("cp1252"))
    source = load_registry()["schulabgaenger_abschlussart"].model_copy(
        update={"location": (str(delivered),), "coverage": None}  # a file covering Germany
    )
    registry = {source.id: source}
    paths.work_db.parent.mkdir(parents=True)
    with duckdb.connect(str(paths.work_db)) as conn:
        init_schema(conn)
        load_regions_table(conn)
        load_catalogue_tables(conn, load_catalogue())
        load_sources_table(conn, registry)
        ingest_source(conn, source, paths, "run-1")
        result = stage_source(conn, source, paths, "run-1", registry=registry)
        assert [d.state for d in result.deliveries] == ["loaded_with_quarantine"]
        staged = conn.execute(
            "SELECT region_code, count(DISTINCT school_year) FROM staging.records "
            "GROUP BY ALL ORDER BY 1"
        ).fetchall()
        assert staged == [("05313", 3), ("05334", 3), ("05354", 3), ("06415", 1)]
        series(conn, "05334")  # builds core and indicators
        build_sql_table(conn, "marts/region_changes.sql")
        assert len(queries) == 3
        for sql in queries:
            shown = _as_table_lines(conn.execute(sql).fetchall())
            assert shown == _doc_table_after(text, sql), sql
        assert series(conn, "06415")["2025/26"][:3] == (40, 800, "delivered")


def test_the_partner_reads_in_german_why_a_key_does_not_fit_the_year() -> None:
    conn = duckdb.connect()
    conn.execute(
        "CREATE TEMP TABLE records AS SELECT * FROM (VALUES ('06415', 2024), ('06415', 2025), "
        "('05354', 2012), ('05334', 2012), ('05354', 2009)) t(region_code, start_year)"
    )
    table = outside_validity(conn, "records")
    assert conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall() == [
        (
            "05354", 2012,
            "region key 05354 (Kreis Aachen) is not valid in school year 2012/13: valid until "
            "2009-10-20, then 05334",
            "Gebietsschlüssel 05354 (Kreis Aachen) gilt nicht im Schuljahr 2012/13: gültig bis "
            "20.10.2009, danach 05334",
        ),
        (
            "06415", 2024,
            "region key 06415 (Hanau) is not valid in school year 2024/25: valid from 2026-01-01",
            "Gebietsschlüssel 06415 (Hanau) gilt nicht im Schuljahr 2024/25: gültig ab 01.01.2026",
        ),
    ]  # fmt: skip


def test_a_source_on_todays_territory_may_use_todays_keys_for_earlier_years() -> None:
    """Regionalstatistik's tables recalculated on today's territory key 2007/08 by 05334:
    `territory: today` in the registry; a dissolved key after its end is still an error."""
    conn = duckdb.connect()
    conn.execute(
        "CREATE TEMP TABLE records AS SELECT * FROM (VALUES ('05334', 2007), ('06415', 2020), "
        "('05354', 2012)) t(region_code, start_year)"
    )
    table = outside_validity(conn, "records", today=True)
    assert conn.execute(f"SELECT region_code, start_year FROM {table}").fetchall() == [
        ("05354", 2012)
    ]
    spec = load_registry()["schulabgaenger_abschlussart"]
    assert spec.territory == "of_each_year"  # the default
