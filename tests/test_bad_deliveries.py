"""Bad deliveries get a clear error and lose nothing.

Staging-level tests feed each kind of bad input through the real reader, mapping, Great
Expectations suites and DuckDB tables; the end-to-end test drops broken files into the inbox of
a copy of the demo warehouse and runs the pipeline through the CLI twice (broken night, next
night).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from sources.registry import Source, load_registry
from tests.conftest import REPO, DemoRuns, copy_data_dir, run_cli
from warehouse.db import DataPaths, init_schema
from warehouse.ingest import ingest_source
from warehouse.staging import StagingResult, stage_source

LEAVERS_DEMO = (
    REPO / "sources/demo/deliveries/schulabgaenger/"
    "SYNTHETISCH_schulabgaenger_abschlussart_nrw_2012-2023.csv"
)
HEADER = (
    "Schuljahr;Gemeindeschlüssel;Gemeinde;Geschlecht;Staatsangehörigkeit;"
    "Abgänger/-innen insgesamt;ohne Hauptschulabschluss;mit Hauptschulabschluss;"
    "mit mittlerem Schulabschluss;mit Fachhochschulreife;mit allgemeiner Hochschulreife;"
    "Anteil ohne Hauptschulabschluss in %"
)


def demo_leaver_lines(count: int) -> list[str]:
    lines = LEAVERS_DEMO.read_bytes().decode("cp1252").splitlines()
    assert lines[0] == HEADER
    return lines[1 : count + 1]


def leavers_file(lines: list[str]) -> bytes:
    return ("\r\n".join([HEADER, *lines]) + "\r\n").encode("cp1252")


def outcome(result: StagingResult, check: str):
    (delivery,) = result.deliveries
    return delivery.outcomes[check]


# --- record-level problems: quarantined with their reason, the rest loads -------------------


def bad_rows_delivery() -> tuple[bytes, dict[str, str]]:
    good = demo_leaver_lines(90)  # 10 municipality-years × 9 subgroup lines
    unknown = good[0].replace(";05111000;", ";05999999;").replace("2012/13", "2013/14", 1)
    cells = good[9].split(";")
    cells[11] = "150,0"  # a rate above 100
    rate = ";".join(cells).replace("2012/13", "2014/15", 1)
    cells = good[18].split(";")
    cells[6] = "-3"  # a negative count
    negative = ";".join(cells).replace("2012/13", "2015/16", 1)
    duplicate = good[27]  # the same key twice
    lines = [*good, unknown, rate, negative, duplicate]
    expected_lines = {"unknown": 92, "rate": 93, "negative": 94, "duplicate": 95}
    return leavers_file(lines), {k: str(v) for k, v in expected_lines.items()}


def test_bad_rows_are_quarantined_with_reasons_and_the_rest_loads(staged) -> None:
    payload, line = bad_rows_delivery()
    result, conn = staged("schulabgaenger_abschlussart", payload, "abgaenger_2024.csv")
    (delivery,) = result.deliveries
    assert delivery.state == "loaded_with_quarantine"
    reasons = conn.execute(
        "SELECT source_line, check_name, reason FROM quality.quarantine ORDER BY source_line"
    ).fetchall()
    by_line: dict[int, set[str]] = {}
    for source_line, check, reason in reasons:
        by_line.setdefault(source_line, set()).add(f"{check}: {reason}")
    assert any("unknown region key '05999999'" in r for r in by_line[int(line["unknown"])])
    assert any("rate '150,0' is outside 0–100" in r for r in by_line[int(line["rate"])])
    assert any("negative count '-3'" in r for r in by_line[int(line["negative"])])
    dup_line = int(line["duplicate"])
    assert any("duplicate key" in r and "delivered more than once" in r for r in by_line[dup_line])
    # the first copy of the duplicated key (line 29) is held back as well: which one is right?
    assert any("duplicate key" in r for r in by_line[29])
    assert set(by_line) == {29, *(int(v) for v in line.values())}
    # the rest loaded: 90 good lines × 7 values, minus the first copy of the duplicate
    loaded = conn.execute("SELECT count(*) FROM staging.records").fetchone()[0]
    negative_line_rest = 6  # the other six values of the negative-count line load
    assert loaded == (90 - 1) * 7 + negative_line_rest
    assert delivery.records_loaded == loaded
    assert (
        conn.execute(
            "SELECT count(*) FROM staging.records WHERE region_code = '05999999'"
        ).fetchone()[0]
        == 0
    )
    assert outcome(result, "canonical_records_known_region_keys").outcome == "WARNING"
    assert outcome(result, "canonical_records_readable_cells").outcome == "PASS"


def test_text_in_a_numeric_column_is_quarantined_not_zero(staged) -> None:
    lines = demo_leaver_lines(45)
    cells = lines[3].split(";")
    cells[7] = "zwölf"
    lines[3] = ";".join(cells)
    result, conn = staged("schulabgaenger_abschlussart", leavers_file(lines), "text.csv")
    (row,) = conn.execute(
        "SELECT source_line, source_column, reason, raw_value FROM quality.quarantine"
    ).fetchall()
    assert row[0] == 5 and row[1] == "mit Hauptschulabschluss" and row[3] == "zwölf"
    assert "'zwölf' is not a number or a statistical symbol" in row[2]
    assert outcome(result, "canonical_records_readable_cells").outcome == "WARNING"


def test_malformed_school_years_are_quarantined(staged) -> None:
    lines = demo_leaver_lines(90)
    lines[0] = lines[0].replace("2012/13", "2022/24", 1)
    lines[1] = lines[1].replace("2012/13", "22/23", 1)
    _, conn = staged("schulabgaenger_abschlussart", leavers_file(lines), "years.csv")
    reasons = dict(
        conn.execute(
            "SELECT DISTINCT source_line, reason FROM quality.quarantine ORDER BY 1"
        ).fetchall()
    )
    assert "school year '2022/24': the second year must follow the first" in reasons[2]
    assert "school year '22/23' is not of the form 2022/23" in reasons[3]


def test_a_school_unknown_to_the_directory_is_quarantined(staged) -> None:
    directory = REPO / "sources/demo/official/nrw_schuldaten_2021.csv"
    _, conn = staged("nrw_schuldaten", directory.read_bytes(), "schuldaten.csv")
    conn.close()
    demo = REPO / "sources/demo/deliveries/lernfoerderung"
    lines = next(demo.glob("*.csv")).read_text(encoding="utf-8").splitlines()
    year = [line for line in lines[1:] if ",2024/25," in line][:19]
    payload = (
        "\n".join(
            [
                lines[0],
                "118928,2024/25,GG Marschallstr.,35,412.5",
                *year,
                "999999,2024/25,Unbekannte Schule,20,100.0",
            ]
        )
        + "\n"
    )
    _, conn = staged("lernfoerderung", payload.encode(), "programm.csv")
    (line, reason) = conn.execute(
        "SELECT DISTINCT source_line, reason FROM quality.quarantine"
    ).fetchone()
    assert line == 22 and "Schulnummer '999999' is not in the school directory" in reason
    # schools are counted per municipality through the directory; every Ruhr municipality
    # without a programme school that year gets 0
    values = dict(
        conn.execute(
            "SELECT region_code, value FROM staging.records WHERE measure = "
            "'programme_schools_reached'"
        ).fetchall()
    )
    assert len(values) == 53 and sum(values.values()) == 20
    assert values["05513000"] >= 1.0 and 0.0 in values.values()


def test_a_region_outside_the_coverage_of_the_source_is_quarantined(staged) -> None:
    """München (09162000) in a delivery of a source that covers NRW (coverage "05")."""
    lines = demo_leaver_lines(180)
    for i in range(9, 18):  # the second municipality-year's 9 subgroup lines
        cells = lines[i].split(";")
        cells[1:3] = ["09162000", "München, Landeshauptstadt"]
        lines[i] = ";".join(cells)
    result, conn = staged("schulabgaenger_abschlussart", leavers_file(lines), "muenchen.csv")
    reasons = conn.execute(
        "SELECT DISTINCT source_line, check_name, reason FROM quality.quarantine "
        "ORDER BY source_line"
    ).fetchall()
    assert [r[0] for r in reasons] == list(range(11, 20))
    assert reasons[0][1:] == (
        "canonical_records_within_coverage",
        "line 11: region '09162000' lies outside the source's coverage 05 (Nordrhein-Westfalen)",
    )
    assert outcome(result, "canonical_records_within_coverage").outcome == "WARNING"
    assert conn.execute(
        "SELECT count(*) FROM staging.records WHERE region_code = '09162000'"
    ).fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM staging.records").fetchone() == ((180 - 9) * 7,)


def test_a_school_outside_the_ruhr_in_the_ruhr_programme_is_quarantined(staged) -> None:
    """A Köln school (05315000) in the tutoring programme's delivery (coverage RVR)."""
    directory = REPO / "sources/demo/official/nrw_schuldaten_2021.csv"
    _, conn = staged("nrw_schuldaten", directory.read_bytes(), "schuldaten.csv")
    conn.close()
    demo = REPO / "sources/demo/deliveries/lernfoerderung"
    lines = next(demo.glob("*.csv")).read_text(encoding="utf-8").splitlines()
    year = [line for line in lines[1:] if ",2024/25," in line][:19]
    payload = "\n".join([lines[0], *year, '100036,2024/25,"Köln, GE Helios",20,100.0']) + "\n"
    _, conn = staged("lernfoerderung", payload.encode(), "programm.csv")
    reasons = conn.execute(
        "SELECT DISTINCT region_code, check_name, reason FROM quality.quarantine"
    ).fetchall()
    assert reasons and {r[:2] for r in reasons} == {
        ("05315000", "canonical_records_within_coverage")
    }
    assert all(
        r[2].endswith("region '05315000' lies outside the source's coverage RVR "
                      "(Ruhrgebiet, Regionalverband Ruhr)") for r in reasons
    )  # fmt: skip
    assert conn.execute(
        "SELECT count(*) FROM staging.records WHERE region_code = '05315000'"
    ).fetchone() == (0,)


