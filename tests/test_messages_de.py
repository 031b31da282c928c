"""German messages and screening stages for everything a partner's delivery can get wrong.

The English texts are covered by test_readers, test_symbols and test_canonical; here: the
German beside them (`DeliveryFormatError.message_de`, `CellError.message_de`, the records'
`problem_de`, the suites' `description_de` / `reason_de`) and the stage of every structural
error.
"""

from __future__ import annotations

import ast
import json
import string
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from expectations.suites import SUITES_DIR
from schemas.regions import match_region_names
from sources.canonical import FRAME_COLUMNS, RegionResolver
from sources.readers import read_csv, read_ffcsv, read_genesis_table, read_json_records
from sources.readers.base import STAGES, DeliveryFormatError, RawRow, RawTable
from sources.registry import Source, load_registry
from sources.symbols import CellError, NumberFormat, parse_cell
from tests.genesis_replay import make_zip
from tests.records import to_records

ROOT = Path(__file__).resolve().parent.parent
KITA_U3 = "Kinder unter 3 Jahren in Tagesbetreuung"
KITA_3_6 = "Kinder von 3 bis unter 6 Jahren in Tagesbetreuung"


def raises(call, *args: Any, **kwargs: Any) -> DeliveryFormatError:
    with pytest.raises(DeliveryFormatError) as exc:
        call(*args, **kwargs)
    return exc.value


# --- DeliveryFormatError itself --------------------------------------------------------------


def test_message_de_renders_like_the_english_one() -> None:
    exc = DeliveryFormatError(
        "f.csv",
        "problem",
        line=3,
        column="Wert",
        expected="this",
        found="that",
        stage="columns",
        problem_de="Problem",
        expected_de="dies",
        found_de="das",
    )
    assert str(exc) == "f.csv, line 3, column 'Wert': problem (expected this; found that)"
    assert exc.message_de == "f.csv, Zeile 3, Spalte 'Wert': Problem (erwartet dies; gefunden das)"
    assert exc.stage == "columns"
    assert (exc.problem_de, exc.expected_de, exc.found_de) == ("Problem", "dies", "das")


def test_message_de_omits_missing_parts_and_falls_back_to_english() -> None:
    assert DeliveryFormatError("f.csv", "x", problem_de="y").message_de == "f.csv: y"
    exc = DeliveryFormatError("f.csv", "x", line=2, found="z", problem_de="y")
    assert exc.message_de == "f.csv, Zeile 2: y (gefunden z)"
    assert exc.stage == "file"  # the default


def test_unknown_stage_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown stage 'cells'"):
        DeliveryFormatError("f.csv", "x", stage="cells")


# --- the representative structural errors ----------------------------------------------------


def test_wrong_delimiter() -> None:
    exc = raises(read_csv, b"Region,Jahr,Anzahl\nEssen,2022,5\n", "abgaenger.csv", delimiter=";")
    assert exc.stage == "columns"
    assert exc.message_de == (
        "abgaenger.csv, Zeile 1: nur eine Spalte gefunden – falsches Trennzeichen? "
        "(erwartet Spalten getrennt durch ';'; gefunden ',' in der Kopfzeile)"
    )
    # the English message is unchanged
    assert str(exc) == (
        "abgaenger.csv, line 1: only one column found (expected columns separated by "
        "';'; found ',' — wrong delimiter?)"
    )


def test_declared_encoding_that_is_wrong() -> None:
    data = "Region;Wert\nEssen;1\nMünster;5\n".encode("cp1252")
    exc = raises(read_csv, data, "kita.csv", encoding="utf-8")
    assert exc.stage == "file"
    assert exc.line == 3
    assert exc.message_de == (
        "kita.csv, Zeile 3: Byte 0xfc ist kein gültiges UTF-8 "
        "(erwartet UTF-8, wie für diese Quelle angegeben; gefunden Text, der nach cp1252 aussieht)"
    )


def test_declared_code_page_that_garbles_the_text() -> None:
    exc = raises(read_csv, "Region;Wert\nMünster;5\n".encode(), "f.csv", encoding="cp1252")
    assert exc.stage == "file"
    assert exc.message_de.startswith("f.csv, Zeile 2: der als cp1252 gelesene Text ist verstümmelt")
    assert exc.message_de.endswith("gefunden Text, der nach UTF-8 aussieht)")


