"""The README's first command on the bundled demo data, end to end: CLI → Dagster → published
DuckDB. Asserts coverage, real figures unchanged, Σ aggregation, revisions, statuses, and that
a second run with unchanged input parses nothing."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import duckdb
import pytest

from schemas.catalogue import load_catalogue
from schemas.regions import ruhr_kreise, ruhr_municipalities
from sources.registry import load_registry
from tests.conftest import REPO, DemoRuns

pytestmark = pytest.mark.slow
OFFICIAL = REPO / "sources/demo/official"
SHARED_OFFICIAL = REPO.parent / "shared/data/official"  # the real exports (README there)


def rows(conn: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[tuple]:
    return conn.execute(sql, params or []).fetchall()


def scalar(conn: duckdb.DuckDBPyConnection, sql: str, params: list | None = None):
    return conn.execute(sql, params or []).fetchone()[0]


# --- the first run: what the CLI says ----------------------------------------------------------


def test_first_run_reads_every_source_and_publishes(demo_runs: DemoRuns) -> None:
    out = demo_runs.first.output
    assert "success, published" in out
    for source_id in load_registry():  # the demo profile's sources
        assert source_id in out
    assert "payloads new 9, skipped unchanged 0" in out
    assert "0 failed (blocking)" in out
    assert "WARN staging/regionalstatistik_21111_01_03_4:level_consistency — 6 totals" in out
    assert f"Published: {demo_runs.published}" in out


def test_second_run_parses_nothing_again(demo_runs: DemoRuns) -> None:
    out = demo_runs.second.output
    assert "payloads new 0, skipped unchanged 9; records loaded 0" in out
    with duckdb.connect(str(demo_runs.work_db), read_only=True) as conn:
        actions = rows(
            conn,
            "SELECT action, count(*) FROM meta.delivery_log WHERE run_id = ? GROUP BY 1",
            [demo_runs.second.run_id],
        )
        assert actions == [("skipped_unchanged", 9)]
        # every delivery was parsed exactly once, by the first run
        parsed_by = rows(conn, "SELECT DISTINCT parsed_run_id FROM meta.deliveries")
        assert parsed_by == [(demo_runs.first.run_id,)]
        assert scalar(conn, "SELECT count(*) FROM meta.delivery_log WHERE action = 'parsed'") == 9
    # the raw archive holds each payload once
    payloads = [
        p
        for p in (demo_runs.data_dir / "raw/sha256").rglob("*")
        if p.is_file() and p.suffix != ".json"
    ]
    assert len(payloads) == 9
    manifest = (demo_runs.data_dir / "raw/manifest.jsonl").read_text().splitlines()
    assert len(manifest) == 9


def test_published_deliveries_show_the_skip(
    published: duckdb.DuckDBPyConnection, demo_runs: DemoRuns
) -> None:
    log = rows(published, "SELECT action, count(*) FROM meta.delivery_log GROUP BY 1 ORDER BY 1")
    assert log == [("archived", 9), ("parsed", 9), ("skipped_unchanged", 9)]
    states = rows(published, "SELECT state, count(*) FROM meta.deliveries GROUP BY 1")
    assert states == [("loaded", 9)]


# --- coverage ---------------------------------------------------------------------------------


def test_indicators_cover_the_ruhr_its_kreise_the_aggregate_and_nrw(
    published: duckdb.DuckDBPyConnection,
) -> None:
    headline = "sex = 'total' AND nationality = 'total' AND value IS NOT NULL"
    for indicator in load_catalogue().indicators:
        regions = {
            r[0]
            for r in rows(
                published,
                f"SELECT DISTINCT region_code FROM "
                f"marts.indicator_values WHERE indicator_id = ? AND {headline}",
                [indicator],
            )
        }
        assert set(ruhr_municipalities()) <= regions, indicator
        assert set(ruhr_kreise()) <= regions, indicator
        assert "RVR" in regions, indicator
        if not indicator.startswith("programme_"):  # the programme covers the Ruhr only
            assert "05" in regions, indicator
    assert len(ruhr_municipalities()) == 53 and len(ruhr_kreise()) == 15


def test_at_least_ten_school_years_where_the_data_span_them(
    published: duckdb.DuckDBPyConnection,
) -> None:
    years = dict(
        rows(
            published,
            """
        SELECT indicator_id, count(DISTINCT school_year) FROM marts.indicator_values
        WHERE region_code = 'RVR' AND sex = 'total' AND nationality = 'total'
          AND value IS NOT NULL GROUP BY 1""",
        )
    )
    for indicator in load_catalogue().indicators:
        if indicator.startswith("programme_"):
            # the programme's data span 2016/17–2024/25 and schools only until 2022/23
            assert years[indicator] == 7, indicator
        else:
            assert years[indicator] >= 10, (indicator, years[indicator])
    assert years["gymnasium_share"] == 19  # 2005/06 … 2023/24
    assert years["dropout_rate"] == 12  # 2012/13 … 2023/24


# --- real figures unchanged -------------------------------------------------------------------


def _table_rows(name: str) -> list[list[str]]:
    text = (OFFICIAL / name).read_text(encoding="cp1252")
    return list(csv.reader(io.StringIO(text), delimiter=";"))


def test_it_nrw_cells_are_in_the_warehouse_unchanged(published: duckdb.DuckDBPyConnection) -> None:
    def measure(code: str, measure_id: str, year: str):
        return rows(
            published,
            "SELECT value, status, raw_value FROM marts.measure_values "
            "WHERE region_code = ? AND measure = ? AND school_year = ? AND sex = 'total' "
            "AND nationality = 'total'",
            [code, measure_id, year],
        )[0]

    assert measure("05", "schools_total", "2022/23") == (5023.0, "ok", "5023")
    table = _table_rows("itnrw_21111-9k21_kommunalprofil_schulen.csv")
    forms = {
        "Insgesamt": "total",
        "Grundschulen": "grundschule",
        "Gymnasien": "gymnasium",
        "Realschulen": "realschule",
        "Gesamtschulen": "gesamtschule",
    }
    header = table[6]
    variables = {
        "Schulen": "schools",
        "Schüler/-innen": "pupils",
        "Lehrkräfte": "teachers",
        "Schulabgänger/-innen": "leavers_schoolform",
    }
    regions = {
        "Nordrhein-Westfalen": "05",
        "    Gelsenkirchen, krfr. Stadt": "05513000",
        "    Recklinghausen, Kreis": "05562",
        "      Haltern am See, Stadt": "05562016",
        "  Arnsberg, Regierungsbezirk": "059",
    }
    checked = 0
    for line in table[7:]:
        if len(line) < 19 or line[0] not in regions or line[2] not in variables:
            continue
        for column, form in forms.items():
            cell = line[header.index(column)]
            value, status, raw = measure(regions[line[0]], f"{variables[line[2]]}_{form}", line[1])
            assert raw == cell, (line[0], line[1], line[2], column)
            assert value == (0.0 if cell == "-" else float(cell))
            assert status == "ok"
            checked += 1
    # regions × forms × 72 lines (2005/06–2021/22 four variables, 2004/05 leavers only,
    # 2022/23 without leavers)
    assert checked == 5 * 5 * 72


def test_it_nrw_foerderschule_columns_are_added_up(published: duckdb.DuckDBPyConnection) -> None:
    value, raw = rows(
        published,
        "SELECT value, raw_value FROM marts.measure_values WHERE "
        "measure = 'pupils_foerderschule' AND region_code = '05' AND "
        "school_year = '2022/23'",
    )[0]
    assert raw == "83855 + 420" and value == 84275.0


def test_regionalstatistik_cells_and_symbols(published: duckdb.DuckDBPyConnection) -> None:
    got = dict(
        ((m, s, n), (v, st))
        for m, s, n, v, st in rows(
            published,
            """
        SELECT measure, sex, nationality, value, status FROM marts.measure_values
        WHERE region_code = '05' AND school_year = '2023/24'
          AND source_id = 'regionalstatistik_21111_01_03_4'""",
        )
    )
    # line 904: 2023;05;  Nordrhein-Westfalen;Gymnasien;624;506685;266420;45270;65205;6435
    assert got[("schools_gymnasium", "total", "total")] == (624.0, "ok")
    assert got[("pupils_gymnasium", "total", "total")] == (506685.0, "ok")
    assert got[("pupils_gymnasium", "female", "total")] == (266420.0, "ok")
    assert got[("pupils_gymnasium", "total", "foreign")] == (45270.0, "ok")
    # line 909: NRW Insgesamt: schools 'x' (multi-form schools counted per form)
    assert got[("schools_total", "total", "total")] == (None, "not_applicable")
    assert got[("pupils_total", "total", "total")] == (1993035.0, "ok")
    # a '-' is exactly nothing: Düsseldorf has no Schularten mit mehreren Bildungsgängen
    value, status = rows(
        published,
        "SELECT value, status FROM marts.measure_values WHERE "
        "region_code = '05111' AND measure = 'pupils_mehrere_bildungsgaenge' "
        "AND sex = 'total' AND nationality = 'total'",
    )[0]
    assert (value, status) == (0.0, "ok")


def test_suppressed_cells_are_never_zeros(published: duckdb.DuckDBPyConnection) -> None:
    suppressed = rows(
        published,
        "SELECT count(*), count(value) FROM marts.measure_values WHERE status = 'suppressed'",
    )[0]
    assert suppressed[0] > 1000 and suppressed[1] == 0
    assert (
        scalar(
            published,
            "SELECT count(*) FROM marts.measure_values WHERE raw_value = '.' "
            "AND status <> 'suppressed'",
        )
        == 0
    )


# --- Σ numerator / Σ denominator --------------------------------------------------------------


def test_ruhr_rate_is_the_sum_over_its_municipalities(published: duckdb.DuckDBPyConnection) -> None:
    catalogue = load_catalogue()
    municipalities = ruhr_municipalities()
    compared = 0
    for indicator in catalogue.rate_indicators():
        for year, value, numerator, denominator, level in rows(
            published,
            """
                SELECT school_year, value, numerator, denominator, computed_from_level
                FROM marts.indicator_values WHERE indicator_id = ? AND region_code = 'RVR'
                  AND sex = 'total' AND nationality = 'total'""",
            [indicator.id],
        ):
            if level != "gemeinde":
                continue
            sums = {}
            for role, measures in (("n", indicator.numerator), ("d", indicator.denominator)):
                result = rows(
                    published,
                    f"""
                    SELECT sum(value), count(*) FROM marts.measure_values
                    WHERE measure IN ({",".join("?" * len(measures))}) AND school_year = ?
                      AND sex = 'total' AND nationality = 'total'
                      AND region_code IN ({",".join("?" * len(municipalities))})""",
                    [*measures, year, *municipalities],
                )[0]
                assert result[1] == 53 * len(measures), (indicator.id, year, role)
                sums[role] = result[0]
            assert numerator == sums["n"] and denominator == sums["d"]
            assert value == pytest.approx(indicator.scale * sums["n"] / sums["d"], rel=1e-9)
            compared += 1
    assert compared >= 9 * 7


def test_ruhr_value_is_not_an_average_of_municipal_rates(
    published: duckdb.DuckDBPyConnection,
) -> None:
    ruhr, mean = rows(
        published,
        """
        SELECT max(value) FILTER (WHERE region_code = 'RVR'),
               avg(value) FILTER (WHERE region_level = 'gemeinde' AND in_ruhr)
        FROM marts.indicator_values WHERE indicator_id = 'dropout_rate'
          AND school_year = '2022/23' AND sex = 'total' AND nationality = 'total'""",
    )[0]
    assert abs(ruhr - mean) > 0.05  # weighting by leavers matters


def test_kreis_values_from_regionalstatistik_when_no_municipal_data(
    published: duckdb.DuckDBPyConnection,
) -> None:
    _, level, members, numerator = rows(
        published,
        """
        SELECT value, computed_from_level, member_count, numerator FROM marts.indicator_values
        WHERE indicator_id = 'gymnasium_share' AND region_code = 'RVR'
          AND school_year = '2023/24' AND sex = 'total' AND nationality = 'total'""",
    )[0]
    assert (level, members) == ("kreis", 15)
    expected = scalar(
        published,
        f"""
        SELECT sum(value) FROM marts.measure_values WHERE measure = 'pupils_gymnasium'
          AND school_year = '2023/24' AND sex = 'total' AND nationality = 'total'
          AND region_code IN ({",".join(repr(k) for k in ruhr_kreise())})""",
    )
    assert numerator == expected


def _regionalstatistik_lines(region_code: str) -> dict[str, list[str]]:
    """The real 21111-01-03-4 export's lines of one region, 2023, by school type."""
    text = (SHARED_OFFICIAL / "regionalstatistik_21111-01-03-4.csv").read_text(encoding="cp1252")
    return {
        cells[3]: cells
        for cells in csv.reader(io.StringIO(text), delimiter=";")
        if len(cells) == 10 and cells[0] == "2023" and cells[1] == region_code
    }