# --- structural problems: the delivery is rejected whole, with file, line and column ---------


def test_wrong_delimiter_rejects_the_delivery(staged) -> None:
    payload = leavers_file(demo_leaver_lines(20)).decode("cp1252").replace(";", ",")
    result, conn = staged("schulabgaenger_abschlussart", payload.encode("cp1252"), "komma.csv")
    (delivery,) = result.deliveries
    assert delivery.state == "rejected"
    assert delivery.structure_error.startswith("komma.csv, line 1:")
    assert "wrong delimiter" in delivery.structure_error
    assert conn.execute("SELECT count(*) FROM staging.records").fetchone()[0] == 0
    state, message = conn.execute("SELECT state, message FROM meta.deliveries").fetchone()
    assert state == "rejected" and message == delivery.structure_error


def test_missing_column_names_file_and_column(staged) -> None:
    lines = [
        ";".join(c for i, c in enumerate(line.split(";")) if i != 9)
        for line in demo_leaver_lines(20)
    ]
    header = ";".join(c for i, c in enumerate(HEADER.split(";")) if i != 9)
    payload = ("\r\n".join([header, *lines]) + "\r\n").encode("cp1252")
    result, conn = staged("schulabgaenger_abschlussart", payload, "ohne_fhr.csv")
    (delivery,) = result.deliveries
    assert delivery.state == "rejected"
    assert delivery.structure_error.startswith(
        "ohne_fhr.csv, line 1, column 'mit Fachhochschulreife': missing column "
        "'mit Fachhochschulreife'"
    )
    check = conn.execute(
        "SELECT outcome, severity, message FROM quality.check_results WHERE check_name = "
        "'structure'"
    ).fetchone()
    assert check[:2] == ("FAIL", "ERROR") and "mit Fachhochschulreife" in check[2]


