"""The delivery readers against the real official files and against broken variants made from
bytes in the tests."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import duckdb
import pytest
import yaml

from sources.delivery import read_payload
from sources.readers import (
    DeliveryFormatError,
    RawRow,
    decode,
    detect_delimiter,
    read_csv,
    read_ffcsv,
    read_genesis_table,
)
from sources.readers.decoding import check_text
from sources.registry import load_registry
from tests.genesis_replay import make_zip

OFFICIAL = Path(__file__).resolve().parents[1] / "sources/demo/official"
RECORDINGS = Path(__file__).resolve().parents[2] / "shared/data/genesis-recordings"
K21 = "itnrw_21111-9k21_kommunalprofil_schulen.csv"
RS = "regionalstatistik_21111-01-03-4.csv"


def official(name: str) -> bytes:
    return (OFFICIAL / name).read_bytes()


def message(exc: pytest.ExceptionInfo[DeliveryFormatError]) -> str:
    return str(exc.value)


def recording_zip(name: str) -> bytes:
    path = RECORDINGS / f"{name}.yaml"
    if not path.exists():
        pytest.skip(f"GENESIS recording {path} is not available (needs ../shared/data)")
    cassette = yaml.safe_load(path.read_bytes())
    for interaction in cassette["interactions"]:
        if interaction["request"]["uri"].endswith("/data/tablefile"):
            body = interaction["response"]["body"]["string"]
            assert isinstance(body, bytes)
            return body
    raise AssertionError(f"no data/tablefile response in {path}")


# --------------------------------------------------------------------------------------------
# GENESIS table CSV: the real files
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def k21():
    return read_genesis_table(official(K21), K21)


@pytest.fixture(scope="module")
def rs():
    return read_genesis_table(official(RS), RS)


def test_9k21_structure(k21):
    assert k21.encoding == "cp1252"
    assert k21.delimiter == ";"
    assert k21.label_columns == 5
    assert len(k21.columns) == 5 + 14
    assert k21.columns[:5] == [""] * 5
    assert k21.columns[5] == "Schulform | Insgesamt"
    assert k21.columns[9] == "Schulform | Förderschulen Grund-/Hauptschulen"
    assert k21.columns[17] == "Schulform | Gymnasien"
    assert k21.columns[18] == "Schulform | Weiterbildungskollegs"
    assert k21.header_line == 7


def test_9k21_rows(k21):
    # 31,199 lines = 1 code + 4 title + 2 header + 31,176 data + 16 footer lines
    assert len(k21.rows) == 31_176
    first = k21.rows[0]
    assert first.line == 8
    assert first.cells[:5] == ("Nordrhein-Westfalen", "2022/23", "Schulen", "", "Anzahl")
    assert first.cells[5:8] == ("5023", "2794", "164")
    assert first.cells[-2:] == ("624", "43")
    last = k21.rows[-1]
    assert last == RawRow(
        31183,
        (
            "      Werne, Stadt",  # indentation (hierarchy) is kept
            "2005/06",
            "Lehrkräfte",
            "Insgesamt",
            "Anzahl",
            *("280", "76", "46", "-", "14", "-", "38", "-", "-", "-", "-", "-", "106", "-"),
        ),
    )
    assert all(len(row.cells) == 19 for row in k21.rows)
    lines = [row.line for row in k21.rows]
    assert lines == list(range(8, 31184))


def test_9k21_metadata(k21):
    meta = k21.metadata
    assert meta["table_code"] == "21111-9k21"
    assert meta["title"] == (
        "Kommunalprofil: Schulen, Schüler/-innen, Schulabgänger/-innen und Lehrkräfte an "
        "allgemeinbildende Schulen Statistik der allgemeinbildenden Schulen"
    )
    assert meta["stand"] == "09.06.2023 / 12:41:43"
    assert meta["licence"] == (
        "© IT.NRW, Düsseldorf, 2023. Dieses Werk ist lizenziert unter der Datenlizenz "
        "Deutschland - Namensnennung - Version 2.0."
    )
    assert meta["notes"].startswith("Aus Datenschutzgründen werden Originalfallzahlen und\n")
    assert "auf ein Vielfaches\nvon 5 auf- bzw. abgerundet" in meta["notes"]
    # the ';' inside the quoted note is text, not a delimiter
    assert "Bis zum Schuljahr 2018/19 ohne Schulverwaltungsassistenz;\n" in meta["notes"]
    assert meta["notes"].endswith("Lehrkräfte mit Gestellungsvertrag.")


def test_regionalstatistik_structure(rs):
    assert rs.encoding == "cp1252"
    assert rs.label_columns == 4
    assert len(rs.columns) == 10
    assert rs.header_line == 9
    assert rs.columns[4] == "Allgemeinbildende Schulen | Anzahl"
    assert rs.columns[5] == (
        "Schülerinnen und Schüler an allgemeinbildenden Schulen | Geschlecht | Insgesamt | Anzahl"
    )
    assert rs.columns[6] == (
        "Schülerinnen und Schüler an allgemeinbildenden Schulen | Geschlecht | weiblich | Anzahl"
    )
    assert rs.columns[9] == (
        "Schülerinnen und Schüler an allgemeinbildenden Schulen | Klassenstufe / "
        "Jahrgangsstufe / Schulbesuchsjahr | 11. Jahrgangsstufe / Einführungsphase | Anzahl"
    )
    assert len(rs.rows) == 6456
    assert rs.rows[0] == RawRow(
        10,
        (
            "2023",
            "DG",
            "Deutschland",
            "Vorschulbereich",
            "1216",
            "28808",
            "11785",
            "8938",
            "x",
            "x",
        ),
    )
    nrw = [row for row in rs.rows if row.line == 904]
    assert nrw == [
        RawRow(
            904,
            (
                "2023",
                "05",
                "  Nordrhein-Westfalen",
                "Gymnasien",
                *("624", "506685", "266420", "45270", "65205", "6435"),
            ),
        )
    ]
    assert rs.rows[-1].line == 6465


def test_regionalstatistik_metadata(rs):
    meta = rs.metadata
    assert meta["table_code"] == "21111-01-03-4"
    assert meta["title"].startswith("Schulen, Schülerinnen und Schüler nach Schularten - ")
    assert meta["stand"] == "13.03.2025 / 16:39:14"
    assert meta["licence"] == (
        "© Statistische Ämter des Bundes und der Länder, Deutschland, 2025. Dieses Werk ist "
        "lizenziert unter der Datenlizenz Deutschland - Namensnennung - Version 2.0."
    )
    assert 'zu "Anzahl der Schulen":' in meta["notes"]  # doubled quotes undone
    assert meta["notes"].endswith("Niedersachsen (2016): eingeschränkte Datenqualität")


# --------------------------------------------------------------------------------------------
# GENESIS table CSV: broken variants
# --------------------------------------------------------------------------------------------

GENESIS_SMALL = (
    "GENESIS-Tabelle: 99999-0001\n"
    "Testtabelle: Schulen;;;;\n"
    "Statistik der Tests;;;;\n"
    ";;Schulform;Schulform;Schulform\n"
    ";;Insgesamt;Gymnasien;Realschulen\n"
    "Essen;2022/23;10;2;x\n"
    "  Kettwig;2022/23;3;-;.\n"
    "__________\n"
    "© Test\n"
    "Stand: 01.02.2024 / 10:00:00\n"
)


def genesis(text: str) -> bytes:
    return text.encode("cp1252")


def test_genesis_small_table_with_crlf_and_utf8():
    table = read_genesis_table(GENESIS_SMALL.replace("\n", "\r\n").encode("utf-8"), "t.csv")
    assert table.encoding == "utf-8"
    assert table.label_columns == 2
    assert table.columns == [
        "",
        "",
        "Schulform | Insgesamt",
        "Schulform | Gymnasien",
        *["Schulform | Realschulen"],
    ]
    assert table.rows == [
        RawRow(6, ("Essen", "2022/23", "10", "2", "x")),
        RawRow(7, ("  Kettwig", "2022/23", "3", "-", ".")),
    ]
    assert table.metadata == {
        "table_code": "99999-0001",
        "title": "Testtabelle: Schulen Statistik der Tests",
        "stand": "01.02.2024 / 10:00:00",
        "licence": "© Test",
        "notes": "",
    }


def test_genesis_header_only_is_no_error():
    text = GENESIS_SMALL.replace("Essen;2022/23;10;2;x\n  Kettwig;2022/23;3;-;.\n", "")
    table = read_genesis_table(genesis(text), "t.csv")
    assert table.rows == []
    assert table.header_line == 5
    assert len(table.columns) == 5


def test_genesis_row_with_wrong_cell_count():
    text = GENESIS_SMALL.replace("  Kettwig;2022/23;3;-;.", "  Kettwig;2022/23;3;-")
    with pytest.raises(DeliveryFormatError) as exc:
        read_genesis_table(genesis(text), "t.csv")
    assert message(exc) == (
        "t.csv, line 7: the data row has 4 cells but the header has 5 "
        "(expected 5 cells (2 labels and 3 values); found 4 cells)"
    )
    assert exc.value.line == 7


def test_genesis_not_a_genesis_table():
    with pytest.raises(DeliveryFormatError) as exc:
        read_genesis_table(b"Region;Anzahl\nEssen;5\n", "partner.csv")
    assert message(exc) == (
        "partner.csv, line 1: not a GENESIS table: the first line does not name the table "
        "(expected 'GENESIS-Tabelle: <code>'; found 'Region;Anzahl')"
    )


def test_genesis_ffcsv_given_as_table_gets_a_hint():
    with pytest.raises(DeliveryFormatError, match=r"GENESIS flat file \(ffcsv\)"):
        read_genesis_table(b"\xef\xbb\xbfstatistics_code;statistics_label\n1;2\n", "ff.csv")


def test_genesis_without_header_rows():
    text = GENESIS_SMALL.replace(";;Schulform;Schulform;Schulform\n", "").replace(
        ";;Insgesamt;Gymnasien;Realschulen\n", ""
    )
    with pytest.raises(DeliveryFormatError) as exc:
        read_genesis_table(genesis(text), "t.csv")
    assert message(exc) == (
        "t.csv, line 4: no header rows found after the title (expected rows starting with ';' "
        "(the empty row-label cells) that name the value columns; found a data row "
        "'Essen;2022/23;10;2;x')"
    )


def test_genesis_duplicate_joined_header():
    text = GENESIS_SMALL.replace("Insgesamt;Gymnasien;Realschulen", "Insgesamt;Gymnasien;Gymnasien")
    with pytest.raises(DeliveryFormatError) as exc:
        read_genesis_table(genesis(text), "t.csv")
    assert message(exc) == (
        "t.csv, line 5, column 'Schulform | Gymnasien': value columns 4 and 5 have the same "
        "header (expected unique column headers)"
    )


def test_genesis_truncated_file_without_footer():
    text = GENESIS_SMALL.split("__________")[0]
    with pytest.raises(DeliveryFormatError) as exc:
        read_genesis_table(genesis(text), "t.csv")
    assert message(exc).startswith(
        "t.csv, line 7: the GENESIS footer is missing — the file may be truncated"
    )


def test_genesis_truncated_real_file():
    data = official(K21)
    with pytest.raises(DeliveryFormatError) as exc:
        read_genesis_table(data[: len(data) // 2], K21)
    assert "the GENESIS footer is missing" in message(exc)


# --------------------------------------------------------------------------------------------
# GENESIS flat files (ffcsv)
# --------------------------------------------------------------------------------------------


def test_ffcsv_ai_n_01_2_5_recording():
    payload = recording_zip("AI-N-01-2-5")
    table = read_ffcsv(payload, "AI-N-01-2-5.zip")
    assert table.file_name == "AI-N-01-2-5.zip"
    assert table.encoding == "utf-8-sig"
    assert table.metadata == {
        "member": "AI-N-01-2-5_1773175147935_de_flat.csv",
        "table_code": "AI-N-01-2-5",
    }
    assert table.columns[:5] == [
        "statistics_code",
        "statistics_label",
        "time_code",
        *[
            "time_label",
            "time",
        ],
    ]
    # the flat file's columns, then one pair per classifying variable, addressed by its code
    assert table.columns[-6:] == [
        "value",
        "value_unit",
        "value_variable_code",
        "value_variable_label",
        "variable:GEMEIN",
        "variable:GEMEIN:label",
    ]
    assert len(table.rows) == 27_132
    essen = [row for row in table.rows if row.cells[7] == "05113000"]
    assert [row.line for row in essen] == [84, 85]
    assert essen[1].cells[8:] == (
        "Essen, kreisfreie Stadt",
        "66,1",
        "Prozent",
        "AI0111",
        "Anteil Siedlungs- und Verkehrsfläche an Gesamtfläche",
        "05113000",
        "Essen, kreisfreie Stadt",
    )
    assert table.rows[-1].line == 27_133


def test_ffcsv_11111_recording_and_unzipped_csv():
    payload = recording_zip("11111-02-01-4")
    table = read_ffcsv(payload, "11111-02-01-4.zip")
    assert len(table.rows) == 489
    assert table.rows[0].cells[7:10] == ("09178", "Freising, Landkreis", "24")
    # the same CSV delivered unzipped
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        plain = archive.read(archive.namelist()[0])
    again = read_ffcsv(plain, "11111.csv")
    assert again.rows == table.rows
    assert again.metadata == {}


FFCSV = (
    "\ufeffstatistics_code;statistics_label;time_code;time_label;time;1_variable_code;"
    "1_variable_label;1_variable_attribute_code;1_variable_attribute_label;value;value_unit;"
    "value_variable_code;value_variable_label\n"
    "21111;Schulen;JAHR;Jahr;2023;KREISE;Kreise;05113;Essen;624;Anzahl;BIL002;Schüler\n"
).encode()


def test_ffcsv_truncated_zip():
    payload = make_zip({"t_flat.csv": FFCSV * 50})
    with pytest.raises(DeliveryFormatError) as exc:
        read_ffcsv(payload[: len(payload) // 2], "t.zip")
    assert message(exc).startswith("t.zip: the zip archive is corrupt or truncated")


def test_ffcsv_corrupt_member():
    payload = bytearray(make_zip({"t_flat.csv": FFCSV * 50}))
    payload[60:70] = b"\x00" * 10  # inside the compressed data of the member
    with pytest.raises(DeliveryFormatError) as exc:
        read_ffcsv(bytes(payload), "t.zip")
    assert message(exc).startswith("t.zip: t_flat.csv in the zip archive is corrupt or truncated")


def test_ffcsv_zip_without_csv():
    with pytest.raises(DeliveryFormatError) as exc:
        read_ffcsv(make_zip({"readme.txt": b"hello"}), "t.zip")
    assert message(exc) == (
        "t.zip: the zip archive holds no .csv file (expected exactly one .csv file; "
        "found readme.txt)"
    )


def test_ffcsv_zip_with_two_csvs():
    with pytest.raises(DeliveryFormatError) as exc:
        read_ffcsv(make_zip({"a.csv": FFCSV, "b.csv": FFCSV}), "t.zip")
    assert message(exc) == (
        "t.zip: the zip archive holds 2 .csv files (expected exactly one .csv file; "
        "found a.csv, b.csv)"
    )


def test_ffcsv_missing_columns():
    with pytest.raises(DeliveryFormatError) as exc:
        read_ffcsv(b"statistics_code;time;wert\n1;2023;5\n", "t.csv")
    assert exc.value.line == 1
    assert message(exc).startswith(
        "t.csv, line 1: not a GENESIS flat file: missing columns value, value_variable_code, "
        "1_variable_attribute_code ("
    )


def test_ffcsv_error_inside_zip_names_member():
    broken = FFCSV + b"21111;Schulen;JAHR;Jahr;2023;KREISE;Kreise;05113;Essen;1;Anzahl;B;S;x;y\n"
    with pytest.raises(DeliveryFormatError) as exc:
        read_ffcsv(make_zip({"t_1_flat.csv": broken}), "t.zip")
    assert message(exc).startswith(
        "t.zip [t_1_flat.csv], line 3: the row has 15 cells but the header has 13 columns"
    )


def test_ffcsv_with_commas_is_a_wrong_delimiter():
    with pytest.raises(DeliveryFormatError) as exc:
        read_ffcsv(FFCSV.replace(b";", b","), "t.csv")
    assert message(exc) == (
        "t.csv, line 1: only one column found (expected columns separated by ';'; "
        "found ',' — wrong delimiter?)"
    )


# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------

GERMAN = (
    "Schulnummer;Schulname;Ort\n"
    "100011;Gesamtschule Walder Straße;Mülheim an der Ruhr\n"
    "100012;Gymnasium Am Friedenspark;Köln\n"
    "100013;Förderschule Übach;Ärzte Öl Größe\n"
)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "cp850"])
def test_same_text_in_every_encoding_decodes_identically(encoding):
    text, used = decode(GERMAN.encode(encoding), "f.csv")
    assert text == GERMAN
    assert used == encoding


@pytest.mark.parametrize("encoding", ["cp1252", "cp850"])
def test_code_page_chosen_by_plausible_german_without_undefined_bytes(encoding):
    # no 'ü' here: cp850's ü (0x81) is undefined in cp1252 and would settle it alone
    sample = "Männer;Größe;Straße\nJäger;Bäcker;Öfen\n"
    assert decode(sample.encode(encoding), "f.csv") == (sample, encoding)


def test_utf16_with_bom_decodes():
    text, used = decode(GERMAN.encode("utf-16"), "f.csv")
    assert (text, used) == (GERMAN, "utf-16")


def test_utf16_without_bom_is_named():
    with pytest.raises(DeliveryFormatError, match="UTF-16 text without a byte order mark"):
        decode(GERMAN.encode("utf-16-le"), "f.csv")


def test_line_endings_are_normalised():
    assert decode(b"a;b\r\n1;2\r\n", "f.csv")[0] == "a;b\n1;2\n"
    assert decode(b"a;b\r1;2\r", "f.csv")[0] == "a;b\n1;2\n"


def test_declared_utf8_but_cp1252():
    data = ("a;b\n" * 16 + "1;Müller\n").encode("cp1252")
    with pytest.raises(DeliveryFormatError) as exc:
        decode(data, "f.csv", "utf-8")
    assert message(exc) == (
        "f.csv, line 17: byte 0xfc is not valid utf-8 (expected utf-8 as declared for this "
        "source; found text that looks like cp1252)"
    )
    assert exc.value.line == 17


def test_a_partner_source_takes_both_encodings_excel_writes() -> None:
    """Declared cp1252, Excel's "CSV UTF-8" (a BOM, then UTF-8) is read as UTF-8; declared
    UTF-8, Excel's "CSV (Trennzeichen-getrennt)" (cp1252) is read as cp1252 — with `excel`
    (a csv source's default, `format.excel_encodings`); without it both are refused."""
    text = "Region;Wert\nMünster;1\nGütersloh;2\n"
    as_utf8 = check_text(text.encode("utf-8-sig"), "f.csv", "cp1252", excel=True)
    assert (as_utf8.encoding, as_utf8.read()) == ("utf-8-sig", text)
    as_cp1252 = check_text(("a;b\n" * 16 + "1;Müller\n").encode("cp1252"), "f.csv", "utf-8",
                           excel=True)  # fmt: skip
    assert as_cp1252.encoding == "cp1252" and as_cp1252.read().endswith("\n1;Müller\n")
    with pytest.raises(DeliveryFormatError, match="the text decoded as cp1252 is garbled"):
        check_text(text.encode("utf-8-sig"), "f.csv", "cp1252")
    # what Excel never writes stays refused: UTF-8 without a BOM, DOS cp850
    with pytest.raises(DeliveryFormatError, match="garbled"):
        check_text(text.encode("utf-8"), "f.csv", "cp1252", excel=True)
    with pytest.raises(DeliveryFormatError, match="not valid utf-8"):
        check_text(text.encode("cp850"), "f.csv", "utf-8", excel=True)


def test_excel_encodings_follow_the_registry() -> None:
    """On by default for a partner's CSV; `format: {excel_encodings: false}` turns it off;
    never for the official table downloads."""
    registry = load_registry()
    assert registry["schulabgaenger_abschlussart"].excel_encodings
    assert not registry["itnrw_21111_9k21"].excel_encodings  # genesis_table_csv
    strict = registry["schulabgaenger_abschlussart"].model_copy(update={"excel_encodings": False})
    data = "Schuljahr;Gemeindeschlüssel\n2022/23;05513000\n".encode("utf-8-sig")
    with pytest.raises(DeliveryFormatError, match="garbled"):
        read_payload(strict, data, "f.csv")
    assert read_payload(registry["schulabgaenger_abschlussart"], data, "f.csv").columns == [
        "Schuljahr", "Gemeindeschlüssel"
    ]  # fmt: skip


def test_bom_followed_by_cp1252():
    with pytest.raises(DeliveryFormatError) as exc:
        decode(b"\xef\xbb\xbfRegion;Wert\nM\xfcnster;1\n", "f.csv")
    assert message(exc) == (
        "f.csv, line 2: byte 0xfc is not valid utf-8 (expected utf-8 (the file has a BOM); "
        "found text that looks like cp1252 after a UTF-8 BOM)"
    )


def test_declared_utf16_without_bom():
    assert decode(GERMAN.encode("utf-16-le"), "f.csv", "utf-16-le") == (GERMAN, "utf-16-le")


def test_declared_utf8_with_bom_is_accepted():
    assert decode(GERMAN.encode("utf-8-sig"), "f.csv", "UTF-8") == (GERMAN, "utf-8-sig")


def test_declared_cp1252_but_cp850_byte():
    with pytest.raises(DeliveryFormatError) as exc:
        decode(GERMAN.encode("cp850"), "f.csv", "cp1252")
    assert message(exc) == (
        "f.csv, line 2: byte 0x81 is not valid cp1252 (expected cp1252 as declared for this "
        "source; found text that looks like cp850)"
    )


def test_declared_cp850_but_cp1252_is_garbled():
    with pytest.raises(DeliveryFormatError) as exc:
        decode(GERMAN.encode("cp1252"), "f.csv", "cp850")
    assert message(exc) == (
        "f.csv, line 2: the text decoded as cp850 is garbled, e.g. 'Stra▀e' (expected cp850 "
        "as declared for this source; found text that looks like cp1252)"
    )


def test_declared_cp1252_but_utf8_is_garbled():
    with pytest.raises(DeliveryFormatError) as exc:
        decode(GERMAN.encode("utf-8"), "f.csv", "cp1252")
    assert message(exc) == (
        "f.csv, line 2: the text decoded as cp1252 is garbled, e.g. 'StraÃŸe' (expected cp1252 "
        "as declared for this source; found text that looks like utf-8)"
    )


def test_declared_encoding_matching_is_fine():
    assert decode(GERMAN.encode("cp850"), "f.csv", "cp850") == (GERMAN, "cp850")
    assert decode(GERMAN.encode("cp1252"), "f.csv", "windows-1252") == (GERMAN, "cp1252")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "f.csv: the file is empty (expected a text file with a header line; found 0 bytes)"),
        (
            b" \r\n\n",
            "f.csv: the file is empty (expected a text file with a header line; "
            "found only whitespace)",
        ),
        (
            b"a;b\n1;\x00\x00\x00\x012",
            "f.csv, line 2: the file is binary, not text (expected CSV text; "
            "found a NUL byte at byte offset 6)",
        ),
        (
            b"a;b\n" + bytes(range(1, 9)) * 20,
            "f.csv, line 2: the file is binary, not text (expected CSV text; found 160 control "
            "bytes in the first 164 bytes, the first is 0x01 at byte offset 4)",
        ),
    ],
)
def test_not_text(data, expected):
    with pytest.raises(DeliveryFormatError) as exc:
        read_csv(data, "f.csv")
    assert message(exc) == expected