def test_nrw_is_the_delivered_land_total_and_the_ruhr_the_sum_of_its_parts(
    published: duckdb.DuckDBPyConnection,
) -> None:
    """Delivered before computed (issue 9): the export delivers NRW and its 53 Kreise, each
    rounded to a multiple of 5; NRW is published as delivered, not as the Kreise's sum, e.g.
    Förderschulen 87,075 pupils delivered, 87,065 summed."""

    def count(cell: str) -> float:
        return 0.0 if cell == "-" else float(cell)

    nrw = _regionalstatistik_lines("05")
    nrw_kreise = [_regionalstatistik_lines(code) for code in _nrw_kreise(published)]
    ruhr_parts = [_regionalstatistik_lines(code) for code in ruhr_kreise()]
    differing = 0
    for indicator, school_type in (
        ("gymnasium_share", "Gymnasien"),
        ("foerderschule_share", "Sonderschulen/Förderschulen"),
    ):
        for sex, nationality, column in (("total", "total", 5), ("female", "total", 6),
                                         ("total", "foreign", 7)):  # fmt: skip
            numerator, denominator = (
                count(nrw[school_type][column]),
                count(nrw["Insgesamt"][column]),
            )
            got = rows(
                published,
                """
                SELECT region_code, value, numerator, denominator, aggregation,
                    computed_from_level
                FROM marts.indicator_values WHERE indicator_id = ? AND region_code IN ('05', 'RVR')
                  AND school_year = '2023/24' AND sex = ? AND nationality = ? ORDER BY 1""",
                [indicator, sex, nationality],
            )
            ruhr = (
                sum(count(p[school_type][column]) for p in ruhr_parts),
                sum(count(p["Insgesamt"][column]) for p in ruhr_parts),
            )
            assert got == [
                ("05", pytest.approx(100 * numerator / denominator, rel=1e-12), numerator,
                 denominator, "delivered", "land"),
                ("RVR", pytest.approx(100 * ruhr[0] / ruhr[1], rel=1e-12), *ruhr,
                 "summed from 15 parts", "kreis"),
            ], (indicator, sex, nationality)  # fmt: skip
            summed = (
                sum(count(k[school_type][column]) for k in nrw_kreise),
                sum(count(k["Insgesamt"][column]) for k in nrw_kreise),
            )
            differing += summed != (numerator, denominator)
    assert differing == 5  # of 6: the Land total is not the sum of its rounded Kreise


