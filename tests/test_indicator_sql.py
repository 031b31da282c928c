"""The indicator SQL on a small warehouse: Σ over complete member levels, symbols, zero
denominators, provisional flags, revisions — the rules docs/indicators.md promises."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from schemas.catalogue import load_catalogue
from schemas.regions import load_regions
from warehouse.build import (
    build_measure_revisions,
    build_sql_table,
    load_catalogue_tables,
    load_regions_table,
)
from warehouse.db import init_schema

RECKLINGHAUSEN_TOWNS = [
    f"05562{n}" for n in ("004", "008", "012", "014", "016", "020", "024", "028", "032", "036")
]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse with the real regions and catalogue, no measures yet."""
    path = tmp_path_factory.mktemp("sql") / "base.duckdb"
    with duckdb.connect(str(path)) as conn:
        init_schema(conn)
        load_regions_table(conn)
        load_catalogue_tables(conn, load_catalogue())
        conn.execute(
            "CREATE TABLE core.sources (source_id VARCHAR, title VARCHAR, standing VARCHAR, "
            "rank INTEGER)"
        )
        conn.execute(
            "INSERT INTO core.sources VALUES ('test', 'Test', 'partner', 1), "
            "('amtlich', 'Amtlich', 'official', 1), ('demo', 'Demo', 'synthetic', 1)"
        )
    return path


@pytest.fixture
def warehouse(base: Path, tmp_path: Path):
    copy = tmp_path / "w.duckdb"
    copy.write_bytes(base.read_bytes())
    conn = duckdb.connect(str(copy))
    yield conn
    conn.close()


def deliver(conn, delivery: str, seq: int, records: list[tuple], source: str = "test") -> None:
    """records: (measure, region_code, school_year, value, status[, sex, nationality])"""
    conn.execute(
        "INSERT INTO meta.deliveries (delivery_id, source_id, delivery_seq, file_name, synthetic, "
        "state) VALUES (?, ?, ?, ?, false, 'loaded')",
        [delivery, source, seq, f"{delivery}.csv"],
    )
    frame = pd.DataFrame(
        [
            {
                "delivery_id": delivery,
                "source_id": source,
                "measure": m,
                "region_code": r,
                "school_year": y,
                "start_year": int(y[:4]),
                "sex": (rest[0] if rest else "total"),
                "nationality": (rest[1] if len(rest) > 1 else "total"),
                "value": v,
                "status": s,
                "raw_value": str(v),
                "source_line": 1,
                "source_column": "c",
            }
            for m, r, y, v, s, *rest in records
        ]
    )
    conn.register("new_records", frame)
    conn.execute("INSERT INTO staging.records BY NAME SELECT * FROM new_records")
    conn.unregister("new_records")


def compute(conn) -> dict[tuple[str, str, str], tuple]:
    build_measure_revisions(conn)
    build_sql_table(conn, "indicators/indicator_values.sql")
    result = conn.execute(
        "SELECT indicator_id, region_code, school_year, value, numerator, denominator, status, "
        "computed_from_level, member_count, aggregation FROM marts.indicator_values "
        "WHERE sex = 'total' AND nationality = 'total'"
    ).fetchall()
    return {(r[0], r[1], r[2]): r[3:] for r in result}


def dropout(region: str, total: float, without: float, year: str = "2022/23", status="ok"):
    return [
        ("leavers_total", region, year, total, "ok"),
        ("leavers_without_hsa", region, year, without, status),
    ]


def test_kreis_is_the_sum_over_its_towns_not_the_mean(warehouse) -> None:
    records = []
    for i, town in enumerate(RECKLINGHAUSEN_TOWNS):
        records += dropout(town, 100 + 100 * i, 5 + i)
    deliver(warehouse, "d1", 1, records)
    values = compute(warehouse)
    total = sum(100 + 100 * i for i in range(10))
    without = sum(5 + i for i in range(10))
    value, numerator, denominator, status, level, members, aggregation = values[
        ("dropout_rate", "05562", "2022/23")
    ]
    assert (numerator, denominator, status, level, members, aggregation) == (
        without,
        total,
        "ok",
        "gemeinde",
        10,
        "summed from 10 parts",
    )
    assert value == pytest.approx(100 * without / total)
    # not the mean of the towns' rates
    mean = sum(100 * (5 + i) / (100 + 100 * i) for i in range(10)) / 10
    assert abs(value - mean) > 0.4
    # the Ruhr needs all 53 municipalities: with 10 of them there is no Ruhr value
    assert ("dropout_rate", "RVR", "2022/23") not in values