def test_zip_where_csv_expected():
    with pytest.raises(DeliveryFormatError) as exc:
        read_csv(make_zip({"a.csv": b"a;b\n"}), "lieferung.csv")
    assert message(exc) == (
        "lieferung.csv: the file is a zip archive, not a CSV text file "
        "(expected CSV text — unzip the delivery first; found the zip signature 'PK')"
    )


def test_xlsx_where_csv_expected():
    xlsx = make_zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"})
    with pytest.raises(DeliveryFormatError, match=r"Excel workbook \(\.xlsx\)"):
        read_csv(xlsx, "lieferung.csv")


def test_zip_given_to_genesis_table_reader():
    with pytest.raises(DeliveryFormatError, match=r"^t\.csv: the file is a zip archive"):
        read_genesis_table(make_zip({"a.csv": b"x"}), "t.csv")


# --------------------------------------------------------------------------------------------
# Delimiters
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [";", ",", "\t", "|"])
def test_detect_delimiter(delimiter):
    assert detect_delimiter(delimiter.join(["Region", "Jahr", "Anzahl"])) == delimiter


def test_detect_delimiter_ignores_quoted_and_uses_data_lines():
    assert detect_delimiter('"Schulen, gesamt";"Schüler, gesamt"') == ";"
    # by the header alone ',' gives more cells; the data lines settle it
    assert detect_delimiter("Name;Schüler, weiblich, deutsch", ["Essen;12", "Bochum;7"]) == ";"
    assert detect_delimiter("Nur eine Spalte") is None