def _nrw_kreise(published: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        code
        for (code,) in rows(
            published,
            "SELECT region_code FROM marts.regions WHERE level = 'kreis' AND land_code = '05' "
            "AND is_current",
        )
    ]


def test_the_switch_of_source_is_a_series_break(published: duckdb.DuckDBPyConnection) -> None:
    """gymnasium_share: IT.NRW Gemeinde figures to 2022/23, Regionalstatistik from 2023/24."""
    got = rows(
        published,
        """
        SELECT school_year, series_break, series_break_reason FROM marts.indicator_values
        WHERE indicator_id = 'gymnasium_share' AND region_code = 'RVR'
          AND sex = 'total' AND nationality = 'total' AND start_year >= 2021 ORDER BY 1""",
    )
    assert got == [
        ("2021/22", False, None),
        ("2022/23", False, None),
        (
            "2023/24",
            True,
            "sources: itnrw_21111_9k21 → regionalstatistik_21111_01_03_4; aggregation: "
            "summed from 53 parts (gemeinde) → summed from 15 parts (kreis)",
        ),
    ]


def test_gap_is_the_difference_of_subgroup_rates(published: duckdb.DuckDBPyConnection) -> None:
    foreign, german, gap = rows(
        published,
        """
        SELECT max(value) FILTER (WHERE indicator_id = 'dropout_rate' AND nationality = 'foreign'),
               max(value) FILTER (WHERE indicator_id = 'dropout_rate' AND nationality = 'german'),
               max(value) FILTER (WHERE indicator_id = 'dropout_gap_foreign_german'
                                   AND nationality = 'total')
        FROM marts.indicator_values
        WHERE region_code = 'RVR' AND school_year = '2022/23' AND sex = 'total'""",
    )[0]
    assert gap == pytest.approx(foreign - german, abs=1e-6)
    assert 2 < gap < 20