def test_misspelled_header_suggests_the_expected_name(staged) -> None:
    payload = leavers_file(demo_leaver_lines(9)).decode("cp1252")
    payload = payload.replace("Gemeindeschlüssel", "Gemeindeschluessel")
    result, _ = staged("schulabgaenger_abschlussart", payload.encode("cp1252"), "typo.csv")
    error = result.deliveries[0].structure_error
    assert "missing column 'Gemeindeschlüssel' (did you mean 'Gemeindeschluessel'?)" in error


def test_too_many_bad_rows_block_the_delivery(staged) -> None:
    """Beyond a suite's `mostly` tolerance the whole delivery is rejected (blocking FAIL)."""
    lines = [line.replace(";05", ";5", 1) for line in demo_leaver_lines(45)]  # Excel ate the 0
    result, conn = staged("schulabgaenger_abschlussart", leavers_file(lines), "excel.csv")
    (delivery,) = result.deliveries
    assert delivery.state == "rejected"
    failed = outcome(result, "canonical_records_known_region_keys")
    assert failed.outcome == "FAIL" and failed.severity == "ERROR"
    assert "unknown region key '5111000'" in failed.message
    assert conn.execute("SELECT count(*) FROM staging.records").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM quality.quarantine").fetchone()[0] == 45 * 7