# --------------------------------------------------------------------------------------------
# Partner CSV
# --------------------------------------------------------------------------------------------


def test_nrw_schuldaten_sep_line_and_trailing_delimiter():
    name = "nrw_schuldaten_2021.csv"
    table = read_csv(official(name), name)
    assert table.encoding == "utf-8"
    assert table.delimiter == ";"
    assert table.metadata == {"sep_line": "1"}
    assert table.header_line == 2
    assert len(table.columns) == 23  # the trailing ';' of the header adds no column
    assert table.columns[0] == "Schulnummer"
    assert table.columns[-1] == "UTMHochwert"
    assert len(table.rows) == 5507
    first = table.rows[0]
    assert first.line == 3
    assert first.cells[:3] == ("100000", "25", "Studienkolleg des Ökumenischen")
    assert first.cells[table.columns.index("Gemeindeschluessel")] == "05911000"
    assert table.rows[-1].line == 5509


def test_nrw_schulsozialindex_cp850_crlf():
    name = "nrw_schulsozialindex_sj_25_26.csv"
    table = read_csv(official(name), name)
    assert table.encoding == "cp850"
    assert table.columns == [
        "Schulnummer",
        "Kurzbezeichnung",
        "Bezirksregierung",
        "Kreis",
        "Gemeinde",
        "Sozialindexstufe",
    ]
    assert table.rows[0] == RawRow(
        2, ("100011", "Haan, GE Walder Straße", "BR Düsseldorf", "Kreis Mettmann", "Haan", "4")
    )
    assert len(table.rows) == 4157
    assert table.rows[-1].line == 4158