def test_indicators_match_the_calibrated_demo(published: duckdb.DuckDBPyConnection) -> None:
    value = dict(
        rows(
            published,
            """
        SELECT region_code, value FROM marts.indicator_values WHERE indicator_id = 'dropout_rate'
        AND school_year = '2022/23' AND sex = 'total' AND nationality = 'total'""",
        )
    )
    assert 6 <= value["05"] <= 7.5
    assert 12 <= value["05513000"] <= 14.5  # Gelsenkirchen
    assert value["RVR"] > value["05"]
    assert value["05513"] == value["05513000"]  # kreisfreie Stadt: Kreis = Gemeinde


# --- revisions --------------------------------------------------------------------------------


def test_a_correction_becomes_current_and_the_revision_is_kept(demo_runs: DemoRuns) -> None:
    with duckdb.connect(str(demo_runs.work_db), read_only=True) as conn:
        history = rows(
            conn,
            """
            SELECT revision, value, status, file_name FROM core.measure_revisions
            WHERE measure = 'daycare_children_u3' AND region_code = '05113000'
              AND school_year = '2023/24' ORDER BY revision""",
        )
    assert len(history) == 2
    (_, v1, s1, f1), (_, v2, s2, f2) = history
    assert s1 == "provisional" and "nrw_2013-2024" in f1
    assert s2 == "ok" and "berichtigung" in f2 and v1 != v2