# --- end to end: the broken night and the next night --------------------------------------


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_broken_deliveries_leave_the_publication_and_other_sources_intact(
    demo_runs: DemoRuns, tmp_path: Path
) -> None:
    data = copy_data_dir(demo_runs, tmp_path / "data")
    published = data / "published" / "bildungsmonitor.duckdb"
    before = sha256(published)
    inbox = data / "inbox"
    for source_id in ("schulabgaenger_abschlussart", "kita_betreuung", "lernfoerderung"):
        (inbox / source_id).mkdir(parents=True)
    comma = leavers_file(demo_leaver_lines(20)).decode("cp1252").replace(";", ",")
    (inbox / "schulabgaenger_abschlussart/abgaenger_2025.csv").write_bytes(comma.encode("cp1252"))
    (inbox / "kita_betreuung/kita_2025.csv").write_bytes(
        "\ufeffStichtag;Gemeindeschlüssel;Gemeindename;Kinder unter 3 Jahren in Tagesbetreuung\n"
        "01.03.2025;05513000;Gelsenkirchen;1720\n".encode()
    )
    (inbox / "lernfoerderung/lernpaten_2025-26.csv").write_text(
        "schulnummer,schuljahr,schulname,teilnehmende_schueler,foerderstunden\n"
        "118928,2025/26,GG Marschallstr.,41,505.0\n",
        encoding="utf-8",
    )

    broken = run_cli(data)
    assert broken.returncode == 1, broken.output
    assert "NOT published" in broken.output
    assert (
        "FAIL staging/schulabgaenger_abschlussart:structure — abgaenger_2025.csv, line 1:"
        in broken.output
    )
    assert (
        "FAIL staging/kita_betreuung:structure — kita_2025.csv, line 1, column "
        "'Kinder von 3 bis unter 6 Jahren in Tagesbetreuung': missing column" in broken.output
    )
    assert f"the previous publication is unchanged: {published}" in broken.output
    assert sha256(published) == before
    with duckdb.connect(str(data / "warehouse/work.duckdb"), read_only=True) as conn:
        states = dict(
            conn.execute(
                "SELECT file_name, state FROM meta.deliveries WHERE parsed_run_id = ?",
                [broken.run_id],
            ).fetchall()
        )
        assert states == {
            "abgaenger_2025.csv": "rejected",
            "kita_2025.csv": "rejected",
            "lernpaten_2025-26.csv": "loaded",
        }
        # the other sources still load: the programme's new school year is staged
        assert (
            conn.execute(
                "SELECT count(*) FROM staging.records WHERE measure = "
                "'programme_schools_reached' AND school_year = '2025/26'"
            ).fetchone()[0]
            == 53
        )
    rejected = sorted(p.name for p in (inbox / "kita_betreuung/rejected").iterdir())
    assert rejected[0].endswith("_kita_2025.csv") and rejected[1].endswith(".error.txt")
    # the partner reads why in German first; the office finds the English below
    german, english = (
        (inbox / "kita_betreuung/rejected" / rejected[1])
        .read_text(encoding="utf-8")
        .split("--- English (for the backbone office) ---")
    )
    assert german.startswith("Die Lieferung kita_2025.csv wurde abgelehnt") and "Zeile" in german
    assert "The delivery kita_2025.csv was rejected" in english
    assert not (inbox / "lernfoerderung/lernpaten_2025-26.csv").exists()

    # the next night: the partner sends a corrected file with a few bad rows
    payload, line = bad_rows_delivery()
    (inbox / "schulabgaenger_abschlussart/abgaenger_2025_neu.csv").write_bytes(payload)
    recovered = run_cli(data)
    assert recovered.returncode == 0, recovered.output
    assert "success, published" in recovered.output
    assert sha256(published) != before
    with duckdb.connect(str(published), read_only=True) as conn:
        quarantined = conn.execute(
            "SELECT source_line, reason FROM quality.quarantine WHERE file_name = "
            "'abgaenger_2025_neu.csv'"
        ).fetchall()
        assert {ln for ln, _ in quarantined} == {29, *(int(v) for v in line.values())}
        assert (
            conn.execute(
                "SELECT count(*) FROM marts.measure_values WHERE school_year = "
                "'2025/26' AND measure = 'programme_schools_reached'"
            ).fetchone()[0]
            == 53
        )
        fails = conn.execute(
            "SELECT count(*) FROM quality.check_results WHERE run_id = ? AND outcome = 'FAIL'",
            [broken.run_id],
        ).fetchone()[0]
        assert fails == 2
        loaded = conn.execute(
            "SELECT count(*) FROM marts.measure_values WHERE file_name = 'abgaenger_2025_neu.csv'"
        ).fetchone()[0]
        assert loaded == (90 - 1) * 7 + 6