def test_a_suppressed_town_makes_the_kreis_fall_back_to_its_own_figure(warehouse) -> None:
    records = []
    for town in RECKLINGHAUSEN_TOWNS:
        records += dropout(town, 500, 25)
    records[-1] = ("leavers_without_hsa", RECKLINGHAUSEN_TOWNS[-1], "2022/23", None, "suppressed")
    deliver(warehouse, "d1", 1, records)
    values = compute(warehouse)
    assert ("dropout_rate", "05562", "2022/23") not in values  # never silently 9 of 10 towns
    town = values[("dropout_rate", RECKLINGHAUSEN_TOWNS[-1], "2022/23")]
    assert town[0] is None and town[3] == "suppressed"
    # the Kreis delivered its own (unsuppressed) figure: that is used, marked as such
    deliver(warehouse, "d2", 2, dropout("05562", 5000, 260))
    value, numerator, denominator, _, level, members, aggregation = compute(warehouse)[
        ("dropout_rate", "05562", "2022/23")
    ]
    assert (numerator, denominator, level, members, aggregation) == (
        260,
        5000,
        "kreis",
        1,
        "delivered",
    )
    assert value == pytest.approx(5.2)


def test_kreisfreie_stadt_has_equal_values_as_kreis_and_gemeinde(warehouse) -> None:
    deliver(warehouse, "d1", 1, dropout("05513000", 2400, 312))
    values = compute(warehouse)
    assert values[("dropout_rate", "05513", "2022/23")][:3] == (13.0, 312, 2400)
    assert values[("dropout_rate", "05513000", "2022/23")][:3] == (13.0, 312, 2400)
    # one territory: the Kreis key's figure is the delivered one, not a sum of one part
    assert values[("dropout_rate", "05513", "2022/23")][-1] == "delivered"
    # and a Kreis-level delivery reaches the Gemeinde key too
    deliver(warehouse, "d2", 2, dropout("05112", 3000, 300, year="2023/24"))
    values = compute(warehouse)
    assert values[("dropout_rate", "05112000", "2023/24")][0] == pytest.approx(10.0)


def test_zero_denominator_and_provisional_flags(warehouse) -> None:
    deliver(
        warehouse,
        "d1",
        1,
        dropout("05562004", 0, 0) + dropout("05562008", 400, 20, status="provisional"),
    )
    values = compute(warehouse)
    zero = values[("dropout_rate", "05562004", "2022/23")]
    assert zero[0] is None and zero[3] == "not_applicable"
    flagged = values[("dropout_rate", "05562008", "2022/23")]
    assert flagged[0] == pytest.approx(5.0) and flagged[3] == "provisional"


def test_the_latest_delivery_is_current_and_revisions_are_kept(warehouse) -> None:
    deliver(warehouse, "d1", 1, dropout("05513000", 2400, 312))
    deliver(warehouse, "d2", 2, [("leavers_without_hsa", "05513000", "2022/23", 300.0, "ok")])
    values = compute(warehouse)
    assert values[("dropout_rate", "05513000", "2022/23")][:3] == (12.5, 300, 2400)
    history = warehouse.execute(
        "SELECT revision, value, is_current, previous_value FROM core.measure_revisions "
        "WHERE measure = 'leavers_without_hsa' ORDER BY revision"
    ).fetchall()
    assert history == [(1, 312.0, False, None), (2, 300.0, True, 312.0)]


def test_gap_between_subgroups(warehouse) -> None:
    records = []
    for nationality, total, without in (
        ("total", 1000, 80),
        ("german", 800, 48),
        ("foreign", 200, 32),
    ):
        records += [
            ("leavers_total", "05513000", "2022/23", total, "ok", "total", nationality),
            ("leavers_without_hsa", "05513000", "2022/23", without, "ok", "total", nationality),
        ]
    deliver(warehouse, "d1", 1, records)
    values = compute(warehouse)
    gap = values[("dropout_gap_foreign_german", "05513000", "2022/23")]
    assert gap[0] == pytest.approx(16.0 - 6.0)
    assert gap[1] is None and gap[2] is None  # a gap has no numerator/denominator


def test_germany_is_never_summed_from_regierungsbezirke(warehouse) -> None:
    members = dict(
        warehouse.execute(
            "SELECT member_level, count(*) FROM core.region_members WHERE region_code = 'DG' "
            "GROUP BY 1"
        ).fetchall()
    )
    assert "regierungsbezirk" not in members  # they exist in seven Länder only
    assert members["land"] == 16
    nrw = dict(
        warehouse.execute(
            "SELECT member_level, count(*) FROM core.region_members WHERE region_code = '05' "
            "GROUP BY 1"
        ).fetchall()
    )
    assert nrw == {"gemeinde": 396, "kreis": 53, "regierungsbezirk": 5, "land": 1}
    ruhr = dict(
        warehouse.execute(
            "SELECT member_level, count(*) FROM core.region_members WHERE region_code = 'RVR' "
            "GROUP BY 1"
        ).fetchall()
    )
    assert ruhr == {"gemeinde": 53, "kreis": 15, "verband": 1}
    regions = load_regions()
    assert not warehouse.execute(
        "SELECT count(*) FROM core.region_members m JOIN core.regions r ON "
        "r.region_code = m.member_code WHERE r.level = 'stadtbezirk' OR NOT r.is_current"
    ).fetchone()[0]
    assert len(regions) > 13_000