def test_sep_line_with_crlf_and_comma():
    table = read_csv(b"sep=,\r\nRegion,Wert\r\nEssen,5\r\n", "f.csv")
    assert table.delimiter == ","
    assert table.header_line == 2
    assert table.rows == [RawRow(3, ("Essen", "5"))]


def test_sep_line_contradicting_declared_delimiter():
    with pytest.raises(DeliveryFormatError) as exc:
        read_csv(b"sep=;\nRegion;Wert\n", "f.csv", delimiter=",")
    assert message(exc) == (
        "f.csv, line 1: the first line says sep=; but the source declares the delimiter ',' "
        "(expected columns separated by ','; found sep=;)"
    )


def test_quoted_cells_with_delimiters_quotes_and_newlines():
    data = (
        b"Region;Name;Wert\n"
        b'Essen;"Schule ""Am Park""; Altbau";1\n'
        b'Bochum;"zwei\r\nZeilen";2\n'
        b'Hagen;normal;"3;4"\n'
    )
    table = read_csv(data, "f.csv")
    assert table.rows == [
        RawRow(2, ("Essen", 'Schule "Am Park"; Altbau', "1")),
        RawRow(3, ("Bochum", "zwei\nZeilen", "2")),
        RawRow(5, ("Hagen", "normal", "3;4")),
    ]