def test_provisional_figures_make_the_indicator_provisional(
    published: duckdb.DuckDBPyConnection,
) -> None:
    status = dict(
        rows(
            published,
            """
        SELECT region_code, status FROM marts.indicator_values
        WHERE indicator_id = 'betreuungsquote_u3' AND school_year = '2023/24'
          AND region_code IN ('05113000', '05112000', 'RVR')""",
        )
    )
    assert status == {"05113000": "ok", "05112000": "provisional", "RVR": "provisional"}


# --- the rest of the contract -----------------------------------------------------------------


def test_schools_mart_joins_directory_and_social_index(
    published: duckdb.DuckDBPyConnection,
) -> None:
    assert scalar(published, "SELECT count(*) FROM marts.schools") == 5507
    school = rows(
        published,
        "SELECT name, school_form, municipality, in_ruhr, social_index, "
        "social_index_label FROM marts.schools WHERE school_number = '118928'",
    )
    assert school == [("Städt. Gem. Grundschule", "Grundschule", "Gelsenkirchen", True, 9, "9")]
    # names wrapped over the directory's 40-character fields are joined back
    waldorf = scalar(
        published,
        "SELECT name FROM marts.schools WHERE name LIKE 'Freie Waldorfschule Rudolf Steiner%'",
    )
    assert waldorf.startswith("Freie Waldorfschule Rudolf Steiner Schule u. Parzivalsch.")
    assert "Förderschule,Staatl." in waldorf
    # the 2021 directory and the 2025/26 index share exactly these schools
    directory = {
        r[0]
        for r in csv.reader(
            io.StringIO((OFFICIAL / "nrw_schuldaten_2021.csv").read_text(encoding="utf-8")),
            delimiter=";",
        )
    }
    index = {
        r[0]
        for r in csv.reader(
            io.StringIO(
                (OFFICIAL / "nrw_schulsozialindex_sj_25_26.csv").read_text(encoding="cp850")
            ),
            delimiter=";",
        )
    }
    matched = scalar(published, "SELECT count(social_index_label) FROM marts.schools")
    assert matched == len((directory & index) - {"Schulnummer"}) > 4000