def test_the_official_figure_is_current_whatever_the_order_of_arrival(base: Path, tmp_path) -> None:
    """Precedence (docs/sources.md): an official source before a synthetic one, in either
    order of arrival; a kreisfreie Stadt under its Gemeinde key and its Kreis key is one cell."""
    synthetic = []
    for i, town in enumerate(RECKLINGHAUSEN_TOWNS):
        synthetic += dropout(town, 100 + 100 * i, 5 + i)
    synthetic += dropout("05112000", 4000, 490)  # Duisburg, Gemeinde key
    official = dropout(RECKLINGHAUSEN_TOWNS[0], 120, 9) + dropout("05112", 4105, 351)
    published = []
    for order in (("demo", "amtlich"), ("amtlich", "demo")):
        copy = tmp_path / f"{order[0]}.duckdb"
        copy.write_bytes(base.read_bytes())
        with duckdb.connect(str(copy)) as conn:
            for seq, source in enumerate(order, start=1):
                deliver(conn, source, seq, synthetic if source == "demo" else official, source)
            values = compute(conn)
            current = conn.execute(
                "SELECT measure, region_code, value, source_id FROM core.measure_revisions "
                "WHERE is_current ORDER BY ALL"
            ).fetchall()
            outranked = conn.execute(
                "SELECT measure, region_code, value, source_id, revision, revisions "
                "FROM core.measure_revisions WHERE NOT is_current ORDER BY ALL"
            ).fetchall()
        published.append((values, current, outranked))
    assert published[0][:2] == published[1][:2]
    values, current, outranked = published[0]
    first = RECKLINGHAUSEN_TOWNS[0]
    assert ("leavers_total", first, 120.0, "amtlich") in current
    assert ("leavers_without_hsa", "05112", 351.0, "amtlich") in current
    assert not [row for row in current if row[1] == "05112000"]
    # the outranked synthetic values stay, as history (revision numbers follow arrival)
    assert [row[:4] for row in outranked] == [
        ("leavers_total", "05112000", 4000.0, "demo"),
        ("leavers_total", first, 100.0, "demo"),
        ("leavers_without_hsa", "05112000", 490.0, "demo"),
        ("leavers_without_hsa", first, 5.0, "demo"),
    ]
    # Duisburg's rate is the official one (Kreis figures), not the synthetic Gemeinde one
    assert values[("dropout_rate", "05112", "2022/23")][0] == pytest.approx(100 * 351 / 4105)
    assert values[("dropout_rate", first, "2022/23")][0] == pytest.approx(100 * 9 / 120)


def test_a_delivered_total_is_published_as_delivered_not_as_the_sum_of_its_parts(
    warehouse,
) -> None:
    """Delivered before computed (docs/indicators.md): the Kreis's own figure, though its towns
    are complete too; the Ruhr, which nobody delivers, is summed."""
    records = []
    for town in RECKLINGHAUSEN_TOWNS:
        records += dropout(town, 500, 25)  # Σ 5000 / 250
    records += dropout("05562", 5005, 255)  # delivered, rounded to multiples of 5
    deliver(warehouse, "d1", 1, records)
    values = compute(warehouse)
    kreis = values[("dropout_rate", "05562", "2022/23")]
    assert kreis[1:] == (255, 5005, "ok", "kreis", 1, "delivered")
    assert values[("dropout_rate", RECKLINGHAUSEN_TOWNS[0], "2022/23")][-1] == "delivered"
    # with every Ruhr Kreis delivered, the Ruhr is the sum of its 15 parts
    ruhr_kreise = [
        code
        for (code,) in warehouse.execute(
            "SELECT region_code FROM core.regions WHERE in_ruhr AND level = 'kreis' "
            "AND region_code <> '05562'"
        ).fetchall()
    ]
    deliver(warehouse, "d2", 2, [row for code in ruhr_kreise for row in dropout(code, 1000, 100)])
    ruhr = compute(warehouse)[("dropout_rate", "RVR", "2022/23")]
    assert ruhr[1:] == (255 + 14 * 100, 5005 + 14 * 1000, "ok", "kreis", 15, "summed from 15 parts")


def test_a_change_of_source_or_aggregation_is_a_series_break(warehouse) -> None:
    """gymnasium_share-like switch: towns summed by one source, then the Kreis delivered by
    another — the later year carries the break and says what changed; a year that changes
    nothing does not."""
    first = []
    for town in RECKLINGHAUSEN_TOWNS:
        first += dropout(town, 500, 25, year="2021/22") + dropout(town, 500, 20)
    deliver(warehouse, "d1", 1, first, source="demo")
    deliver(warehouse, "d2", 2, dropout("05562", 5000, 230, year="2023/24"), source="amtlich")
    compute(warehouse)
    rows = warehouse.execute(
        "SELECT school_year, sources, aggregation, series_break, series_break_reason "
        "FROM marts.indicator_values WHERE indicator_id = 'dropout_rate' "
        "AND region_code = '05562' AND sex = 'total' AND nationality = 'total' ORDER BY 1"
    ).fetchall()
    assert rows == [
        ("2021/22", "demo", "summed from 10 parts", False, None),
        ("2022/23", "demo", "summed from 10 parts", False, None),
        (
            "2023/24",
            "amtlich",
            "delivered",
            True,
            "sources: demo → amtlich; "
            "aggregation: summed from 10 parts (gemeinde) → delivered (kreis)",
        ),
    ]