def test_unclosed_quote():
    with pytest.raises(DeliveryFormatError) as exc:
        read_csv(b'Region;Name\nEssen;ok\nBochum;"offen\nHagen;x\n', "f.csv")
    assert message(exc) == (
        "f.csv, line 3: a quoted cell starting on this line is never closed "
        '(expected a closing quote ("); found the end of the file)'
    )


def test_text_after_closing_quote():
    with pytest.raises(DeliveryFormatError) as exc:
        read_csv(b'Region;Name\nEssen;"Am Park" Altbau\n', "f.csv")
    assert message(exc).startswith("f.csv, line 2: malformed quoting: ';' expected after '\"'")


def test_trailing_cells_short_rows_and_blank_lines():
    data = b"Region;Wert;\n\nEssen;5;\nBochum;6;;;\n;;\n   \nHagen\nHerne;7\n"
    table = read_csv(data, "f.csv")
    assert table.columns == ["Region", "Wert"]
    assert table.rows == [
        RawRow(3, ("Essen", "5")),
        RawRow(4, ("Bochum", "6")),
        RawRow(7, ("Hagen", "")),  # padded: the mapping layer reports the missing value
        RawRow(8, ("Herne", "7")),
    ]


def test_too_many_cells():
    with pytest.raises(DeliveryFormatError) as exc:
        read_csv(b"Region;Wert\nEssen;5\nBochum;6;;zu viel\n", "f.csv")
    assert message(exc) == (
        "f.csv, line 3: the row has 4 cells but the header has 2 columns "
        "(expected at most 2 cells; found 'zu viel' in cell 4)"
    )
    assert exc.value.line == 3