def test_missing_column_with_a_hint() -> None:
    source = load_registry()["schulabgaenger_abschlussart"]
    columns = ["Schuljahr", "Gemeindeschlüssel", "Gemeinde", "Geschlecht", "Staatsangehörigkeit"]
    columns += ["Abgänger/-innen insgesamt", "ohne Hauptschulabschluss"]
    columns += ["mit Hauptschulabschluss", "mit mittlerem Schulabschluss", "mit Fachhochschulreif"]
    columns += ["mit allgemeiner Hochschulreife", "Anteil ohne Hauptschulabschluss in %"]
    raw = RawTable("ohne_fhr.csv", columns, [], encoding="utf-8", delimiter=";")
    exc = raises(to_records, raw, source, RegionResolver())
    assert exc.stage == "columns"
    assert exc.message_de.startswith(
        "ohne_fhr.csv, Zeile 1, Spalte 'mit Fachhochschulreife': Spalte fehlt: "
        "'mit Fachhochschulreife' (meinten Sie 'mit Fachhochschulreif'?) "
        "(erwartet die Spalten, die für diese Quelle vereinbart sind; "
        "gefunden 12 Spalten: 'Schuljahr'; 'Gemeindeschlüssel'"
    )


def test_zip_where_csv_is_expected() -> None:
    exc = raises(read_csv, make_zip({"a.csv": b"x;y\n"}), "lieferung.csv")
    assert exc.stage == "file"
    assert exc.message_de == (
        "lieferung.csv: die Datei ist ein zip-Archiv, keine CSV-Textdatei "
        "(erwartet CSV-Text – die Lieferung bitte zuerst entpacken; "
        "gefunden die zip-Kennung 'PK' am Dateianfang)"
    )


def test_xlsx_where_csv_is_expected() -> None:
    xlsx = make_zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"})
    exc = raises(read_csv, xlsx, "lieferung.csv")
    assert exc.stage == "file"
    assert "Excel-Arbeitsmappe (.xlsx)" in exc.message_de
    assert "'CSV (Trennzeichen-getrennt)'" in exc.message_de