def test_synthetic_data_is_labelled(published: duckdb.DuckDBPyConnection) -> None:
    synthetic = dict(rows(published, "SELECT source_id, synthetic FROM meta.sources"))
    assert synthetic["itnrw_21111_9k21"] is False
    assert synthetic["schulabgaenger_abschlussart"] is True
    assert (
        scalar(
            published,
            "SELECT bool_and(synthetic) FROM marts.measure_values "
            "WHERE source_id = 'kita_betreuung'",
        )
        is True
    )
    assert (
        scalar(
            published,
            "SELECT bool_and(file_name LIKE 'SYNTHETISCH_%') FROM meta.deliveries WHERE synthetic",
        )
        is True
    )


def test_check_results_of_every_run_are_kept(
    published: duckdb.DuckDBPyConnection, demo_runs: DemoRuns
) -> None:
    per_run = dict(rows(published, "SELECT run_id, count(*) FROM quality.check_results GROUP BY 1"))
    assert set(per_run) == {demo_runs.first.run_id, demo_runs.second.run_id}
    # the second run: one row per check (no new delivery); the first: one per check and
    # delivery (kita_betreuung had two)
    checks = per_run[demo_runs.second.run_id]
    assert checks > 90
    assert per_run[demo_runs.first.run_id] == checks + 16  # kita's 16 delivery checks
    outcomes = {o for (o,) in rows(published, "SELECT DISTINCT outcome FROM quality.check_results")}
    # real jumps in the IT.NRW table; nothing FAILs; with no new delivery a staging check is
    # not evaluated — neither passed nor failed
    assert outcomes == {"PASS", "WARNING", "NOT_EVALUATED"}
    second = rows(
        published,
        "SELECT DISTINCT outcome, passed FROM quality.check_results "
        "WHERE run_id = ? AND asset_key LIKE 'staging/%'",
        [demo_runs.second.run_id],
    )
    assert second == [("NOT_EVALUATED", None)]
    warned = rows(published, "SELECT DISTINCT check_name FROM quality.check_results "
                  "WHERE outcome = 'WARNING' ORDER BY 1")  # fmt: skip
    assert warned == [("level_consistency",), ("year_over_year",)]


def test_published_tables_match_the_contract(
    published: duckdb.DuckDBPyConnection, demo_runs: DemoRuns
) -> None:
    from warehouse.contract import CORE_COLUMNS, MART_COLUMNS

    for table, columns in MART_COLUMNS.items():
        described = [(r[0], r[1]) for r in rows(published, f"DESCRIBE {table}")]
        assert described == [(c.name, c.type) for c in columns], table
    with duckdb.connect(str(demo_runs.work_db), read_only=True) as conn:
        for table, columns in CORE_COLUMNS.items():
            described = [(r[0], r[1]) for r in rows(conn, f"DESCRIBE {table}")]
            assert described == [(c.name, c.type) for c in columns], table
    storage = scalar(published, "SELECT storage_version FROM meta.publication")
    assert storage == "v1.3.0"


def test_docs_queries_run_in_the_duckdb_1_5_cli(demo_runs: DemoRuns, tmp_path: Path) -> None:
    """The analysts' clients lag behind: the file must open in duckdb-cli 1.5 (PyPI)."""
    import re
    import shutil
    import subprocess

    cli = shutil.which("duckdb", path=str(Path(__import__("sys").executable).parent))
    assert cli, "the duckdb-cli package (dev dependency) provides the `duckdb` command"
    version = subprocess.run([cli, "--version"], capture_output=True, text=True).stdout
    assert version.startswith("v1.5."), version
    blocks = re.findall(r"```sql\n(.*?)```", (REPO / "docs/analysts.md").read_text(), re.S)
    assert len(blocks) >= 8
    tour = re.findall(r"```sql\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    assert len(tour) >= 4
    for sql in [*blocks, *tour]:
        done = subprocess.run(
            [cli, "-readonly", str(demo_runs.published), "-c", sql],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
        assert done.returncode == 0 and "Error" not in done.stderr, (sql, done.stderr)
    first = subprocess.run(
        [cli, "-readonly", "-csv", str(demo_runs.published), "-c", blocks[0]],
        capture_output=True,
        text=True,
    )
    assert "Ruhrgebiet" in first.stdout and "Nordrhein-Westfalen" in first.stdout
    assert (tmp_path / "ruhr_indicators.csv").stat().st_size > 10_000