def test_duplicate_header():
    with pytest.raises(DeliveryFormatError) as exc:
        read_csv(b"Region;Anzahl;Jahr;Anzahl\nEssen;1;2022;2\n", "f.csv")
    assert message(exc) == (
        "f.csv, line 1, column 'Anzahl': columns 2 and 4 have the same name "
        "(expected unique column names)"
    )


def test_empty_header_cell():
    with pytest.raises(DeliveryFormatError) as exc:
        read_csv(b"Region;;Wert\nEssen;1;2\n", "f.csv")
    assert message(exc) == (
        "f.csv, line 1: header cell 2 is empty (expected a name for every column; "
        "found an empty cell after the column 'Region')"
    )


def test_header_stripped_data_not():
    data = "\ufeff Region ;\tWert\u00a0\n  Essen ; 5 \n".encode("utf-8")
    table = read_csv(data, "f.csv", encoding="utf-8")
    assert table.columns == ["Region", "Wert"]
    assert table.rows == [RawRow(2, ("  Essen ", " 5 "))]


def test_utf8_bom_read_as_cp1252_is_stripped_from_header():
    data = "\ufeffRegion;Wert\nEssen;5\n".encode()
    table = read_csv(data, "f.csv", encoding="cp1252")
    assert table.columns == ["Region", "Wert"]
    # with German text after it the BOM says the file is UTF-8, not cp1252
    with pytest.raises(DeliveryFormatError, match="found text that looks like utf-8"):
        read_csv("\ufeffRegion;Wert\nMünster;5\n".encode(), "f.csv", encoding="cp1252")