def test_truncated_zip_and_missing_genesis_footer_are_file_problems() -> None:
    payload = make_zip({"t_flat.csv": b"statistics_code;time;value\n" * 500})
    exc = raises(read_ffcsv, payload[: len(payload) // 2], "t.zip")
    assert exc.stage == "file"
    assert exc.message_de.startswith("t.zip: das zip-Archiv ist beschädigt oder abgeschnitten")
    text = b"GENESIS-Tabelle: 21111-01-03-4\nTitel;;\n;;A\nEssen;2023;1\n"
    exc = raises(read_genesis_table, text, "t.csv")
    assert exc.stage == "file"
    assert "der GENESIS-Tabellenfuß fehlt – die Datei ist vielleicht" in exc.message_de


@pytest.mark.parametrize(
    ("data", "german"),
    [
        (
            b"Region;Wert\nEssen;5\nBochum;6;;zu viel\n",
            "f.csv, Zeile 3: die Zeile hat 4 Zellen, die Kopfzeile aber nur 2 Spalten "
            "(erwartet höchstens 2 Zellen; gefunden 'zu viel' in Zelle 4)",
        ),
        (
            b"Region;Anzahl;Jahr;Anzahl\nEssen;1;2022;2\n",
            "f.csv, Zeile 1, Spalte 'Anzahl': die Spalten 2 und 4 haben denselben Namen "
            "(erwartet eindeutige Spaltennamen)",
        ),
        (
            b"Region;;Wert\nEssen;1;2\n",
            "f.csv, Zeile 1: Zelle 2 der Kopfzeile ist leer (erwartet einen Namen für jede "
            "Spalte; gefunden eine leere Zelle nach der Spalte 'Region')",
        ),
        (
            b'Region;Wert\n"Essen;5\nBochum;6\n',
            "f.csv, Zeile 2: eine Zelle in Anführungszeichen, die in dieser Zeile beginnt, wird "
            'nie geschlossen (erwartet ein schließendes Anführungszeichen ("); gefunden das '
            "Dateiende)",
        ),
    ],
)
def test_header_and_row_problems_are_column_problems(data: bytes, german: str) -> None:
    exc = raises(read_csv, data, "f.csv")
    assert exc.stage == "columns"
    assert exc.message_de == german


def test_json_records_in_german() -> None:
    exc = raises(read_json_records, b'{"records": [1]}', "api.json")
    assert exc.stage == "columns"
    assert exc.message_de == (
        "api.json, Zeile 1: ein Datensatz ist kein Objekt "
        "(erwartet ein JSON-Objekt je Datensatz; gefunden 1)"
    )
    exc = raises(read_json_records, b"{x", "api.json")
    assert exc.stage == "file"
    assert exc.message_de.startswith("api.json: kein gültiges JSON: ")


# --- cells -----------------------------------------------------------------------------------


def cell_error(text: str, fmt: NumberFormat | None = None) -> CellError:
    with pytest.raises(CellError) as exc:
        parse_cell(text, fmt or NumberFormat())
    return exc.value


def test_text_cell_in_german() -> None:
    error = cell_error("zwölf")
    assert error.message_de == (
        "'zwölf' ist keine Zahl und kein statistisches Zeichen "
        "(erwartet z. B. 1234,5, '-', '.', 'x', '/', '...')"
    )
    assert str(error).startswith("'zwölf' is not a number or a statistical symbol")


def test_thousands_separator_in_german() -> None:
    assert cell_error("1.234").message_de == (
        "'1.234' enthält ein Tausendertrennzeichen '.'; erwartet werden Ziffern mit "
        'Dezimalkomma (in der Quelle `thousands: "."` angeben, wenn der Partner es so schreibt)'
    )


@pytest.mark.parametrize(
    ("text", "fmt", "german"),
    [
        (
            '=HYPERLINK("x")',
            NumberFormat(),
            "'=HYPERLINK(\"x\")' ist eine Tabellenformel, kein Wert",
        ),
        ("12,5", NumberFormat(decimal="."), "'12,5' enthält ','; erwartet wird eine Zahl"),
        ("1 23", NumberFormat(), "'1 23' enthält Leerzeichen"),
        ("1.23", NumberFormat(thousands="."), "'1.23': das Tausendertrennzeichen '.' muss"),
    ],
)
def test_other_cell_errors_in_german(text: str, fmt: NumberFormat, german: str) -> None:
    assert cell_error(text, fmt).message_de.startswith(german)


def test_cell_error_without_german_falls_back_to_english() -> None:
    assert CellError("bad").message_de == "bad"
    assert str(CellError("bad", "schlecht")) == "bad"


# --- records: problem_de ---------------------------------------------------------------------


def kita(*rows: list[str], year_format: str = "date") -> tuple[RawTable, Source]:
    source = load_registry()["kita_betreuung"]
    assert source.measures is not None
    measures = source.measures.model_copy(update={"year_format": year_format})
    source = source.model_copy(update={"measures": measures})
    columns = ["Stichtag", "Gemeindeschlüssel", "Gemeindename", KITA_U3, KITA_3_6]
    raw = RawTable(
        "kita.csv",
        columns,
        [RawRow(2 + i, tuple(cells)) for i, cells in enumerate(rows)],
        encoding="utf-8",
        delimiter=";",
    )
    return raw, source


def test_problem_de_is_next_to_problem() -> None:
    assert FRAME_COLUMNS[FRAME_COLUMNS.index("problem") + 1] == "problem_de"


def test_malformed_school_year_in_german() -> None:
    raw, source = kita(["2022/24", "05112000", "Duisburg", "1", "2"], year_format="school_year")
    frame = to_records(raw, source, RegionResolver())
    assert set(frame["problem_de"]) == {
        "Spalte 'Stichtag': Schuljahr '2022/24': das zweite Jahr muss auf das erste folgen "
        "(erwartet 2022/23)"
    }
    raw, source = kita(["22/23", "05112000", "Duisburg", "1", "2"], year_format="school_year")
    frame = to_records(raw, source, RegionResolver())
    assert set(frame["problem_de"]) == {
        "Spalte 'Stichtag': Schuljahr '22/23' hat nicht die Form 2022/23"
    }


@pytest.mark.parametrize(
    ("fmt", "cell", "german"),
    [
        ("date", "31.02.2023", "Datum '31.02.2023' gibt es nicht"),
        ("date", "2023-03-01", "Datum '2023-03-01' ist nicht ein Datum wie 01.03.2024"),
        ("start_year", "22", "Jahr '22' ist keine vierstellige Jahreszahl"),
    ],
)
def test_dates_and_years_in_german(fmt: str, cell: str, german: str) -> None:
    good = {"date": "01.03.2023", "start_year": "2022"}[fmt]
    raw, source = kita(
        [cell, "05112000", "Duisburg", "1", "2"],
        [good, "05113000", "Essen", "3", "4"],
        year_format=fmt,
    )
    frame = to_records(raw, source, RegionResolver())
    assert set(frame["problem_de"].dropna()) == {f"Spalte 'Stichtag': {german}"}


def test_unknown_and_empty_region_and_cell_problems_in_german() -> None:
    raw, source = kita(
        ["01.03.2023", "", "Duisburg", "zwölf", "2"],
        ["01.03.2023", "05112000", "Duisburg", "3", "4"],
    )
    frame = to_records(raw, source, RegionResolver())
    first = frame[frame["source_column"] == KITA_U3].iloc[0]
    assert first["problem"] == (
        f"region key is empty; column {KITA_U3!r}: 'zwölf' is not a number or a statistical "
        "symbol (expected e.g. 1234,5, '-', '.', 'x', '/', '...')"
    )
    assert first["problem_de"] == (
        f"Gebietsschlüssel ist leer; Spalte {KITA_U3!r}: 'zwölf' ist keine Zahl und kein "
        "statistisches Zeichen (erwartet z. B. 1234,5, '-', '.', 'x', '/', '...')"
    )
    # problem_de is set exactly where problem is
    assert (frame["problem"].isna() == frame["problem_de"].isna()).all()
    assert frame["problem_de"].isna().sum() == 2


def test_unknown_region_name_in_german(tmp_path: Path) -> None:
    source = load_registry()["kita_betreuung"]
    assert source.measures is not None
    measures = source.measures.model_copy(
        update={"region_column": "Gemeindename", "region_by": "name", "region_scope": "05"}
    )
    source = source.model_copy(update={"measures": measures})
    raw, _ = kita(
        ["01.03.2023", "", "Atlantis", "1", "2"],
        ["01.03.2023", "", "Neustadt", "1", "2"],
        ["01.03.2023", "", "Duisburg, krfr. Stadt", "1", "2"],
    )
    frame = to_records(raw, source, RegionResolver(match_names=match_region_names))
    by_line = frame.groupby("source_line")["problem_de"].first().to_dict()
    assert by_line[2] == "unbekannter Gebietsname 'Atlantis'"
    assert by_line[3].startswith("unbekannter Gebietsname 'Neustadt' innerhalb von 05")
    assert pd.isna(by_line[4])


def test_unknown_region_key_reason_in_german() -> None:
    """An unknown key is found by the record suite; its German reason fills the same way."""
    suite = json.loads((SUITES_DIR / "canonical_records.json").read_text(encoding="utf-8"))
    meta = next(
        e["meta"] for e in suite["expectations"] if e["meta"]["check"] == "known_region_keys"
    )
    record = {"source_line": 7, "region_code": "05999999"}
    assert meta["reason_de"].format(**record) == (
        "Zeile 7: unbekannter Gebietsschlüssel '05999999' (erwartet: ein amtlicher "
        "Gemeindeschlüssel mit 8 Ziffern, z. B. 05513000)"
    )


def test_school_number_and_subgroup_problems_in_german(tmp_path: Path) -> None:
    source = load_registry()["lernfoerderung"]
    raw = RawTable(
        "lf.csv",
        ["schulnummer", "schuljahr", "schulname", "teilnehmende_schueler", "foerderstunden"],
        [RawRow(2, ("999999", "2022/23", "A", "25", "7"))],
        encoding="utf-8",
        delimiter=";",
    )
    frame = to_records(raw, source, RegionResolver(school_regions={}))
    assert set(frame["problem_de"]) == {"Schulnummer '999999' steht nicht im Schulverzeichnis"}

    leavers = load_registry()["schulabgaenger_abschlussart"]
    assert leavers.measures is not None
    columns = [leavers.measures.region_column, leavers.measures.year_column]
    columns += [leavers.measures.sex.column, leavers.measures.nationality.column]
    columns += [v.column for v in leavers.measures.values]
    cells = ["05112000", "2022/23", "divers", "insgesamt"] + ["1"] * len(leavers.measures.values)
    raw = RawTable("a.csv", columns, [RawRow(2, tuple(cells))], encoding="utf-8", delimiter=";")
    frame = to_records(raw, leavers, RegionResolver())
    german = frame["problem_de"].iloc[0]
    assert german.startswith(
        f"Spalte {leavers.measures.sex.column!r}: Geschlecht 'divers' ist keiner der Werte "
    )


# --- the expectation suites ------------------------------------------------------------------


def fields(template: str) -> list[tuple[str, str | None, str | None]]:
    """(field name, format spec, conversion) of every placeholder, in order."""
    return [
        (name, spec, conversion)
        for _, name, spec, conversion in string.Formatter().parse(template)
        if name is not None
    ]


SUITES = sorted(SUITES_DIR.glob("*.json"))


def test_there_are_suites() -> None:
    assert len(SUITES) >= 9


@pytest.mark.parametrize("path", SUITES, ids=lambda p: p.stem)
def test_every_expectation_has_german_texts(path: Path) -> None:
    suite = json.loads(path.read_text(encoding="utf-8"))
    assert suite["meta"]["description_de"].strip()
    for expectation in suite["expectations"]:
        meta = expectation["meta"]
        check = meta["check"]
        assert meta.get("description_de", "").strip(), f"{path.name}: {check} has no description_de"
        assert meta["description_de"] != meta["description"], check
        if "reason" in meta:
            assert meta.get("reason_de", "").strip(), f"{path.name}: {check} has no reason_de"
            # the German reason fills from the same row; it may leave out a field (the measure
            # id) that its column header already names for the partner
            named = {name for name, *_ in fields(meta["reason_de"])}
            assert named <= {name for name, *_ in fields(meta["reason"])}, check
            assert meta["reason_de"] != meta["reason"], check
        else:
            assert "reason_de" not in meta, check


# --- every raise site carries a stage and German -----------------------------------------------


def _raise_sites() -> list[tuple[Path, ast.Call]]:
    paths = [*sorted((ROOT / "sources" / "readers").glob("*.py")), ROOT / "sources/canonical.py"]
    sites = []
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                if name == "DeliveryFormatError":
                    sites.append((path, node))
    return sites


def test_every_delivery_format_error_has_a_stage_and_german() -> None:
    sites = _raise_sites()
    assert len(sites) >= 40
    for path, call in sites:
        where = f"{path.relative_to(ROOT)}:{call.lineno}"
        keywords = {k.arg: k.value for k in call.keywords}
        assert "stage" in keywords, f"{where}: no stage="
        assert "problem_de" in keywords, f"{where}: no problem_de="
        stage = keywords["stage"]
        assert isinstance(stage, ast.Constant) and stage.value in STAGES, where
        for part in ("expected", "found"):
            if part in keywords:
                assert f"{part}_de" in keywords, f"{where}: {part}= without {part}_de="


def test_every_cell_error_has_german() -> None:
    tree = ast.parse((ROOT / "sources/symbols.py").read_text(encoding="utf-8"))
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "CellError"
    ]
    assert len(calls) >= 6
    for call in calls:
        assert len(call.args) == 2, f"sources/symbols.py:{call.lineno}: CellError without German"


def test_frames_built_elsewhere_keep_problem_de() -> None:
    from tests.records import combine_rows, derive_totals

    raw, source = kita(["01.03.2023", "05112000", "Duisburg", "1", "abc"])
    frame = to_records(raw, source, RegionResolver())
    combined = combine_rows(frame)
    assert list(combined.columns) == list(FRAME_COLUMNS)
    bad = combined[combined["problem"].notna()]
    assert bad["problem_de"].str.startswith(f"Spalte {KITA_3_6!r}: 'abc' ist keine Zahl").all()
    assert combined.loc[combined["problem"].isna(), "problem_de"].isna().all()
    totals = derive_totals(combined.assign(sex="female"), ("sex",))
    assert list(totals.columns) == list(FRAME_COLUMNS)
    assert pd.isna(totals.loc[totals["sex"] == "total", "problem_de"]).all()
