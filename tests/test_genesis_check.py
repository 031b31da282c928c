"""`bildungsmonitor genesis-metadata --check SOURCE`: a registry YAML against the live structure
of its table, through the GENESIS client against a loopback replay; every mismatch listed, exit
code 1 when there is any.

The students table of issue 12 (21311-01-01-4-B: students by Kreis, sex, nationality and
subject group, WS 2023/24) is replayed from answers shaped like the live service's; the YAML the
production profile had before issue 12 differs from it in the five places the issue lists. The
value variables and units are checked against the real recording of 52411-02-01-4.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from pipelines.cli import main
from sources.registry import REGISTRIES
from tests.genesis_replay import GenesisReplayServer, Interaction, load_cassette, make_zip

pytestmark = pytest.mark.slow  # loopback replay servers

USER, SECRET = "bm-user-7f3a", "bm-secret-91c2"
BASE = "/genesisws/rest/2020/"
TABLE = "21311-01-01-4-B"
FLAT_HEADER = (
    "statistics_code;statistics_label;time_code;time_label;time;"
    "1_variable_code;1_variable_label;1_variable_attribute_code;1_variable_attribute_label;"
    "2_variable_code;2_variable_label;2_variable_attribute_code;2_variable_attribute_label;"
    "3_variable_code;3_variable_label;3_variable_attribute_code;3_variable_attribute_label;"
    "4_variable_code;4_variable_label;4_variable_attribute_code;4_variable_attribute_label;"
    "value;value_unit;value_variable_code;value_variable_label"
)
LABELS = {"GESM": "männlich", "GESW": "weiblich", "NATA": "Ausländer", "NATD": "Deutsche",
          "HS-FG2-01": "Geisteswissenschaften", "HS-FG2-02": "Sport",
          "INSGESAMT": "Insgesamt"}  # fmt: skip

# the production YAML of 21311-01-01-4 before issue 12: written from the published layout
BEFORE_ISSUE_12 = {
    "id": "regionalstatistik_21311_01_01_4",
    "title": "Studierende an Hochschulen nach Geschlecht und Nationalität – Kreise (21311-01-01-4)",
    "partner": "Statistische Ämter des Bundes und der Länder – Regionalstatistik (GENESIS-Online)",
    "licence": "Datenlizenz Deutschland – Namensnennung – Version 2.0",
    "standing": "official",
    "kind": "genesis_api",
    "api": {"base_url": "", "table": "21311-01-01-4",
            "credentials": {"username_env": "REGIONALSTATISTIK_USERNAME",
                            "password_env": "REGIONALSTATISTIK_PASSWORD"},
            "parameters": {"area": "all", "startyear": "2012", "regionalvariable": "KREISE",
                           "language": "de", "compress": "false", "quality": "off"}},
    "coverage": "DG",
    "mapping": {
        "region": {"column": "variable:KREISE", "by": "key"},
        "school_year": {"column": "time", "format": "start_year"},
        "sex": {"column": "variable:GES",
                "values": {"GESM": "male", "GESW": "female", "": "total"}},
        "nationality": {"column": "variable:NAT",
                        "values": {"NATA": "foreign", "NATD": "german", "": "total"}},
        "combine_rows": True,
        "derive_totals": ["sex", "nationality"],
        "values": {"value": "students_total"},
    },
}  # fmt: skip


def _answer(index: int, path: str, fields: dict, body: bytes, ctype: str) -> Interaction:
    return Interaction(index, "POST", BASE, path, fields, 200, "OK", ctype, None, body)


def _status(code: int, content: str, **more) -> bytes:
    return json.dumps(
        {"Status": {"Code": code, "Content": content, "Type": "Information"}, **more},
        ensure_ascii=False,
    ).encode()


def students_table() -> tuple[Interaction, ...]:
    """What the service answers about 21311-01-01-4(-B): no table of the short name, the -B
    table in the catalogue, its metadata (sex and nationality nested under the semester, the
    subject group under the Kreis) and its flat file."""
    lines = [FLAT_HEADER]
    for kreis, name in (
        ("05113", "Essen, kreisfreie Stadt"),
        ("05911", "Bochum, kreisfreie Stadt"),
    ):
        for sex in ("GESM", "GESW", "INSGESAMT"):
            for nationality in ("NATA", "NATD", "INSGESAMT"):
                for group in ("HS-FG2-01", "HS-FG2-02", "INSGESAMT"):
                    lines.append(
                        f"21311;Statistik der Studenten;SEMEST;Semester;2023-10P6M;"
                        f"KREISE;Kreise und kreisfreie Städte;{kreis};{name};"
                        f"GESINS;Geschlecht;{sex};{LABELS[sex]};"
                        f"NAT01;Nationalität;{nationality};{LABELS[nationality]};"
                        f"HS-FG2;Fächergruppe;{group};{LABELS[group]};"
                        f"{1000 + 7 * len(lines)};Anzahl;HS-W02;Studierende"
                    )
    flat = ("\ufeff" + "\n".join(lines) + "\n").encode("utf-8")

    def variable(code: str, content: str, children: list | None = None) -> dict:
        return {"Code": code, "Content": content, "Type": "Merkmal", "Structure": children}

    metadata = {
        "Code": TABLE,
        "Content": "Studierende nach Geschlecht, Nationalität und Fächergruppen - Semester - "
        "regionale Tiefe: Kreise und krfr. Städte",
        "Time": {"From": "WS 2012/13", "To": "WS 2023/24"},
        "Structure": {
            "Head": {"Code": "21311", "Content": "Statistik der Studenten", "Type": "Statistik",
                     "Structure": [variable("HS-W02", "Studierende")]},
            "Columns": [variable("SEMEST", "Semester", [variable("GESINS", "Geschlecht"),
                                                        variable("NAT01", "Nationalität")])],
            "Rows": [variable("KREISE", "Kreise und kreisfreie Städte",
                              [variable("HS-FG2", "Fächergruppe")])],
        },
        "Updated": "12.03.2025 10:02:11h",
    }  # fmt: skip
    return (
        _answer(0, "metadata/table", {"name": "21311-01-01-4"},
                _status(104, "Es gibt keine Objekte zum angegebenen Selektionskriterium"),
                "application/json"),
        _answer(1, "catalogue/tables", {"selection": "21311-01-01-4*"},
                _status(0, "erfolgreich", List=[{"Code": TABLE, "Content": metadata["Content"],
                                                 "Time": "WS 2012/13 - WS 2023/24"}]),
                "application/json"),
        _answer(2, "metadata/table", {"name": TABLE},
                _status(0, "erfolgreich", Object=metadata), "application/json"),
        _answer(3, "data/tablefile", {"name": TABLE},
                make_zip({f"{TABLE}_1773175000000_de_flat.csv": flat}), "application/zip"),
    )  # fmt: skip


def check(registry: Path, source_id: str, capsys) -> tuple[int, list[str]]:
    code = main(["genesis-metadata", "--check", source_id, "--registry", str(registry)])
    return code, capsys.readouterr().out.splitlines()


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("REGIONALSTATISTIK_USERNAME", USER)
    monkeypatch.setenv("REGIONALSTATISTIK_PASSWORD", SECRET)
    # the CLI passes --registry on as this variable: set here, so that it is undone after
    monkeypatch.setenv("BILDUNGSMONITOR_REGISTRY_DIR", str(tmp_path))
    return tmp_path


def test_the_five_mismatches_of_the_students_table(credentials: Path, capsys) -> None:
    with GenesisReplayServer(students_table(), username=USER, password=SECRET) as server:
        entry = {**BEFORE_ISSUE_12, "api": {**BEFORE_ISSUE_12["api"], "base_url": server.base_url}}
        (credentials / "regionalstatistik_21311_01_01_4.yaml").write_text(
            yaml.safe_dump(entry, allow_unicode=True), encoding="utf-8"
        )
        code, lines = check(credentials, "regionalstatistik_21311_01_01_4", capsys)
    file = "regionalstatistik_21311_01_01_4.yaml"
    assert code == 1
    assert lines == [
        # 1. the table's name
        f"{file}: table: the service has no table 21311-01-01-4; it has 21311-01-01-4-B "
        "(Studierende nach Geschlecht, Nationalität und Fächergruppen - Semester - regionale "
        "Tiefe: Kreise und krfr. Städte) — set api.table: 21311-01-01-4-B",
        # 2. the variables' codes, 3. their totals (compared with the variables meant)
        f"{file}: variable: mapping.sex.column: the table has no variable GES (it has KREISE, "
        "GESINS, NAT01, HS-FG2) — did you mean GESINS?",
        f"{file}: codes: mapping.sex.values: GESINS has no code '' (empty); INSGESAMT, its "
        "total, is not mapped (its codes: GESM, GESW, INSGESAMT)",
        f"{file}: variable: mapping.nationality.column: the table has no variable NAT (it has "
        "KREISE, GESINS, NAT01, HS-FG2) — did you mean NAT01?",
        f"{file}: codes: mapping.nationality.values: NAT01 has no code '' (empty); INSGESAMT, "
        "its total, is not mapped (its codes: NATA, NATD, INSGESAMT)",
        # 4. subject groups added up into their own total
        f"{file}: summed: HS-FG2 (Fächergruppe) has its own total INSGESAMT: combine_rows would "
        "add it to its parts and count every figure twice — keep the total: filters: "
        '{"variable:HS-FG2": "INSGESAMT"}',
        # 5. the time format (SEMEST)
        f"{file}: time: mapping.school_year.format start_year does not read the table's time "
        "(SEMEST: '2023-10P6M') — it reads as semester: 2023-10P6M is school year 2023/24",
        f"7 mismatches between {file} and the live table 21311-01-01-4-B",
    ]


def test_the_production_entry_matches_the_students_table(credentials: Path, capsys) -> None:
    production = (REGISTRIES / "production" / "regionalstatistik_21311_01_01_4.yaml").read_text(
        encoding="utf-8"
    )
    with GenesisReplayServer(students_table(), username=USER, password=SECRET) as server:
        (credentials / "regionalstatistik_21311_01_01_4.yaml").write_text(
            production.replace("https://www.regionalstatistik.de/genesisws/rest/2020",
                               server.base_url),
            encoding="utf-8",
        )  # fmt: skip
        code, lines = check(credentials, "regionalstatistik_21311_01_01_4", capsys)
    assert (code, lines) == (0, [
        "regionalstatistik_21311_01_01_4.yaml matches the live table 21311-01-01-4-B "
        "(54 lines: 4 variables, 1 value variable, time SEMEST)"
    ])  # fmt: skip


def test_value_variables_and_units_against_a_real_recording(credentials: Path, capsys) -> None:
    """52411-02-01-4 (insolvencies): three value variables in two units."""
    load_cassette("52411-02-01-4")
    with GenesisReplayServer("52411-02-01-4", username=USER, password=SECRET) as server:
        entry = {
            **{k: BEFORE_ISSUE_12[k] for k in ("partner", "licence", "standing", "kind")},
            "id": "insolvenzen", "title": "Insolvenzen (52411-02-01-4)",
            "api": {"base_url": server.base_url, "table": "52411-02-01-4",
                    "credentials": BEFORE_ISSUE_12["api"]["credentials"],
                    "parameters": {"area": "all", "language": "de"}},
            "mapping": {
                "region": {"column": "variable:KREISE", "by": "key"},
                "school_year": {"column": "time", "format": "start_year"},
                "filters": {"value_variable_code": ["ISV006", "ISV007", "FOR002"],
                            "variable:ISVAT3": ""},
                "values": {"value": "insolvency_proceedings_companies"},
            },
        }  # fmt: skip
        (credentials / "insolvenzen.yaml").write_text(yaml.safe_dump(entry, allow_unicode=True))
        code, lines = check(credentials, "insolvenzen", capsys)
    assert code == 1
    assert lines == [
        "insolvenzen.yaml: value_variable: the table has no value variable ISV007 (it has "
        "ISV006 Beantragte Insolvenzverfahren (Unternehmen), ISVNW1 Arbeitnehmer/-innen, "
        "FOR002 voraussichtliche Forderungen (Unternehmen)) — did you mean ISV006?",
        "insolvenzen.yaml: unit: value variable FOR002 (voraussichtliche Forderungen "
        "(Unternehmen)) is stated in Tsd. EUR; measure insolvency_proceedings_companies is in "
        "count",
        "2 mismatches between insolvenzen.yaml and the live table 52411-02-01-4",
    ]


def test_a_table_that_is_not_regular_is_said_to_be(credentials: Path, capsys) -> None:
    """91111-0001 states 143 indicators in one value variable, each in its own unit: the
    starting YAML says what keeps it from loading, on stderr and in its NOTE lines."""
    with GenesisReplayServer("91111-0001", username=USER, password=SECRET) as server:
        code = main(["genesis-metadata", "91111-0001", "--yaml", "--base-url", server.base_url])
    out, err = capsys.readouterr()
    note = (
        "no value variable of the table has a measure in schemas/measures.yaml: INDIKA "
        "(Indikatoren [jew. ME])"
    )
    assert code == 0
    assert f"not regular: {note} — edit the entry before using it" in err.splitlines()
    assert f"# NOTE: {note}" in out.splitlines()
    assert "    value: TODO" in out.splitlines()
    assert 'partner: "Statistisches Bundesamt (Destatis) – GENESIS-Online"' in out.splitlines()


def test_a_table_the_service_does_not_know(credentials: Path, capsys) -> None:
    answers = (
        _answer(0, "metadata/table", {"name": "99999-01-01-4"},
                _status(104, "Es gibt keine Objekte zum angegebenen Selektionskriterium"),
                "application/json"),
        _answer(1, "catalogue/tables", {"selection": "99999-01-01-4*"},
                _status(104, "Es gibt keine Objekte zum angegebenen Selektionskriterium"),
                "application/json"),
    )  # fmt: skip
    with GenesisReplayServer(answers, username=USER, password=SECRET) as server:
        entry = {**BEFORE_ISSUE_12, "api": {**BEFORE_ISSUE_12["api"], "base_url": server.base_url,
                                            "table": "99999-01-01-4"}}  # fmt: skip
        (credentials / "regionalstatistik_21311_01_01_4.yaml").write_text(
            yaml.safe_dump(entry, allow_unicode=True), encoding="utf-8"
        )
        code, lines = check(credentials, "regionalstatistik_21311_01_01_4", capsys)
    assert code == 1
    assert lines == [
        "regionalstatistik_21311_01_01_4.yaml: table: the service has no table 99999-01-01-4 "
        "(99999-01-01-4: GENESIS status 104 (Information): Es gibt keine Objekte zum "
        "angegebenen Selektionskriterium — no objects for this selection (is the table in this "
        "database, are the parameters right?) [POST metadata/table])"
    ]


def test_genesis_metadata_without_a_table(credentials: Path, capsys) -> None:
    assert main(["genesis-metadata"]) == 2
    assert capsys.readouterr().out == (
        "name a table (genesis-metadata TABLE), --source ID or --check ID\n"
    )


def test_the_starting_yaml_of_the_students_table_is_the_production_mapping(
    credentials: Path, capsys
) -> None:
    from sources.registry import load_registry, load_source

    with GenesisReplayServer(students_table(), username=USER, password=SECRET) as server:
        assert main(["genesis-metadata", TABLE, "--yaml", "--base-url", server.base_url]) == 0
    (credentials / "genesis_21311_01_01_4_b.yaml").write_text(capsys.readouterr().out)
    started = load_source(credentials / "genesis_21311_01_01_4_b.yaml").measures
    production = load_registry(REGISTRIES / "production")["regionalstatistik_21311_01_01_4"]
    written = production.measures
    assert started.region_columns == written.region_columns == ("variable:KREISE",)
    assert (started.year_column, started.year_format) == ("time", "semester")
    assert (written.year_column, written.year_format) == ("time", "semester")
    assert started.sex == written.sex and started.nationality == written.nationality
    assert started.filters == {"variable:HS-FG2": ("INSGESAMT",)}
    assert written.filters["variable:HS-FG2"] == ("INSGESAMT",)
    assert started.values == written.values and not started.combine_rows