def test_header_only_is_no_error():
    table = read_csv(b"Region;Wert\n", "f.csv")
    assert table.columns == ["Region", "Wert"]
    assert table.rows == []


def test_wrong_declared_delimiter():
    with pytest.raises(DeliveryFormatError) as exc:
        read_csv(b"Region,Jahr,Anzahl\nEssen,2022,5\n", "schulabgaenger.csv", delimiter=";")
    assert message(exc) == (
        "schulabgaenger.csv, line 1: only one column found (expected columns separated by "
        "';'; found ',' — wrong delimiter?)"
    )
    assert (exc.value.line, exc.value.column) == (1, None)


def test_no_delimiter_at_all():
    with pytest.raises(DeliveryFormatError) as exc:
        read_csv(b"Region\nEssen\n", "f.csv")
    assert message(exc) == (
        "f.csv, line 1: only one column found in the header "
        "(expected columns separated by ';', ',', tab or '|'; found 'Region')"
    )


def test_data_rows_with_another_delimiter_than_the_header():
    with pytest.raises(DeliveryFormatError) as exc:
        read_csv(b"Region;Wert\nEssen,5\nBochum,6\n", "f.csv", delimiter=";")
    assert message(exc) == (
        "f.csv, line 2: every data row is a single cell "
        "(expected cells separated by ';' as in the header; found ',' — wrong delimiter?)"
    )