@contextmanager
def received_leavers(
    tmp_path: Path,
) -> Iterator[tuple[duckdb.DuckDBPyConnection, Source, DataPaths]]:
    """A warehouse with 45 demo leaver lines received (ingested, not yet staged)."""
    paths = DataPaths(tmp_path / "data")
    delivered = tmp_path / "abgaenger.csv"
    delivered.write_bytes(leavers_file(demo_leaver_lines(45)))
    source = load_registry()["schulabgaenger_abschlussart"].model_copy(
        update={"location": (str(delivered),)}
    )
    paths.work_db.parent.mkdir(parents=True)
    with duckdb.connect(str(paths.work_db)) as conn:
        init_schema(conn)
        ingest_source(conn, source, paths, "run-1")
        yield conn, source, paths


def test_a_crash_while_staging_leaves_the_delivery_to_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import warehouse.staging as staging

    with received_leavers(tmp_path) as (conn, source, paths):

        def crash(*args, **kwargs):
            raise RuntimeError("power cut")

        monkeypatch.setattr(staging, "_record_delivery", crash)
        with pytest.raises(RuntimeError, match="power cut"):
            stage_source(conn, source, paths, "run-1")
        assert conn.execute("SELECT count(*) FROM staging.records").fetchone()[0] == 0
        assert conn.execute("SELECT state FROM meta.deliveries").fetchone()[0] == "received"

        monkeypatch.undo()
        result = stage_source(conn, source, paths, "run-2")
        assert [d.state for d in result.deliveries] == ["loaded"]
        assert conn.execute("SELECT count(*) FROM staging.records").fetchone()[0] == 45 * 7


