"""`bildungsmonitor genesis-metadata`: the whole nested structure of a GENESIS table, each
variable with the role a mapping gives it — checked against what the table's own flat file
says, for every real recording of ../shared/data/genesis-recordings that has both."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest

from sources.fetch import describe_genesis_table
from tests.genesis_replay import RECORDINGS, load_cassette

NAMES = sorted(p.stem for p in RECORDINGS.glob("*.yaml")) if RECORDINGS.exists() else []


def _metadata(name: str) -> dict | None:
    for interaction in load_cassette(name):
        if interaction.path == "metadata/table" and interaction.status == 200:
            body = json.loads(interaction.body)
            if body.get("Object"):
                return body["Object"]
    return None


def _flat_file(name: str) -> list[dict[str, str]] | None:
    for interaction in load_cassette(name):
        if interaction.path not in ("data/tablefile", "data/resultfile"):
            continue
        body = interaction.body
        if body.startswith(b"PK\x03\x04"):
            archive = zipfile.ZipFile(io.BytesIO(body))
            body = archive.read(archive.namelist()[0])
        text = body.decode("utf-8-sig", errors="replace")
        if "value_variable_code" in text.splitlines()[0]:
            return list(csv.DictReader(io.StringIO(text), delimiter=";"))
    return None


@pytest.mark.parametrize("name", NAMES)
def test_every_variable_of_the_structure_with_its_role(name: str) -> None:
    metadata, rows = _metadata(name), _flat_file(name)
    if metadata is None or rows is None:
        pytest.skip(f"{name}: the recording has no table metadata and flat file both")
    text = describe_genesis_table(metadata, rows)
    structure, listing = text.split("\n  in the flat file:\n")
    described = {
        line.split(":", 1)[0].strip(): line.rsplit("[", 1)[1].rstrip("]")
        for line in structure.splitlines()[2:]
    }
    # every variable of the nested structure is listed, however deep
    codes, pending = [], list((metadata.get("Structure") or {}).values())
    while pending:
        entry = pending.pop()
        for item in entry if isinstance(entry, list) else [entry]:
            if isinstance(item, dict):
                codes.append(str(item["Code"]))
                pending.append(item.get("Structure") or [])
    assert set(codes) == set(described), text
    # each with the role the flat file gives it, and the flat file's codes, labels and units
    for row in rows:
        for code, role in (
            (row["time_code"], "time"),
            (row["value_variable_code"], "value_variable_code"),
            *((c, f"variable:{c}") for k, c in row.items()
              if k[:1].isdigit() and k.endswith("_variable_code") and c),
        ):  # fmt: skip
            if code in described:
                assert described[code].endswith(f"; {role}"), (code, text)
        value_line = f"value_variable_code {row['value_variable_code']}: "
        assert value_line in listing and row["value_unit"] in listing, text


def test_a_variable_nested_under_the_time_variable() -> None:
    """12411-01-01-4: sex sits under the Stichtag in the columns, the value variable under the
    statistic in the head — both were missing before, and the time listed as a value."""
    text = describe_genesis_table(_metadata("12411-01-01-4"), _flat_file("12411-01-01-4"))
    lines = text.splitlines()
    assert lines[2:8] == [
        "  12411: Fortschreibung des Bevölkerungsstandes [statistic]",
        "    BEVSTD: Bevölkerungsstand [head; value_variable_code]",
        "  STAG: Stichtag [columns; time]",
        "    GES: Geschlecht [columns, within STAG; variable:GES]",
        "  KREISE: Kreise und kreisfreie Städte [rows; variable:KREISE]",
        "  in the flat file:",
    ]
    assert (
        "    variable:GES Geschlecht: (empty) = Insgesamt; GESM = männlich; GESW = weiblich"
        in lines
    )
    assert "    time (STAG): 2024-12-31 (1 value)" in lines