def test_auto_delimiter_with_decimal_commas():
    table = read_csv("Region;Quote\nEssen;1,5\nBochum;2,25\n".encode("cp1252"), "f.csv")
    assert table.delimiter == ";"
    assert table.rows[1] == RawRow(3, ("Bochum", "2,25"))


def test_tab_and_pipe():
    assert read_csv(b"a\tb\n1\t2\n", "f.tsv").rows == [RawRow(2, ("1", "2"))]
    assert read_csv(b"a|b\n1|2\n", "f.txt").rows == [RawRow(2, ("1", "2"))]


def test_declared_header_line_skips_a_preamble():
    data = b"Schulabgaenger 2023\nQuelle: Stadt Essen\n\nRegion;Wert\nEssen;5\n"
    table = read_csv(data, "f.csv", header_line=4)
    assert table.header_line == 4
    assert table.columns == ["Region", "Wert"]
    assert table.rows == [RawRow(5, ("Essen", "5"))]
    with pytest.raises(DeliveryFormatError, match=r"^f\.csv, line 3: the declared header line is"):
        read_csv(data, "f.csv", header_line=3)


def test_py_strip_knows_every_character_python_strips() -> None:
    from sources.readers.body import PY_WHITESPACE, ensure_macros

    assert "".join(chr(c) for c in range(0x110000) if chr(c).isspace()) == PY_WHITESPACE
    conn = duckdb.connect()
    ensure_macros(conn)
    cases = ("  a b ", "\u3000x\xa0", "\u200bzero\u200b", "", "\t\n", " ", "x", " \u0301",
             "e\u0301 ", "\U0001f600 ", " \U0001f1e9\U0001f1ea", "\u2028a\u2029")  # fmt: skip
    for text in cases:
        assert conn.execute("SELECT py_strip(?)", [text]).fetchone()[0] == text.strip()


def test_ffcsv_quality_flags_are_read_with_their_value() -> None:
    """`quality=on`: the flag of `value_q` is written into the value as the printed table
    writes it, so that value and flag are one cell; an unknown flag makes it unreadable."""
    from sources.symbols import CellError, parse_cell

    header = (
        "statistics_code;time_code;time;1_variable_code;1_variable_attribute_code;"
        "value;value_unit;value_variable_code;value_q"
    )
    lines = [header] + [
        f"12211;JAHR;2019;KREISE;05113;{value};1000;LBFMZ01;{flag}"
        for value, flag in (("166", "e"), ("14", "()"), ("-", ""), ("/", ""), ("7", "z"))
    ]
    with duckdb.connect() as conn:
        table = read_ffcsv(("\n".join(lines) + "\n").encode(), "q.csv", conn=conn)
        at = table.columns.index("value")
        cells = [
            c
            for (c,) in conn.execute(f"SELECT c{at} FROM {table.relation} ORDER BY line").fetchall()
        ]
    assert cells == ["166 e", "(14)", "-", "/", "7 z"]
    assert [parse_cell(c) for c in cells[:4]] == [
        (166.0, "estimated"), (14.0, "unreliable"), (0.0, "ok"), (None, "unreliable")
    ]  # fmt: skip
    with pytest.raises(CellError) as unknown:
        parse_cell(cells[4])
    assert str(unknown.value) == (
        "'7 z' is not a number or a statistical symbol (expected e.g. 1234,5, '-', '.', 'x', "
        "'/', '...')"
    )