def test_a_disagreement_of_great_expectations_found_while_loading_keeps_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GX validates on its own thread while the records load (expectations/gx_check.py): its
    ExpectationMismatch still arrives before the delivery commits, which then loads nothing."""
    from expectations import gx_check

    with received_leavers(tmp_path) as (conn, source, paths):
        compare = gx_check._compare_with_gx

        def disagree(suite, *args):
            compare(suite, *args)
            raise gx_check.ExpectationMismatch(f"GX disagrees on suite {suite.name}")

        monkeypatch.setattr(gx_check, "_compare_with_gx", disagree)
        with pytest.raises(gx_check.ExpectationMismatch, match="on suite canonical_records"):
            stage_source(conn, source, paths, "run-1")
        assert conn.execute("SELECT count(*) FROM staging.records").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM quality.quarantine").fetchone()[0] == 0
        assert conn.execute("SELECT state FROM meta.deliveries").fetchone()[0] == "received"

        monkeypatch.undo()
        result = stage_source(conn, source, paths, "run-2")
        assert [d.state for d in result.deliveries] == ["loaded"]
        assert conn.execute("SELECT count(*) FROM staging.records").fetchone()[0] == 45 * 7


@pytest.mark.parametrize("official_first", [True, False])
def test_two_sources_stating_one_figure_differently_is_a_finding_in_either_order(
    tmp_path: Path, official_first: bool
) -> None:
    """Precedence (docs/sources.md): the official figure is current whichever arrives first,
    and the staging of the second names both sources and values."""
    from warehouse.build import build_measure_revisions, load_regions_table, load_sources_table

    lines = demo_leaver_lines(9)  # one municipality-year, 9 subgroup lines
    cells = lines[0].split(";")
    assert (cells[1], cells[3], cells[4]) == ("05111000", "insgesamt", "insgesamt")
    cells[5] = str(int(cells[5]) + 7)  # leavers_total differs by 7
    official_lines = [";".join(cells), *lines[1:]]
    synthetic = load_registry()["schulabgaenger_abschlussart"]
    official = synthetic.model_copy(update={"id": "amtliche_abgaenger", "standing": "official",
                                            "synthetic": False})  # fmt: skip
    files = {synthetic.id: leavers_file(lines), official.id: leavers_file(official_lines)}
    registry = {}
    for src in (synthetic, official):
        path = tmp_path / f"{src.id}.csv"
        path.write_bytes(files[src.id])
        registry[src.id] = src.model_copy(update={"location": (str(path),)})
    order = [official.id, synthetic.id] if official_first else [synthetic.id, official.id]
    paths = DataPaths(tmp_path / "data")
    paths.work_db.parent.mkdir(parents=True)
    with duckdb.connect(str(paths.work_db)) as conn:
        init_schema(conn)
        load_regions_table(conn)
        load_sources_table(conn, registry)
        for number, source_id in enumerate(order, start=1):
            ingest_source(conn, registry[source_id], paths, f"run-{number}")
            stage_source(conn, registry[source_id], paths, f"run-{number}", registry=registry)
        findings = conn.execute(
            "SELECT source_id, region_code, value, reference, message FROM quality.findings "
            "WHERE check_name = 'source_conflicts'"
        ).fetchall()
        build_measure_revisions(conn)
        current = conn.execute(
            "SELECT source_id, value FROM core.measure_revisions WHERE is_current "
            "AND measure = 'leavers_total' AND region_code = '05111000' AND sex = 'total' "
            "AND nationality = 'total'"
        ).fetchall()
    total = float(lines[0].split(";")[5])
    second = order[1]
    (finding,) = findings
    here, there = (total + 7, total) if second == official.id else (total, total + 7)
    other = order[0]
    other_standing = registry[other].standing
    assert finding[:4] == (second, "05111000", here, there)
    here_text, there_text = (f"{v:,.0f}".replace(",", " ") for v in (here, there))
    assert finding[4] == (
        f"leavers_total 05111000 2012/13: {here_text} here ({registry[second].standing}), "
        f"{there_text} from {other} ({other_standing}, {other}.csv); current: amtliche_abgaenger"
    )
    assert current == [("amtliche_abgaenger", total + 7)]


def test_a_fractional_count_and_a_minus_zero_are_quarantined_naming_line_and_column(
    staged,
) -> None:
    """Counts are whole numbers; '-0' is a negative number a sheet rounded to zero."""
    lines = demo_leaver_lines(90)
    cells = lines[3].split(";")
    cells[6] = "341,5"  # ohne Hauptschulabschluss
    lines[3] = ";".join(cells)
    cells = lines[5].split(";")
    cells[7] = "-0"  # mit Hauptschulabschluss
    lines[5] = ";".join(cells)
    result, conn = staged("schulabgaenger_abschlussart", leavers_file(lines), "zahlen.csv")
    rows = conn.execute(
        "SELECT source_line, source_column, raw_value, reason FROM quality.quarantine "
        "ORDER BY source_line"
    ).fetchall()
    assert rows == [
        (5, "ohne Hauptschulabschluss", "341,5",
         "line 5: column 'ohne Hauptschulabschluss': count '341,5' is not a whole number"),
        (7, "mit Hauptschulabschluss", "-0",
         "line 7: column 'mit Hauptschulabschluss': count '-0' is a negative number rounded "
         "to zero"),
    ]  # fmt: skip
    assert outcome(result, "canonical_records_readable_cells").outcome == "WARNING"
    # the official symbol '-' (nothing) is a 0, not a finding
    cells = lines[5].split(";")
    cells[7] = "-"
    lines[5] = ";".join(cells)
    cells = lines[3].split(";")
    cells[6] = "341"
    lines[3] = ";".join(cells)
    result, conn = staged("schulabgaenger_abschlussart", leavers_file(lines), "zahlen2.csv")
    assert [(d.state, d.records_quarantined) for d in result.deliveries] == [("loaded", 0)]


def test_a_line_with_a_cell_missing_is_quarantined_not_padded(staged) -> None:
    """One cell left out in the middle: every later value would shift one column."""
    lines = demo_leaver_lines(90)
    cells = lines[3].split(";")
    del cells[7]
    lines[3] = ";".join(cells)
    result, conn = staged("schulabgaenger_abschlussart", leavers_file(lines), "kurz.csv")
    rows = conn.execute(
        "SELECT DISTINCT source_line, reason FROM quality.quarantine ORDER BY 1"
    ).fetchall()
    short = (
        "line 5: the line has 11 cells, the header 12: a cell is missing, the values after it "
        "would stand in the wrong columns"
    )
    assert {line for line, _ in rows} == {5}
    assert all(reason.startswith(short) for _, reason in rows)
    # the shifted share (5,7 %) now stands in a count column: said too, not hidden
    assert (5, f"{short}; column 'mit allgemeiner Hochschulreife': count '5,7' is not a whole "
               "number") in rows  # fmt: skip
    (delivery,) = result.deliveries
    assert delivery.records_quarantined == 7
    assert conn.execute(
        "SELECT count(*) FROM staging.records WHERE source_line = 5"
    ).fetchone() == (0,)
