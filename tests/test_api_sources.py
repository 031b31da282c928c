"""Live API sources end to end: `bildungsmonitor run` against GENESIS replay servers and a
paginated JSON API on loopback — values in the warehouse, clear errors, nothing fetched twice,
the last good data kept when a fetch fails, and the credentials nowhere.

The GENESIS servers replay the real recordings of ../shared/data/genesis-recordings.
"""

from __future__ import annotations

import csv
import io
import os
from collections import Counter, defaultdict
from pathlib import Path

import duckdb
import pytest
import yaml

from tests.conftest import REPO, CliRun
from tests.genesis_replay import (
    SYMBOLS,
    Fault,
    GenesisReplayServer,
    PagedJsonServer,
    flat_rows,
    recorded_zip,
)

pytestmark = pytest.mark.slow

USER, SECRET = "bm-user-7f3a", "bm-secret-91c2"
FAST = {"timeout_seconds": 5, "attempts": 2, "poll_interval_seconds": 0.001}


def genesis_source(source_id: str, server: GenesisReplayServer, table: str, mapping: dict,
                   parameters: dict | None = None) -> dict:  # fmt: skip
    return {
        "id": source_id,
        "title": f"GENESIS table {table} (replayed)",
        "partner": "Statistische Ämter des Bundes und der Länder",
        "licence": "Datenlizenz Deutschland – Namensnennung – Version 2.0",
        "standing": "official",
        "kind": "genesis_api",
        "api": {
            "base_url": server.base_url,
            "table": table,
            "credentials": {"username_env": "TEST_GENESIS_USERNAME",
                            "password_env": "TEST_GENESIS_PASSWORD"},
            "parameters": {"area": "all", "language": "de", **(parameters or {})},
            **FAST,
        },
        "mapping": mapping,
    }  # fmt: skip


def day_care_records() -> list[dict]:
    """What a youth office's API would serve: children under 3 in day care per municipality."""
    gemeinden = [r for r in csv.DictReader((REPO / "schemas/regions.csv").open(encoding="utf-8"))
                 if r["level"] == "gemeinde" and r["land_code"] == "05"
                 and r["is_current"] == "true"]  # fmt: skip
    return [
        {"ags": g["region_code"], "stichtag": f"{year}-03-01", "kinder_u3": 100 + i + year % 7}
        for year in (2021, 2022, 2023)
        for i, g in enumerate(gemeinden)
    ]


# the Urban Institute's Education Data Portal writes -1 missing, -2 not applicable, -3
# suppressed into numeric fields
URBAN_CODES = {-1: "not_available", -2: "not_applicable", -3: "suppressed"}


def urban_records() -> list[dict]:
    """265 records in the style of the Education Data Portal, every 20th-ish one a code."""
    gemeinden = [
        r["region_code"]
        for r in csv.DictReader((REPO / "schemas/regions.csv").open(encoding="utf-8"))
        if r["level"] == "gemeinde" and r["land_code"] == "05" and r["is_current"] == "true"
    ]
    return [
        {"ags": code, "year": 2022,
         "enrollment": {3: -1, 7: -2, 11: -3}.get(i % 20, 40 + (i * 13) % 300)}
        for i, code in enumerate(gemeinden[:265])
    ]  # fmt: skip


@pytest.fixture(scope="module")
def servers():
    with (
        GenesisReplayServer("11111-02-01-4", username=USER, password=SECRET) as kreise,
        GenesisReplayServer("AI-N-01-2-5", username=USER, password=SECRET) as atlas,
        GenesisReplayServer("12531-0043", username=USER, password=SECRET) as refugees,
        GenesisReplayServer("61111-0021", username=USER, password=SECRET) as broken,
        PagedJsonServer(day_care_records(), path="/api/v1/kita/", token=SECRET) as json_api,
        PagedJsonServer(
            urban_records(),
            path="/api/v1/schools/enrollment/",
            token=SECRET,
            token_prefix="Bearer ",
            page_size_param="per_page",
        ) as urban,
    ):
        urban.faults.append(Fault.too_many_requests("0.05", times=1))  # one 429, Retry-After
        yield {"kreise": kreise, "atlas": atlas, "refugees": refugees, "broken": broken,
               "json": json_api, "urban": urban}  # fmt: skip


@pytest.fixture(scope="module")
def registry(servers, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("registry")
    sources = [
        genesis_source("rs_gemeinden", servers["kreise"], "11111-02-01-4", {
            "region": {"column": "variable:KREISE", "by": "key"},
            "school_year": {"column": "time", "format": "iso_date"},
            "filters": {"value_variable_code": "GEM001"},
            "values": {"value": "gemeinden_count"},
        }, {"compress": "false", "quality": "off"}),
        genesis_source("rs_siedlungsflaeche", servers["atlas"], "AI-N-01-2-5", {
            "region": {"column": "variable:GEMEIN", "by": "key"},
            "school_year": {"column": "time", "format": "start_year"},
            "filters": {"value_variable_code": "AI0111"},
            "values": {"value": "settlement_area_share"},
        }, {"compress": "false", "quality": "off"}),
        genesis_source("destatis_schutzsuchende", servers["refugees"], "12531-0043", {
            "region": {"column": "variable:KREISE", "by": "key"},
            "school_year": {"column": "time", "format": "iso_date"},
            "sex": {"column": "variable:GES", "values": {"GESM": "male", "GESW": "female"}},
            "combine_rows": True,
            "derive_totals": ["sex"],
            "values": {"value": "protection_seekers"},
        }, {"compress": "true", "quality": "off"}),
        genesis_source("destatis_preise", servers["broken"], "61111-0021", {
            "region": {"column": "variable:DLAND", "by": "key"},
            "school_year": {"column": "time", "format": "start_year"},
            "values": {"value": "gemeinden_count"},
        }, {"compress": "false", "quality": "off"}) | {"rank": 2},  # after rs_gemeinden
        {
            "id": "kita_api", "title": "Kita-Plätze (JSON-API, loopback)",
            "partner": "Jugendämter", "licence": "test", "standing": "partner", "kind": "json_api",
            "api": {"url": f"{servers['json'].origin}/api/v1/kita/", "page_size": 500,
                    "token_env": "TEST_GENESIS_PASSWORD", "timeout_seconds": 5},
            "format": {"decimal": "."},
            "expectations": ["day_care"],
            "mapping": {"region": {"column": "ags", "by": "key"},
                        "school_year": {"column": "stichtag", "format": "iso_date"},
                        "values": {"kinder_u3": "daycare_children_u3"}},
        },
        {   # by YAML alone: Bearer, pages of 50, the portal's own codes
            "id": "urban_enrollment", "title": "Enrollment (Education-Data-Portal style, loopback)",
            "partner": "Urban-style API", "licence": "test", "standing": "partner",
            "kind": "json_api",
            "api": {"url": f"{servers['urban'].origin}/api/v1/schools/enrollment/",
                    "page_size": 50, "page_size_param": "per_page",
                    "token_env": "TEST_GENESIS_PASSWORD", "auth": {"scheme": "bearer"},
                    "timeout_seconds": 5},
            "format": {"decimal": ".", "symbols": {"-1": "not_available", "-2": "not_applicable",
                                                   "-3": "suppressed"}},
            "expectations": ["day_care"],
            "mapping": {"region": {"column": "ags", "by": "key"},
                        "school_year": {"column": "year", "format": "start_year"},
                        "values": {"enrollment": "daycare_children_3_6"}},
        },
    ]  # fmt: skip
    for source in sources:
        (folder / f"{source['id']}.yaml").write_text(yaml.safe_dump(source, allow_unicode=True))
    return folder


def run(data: Path, registry: Path, password: str = SECRET) -> CliRun:
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME",)}
    env.update(TEST_GENESIS_USERNAME=USER, TEST_GENESIS_PASSWORD=password)
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--data-dir", str(data),
         "--registry", str(registry)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    return CliRun(done.returncode, done.stdout + done.stderr)


@pytest.fixture(scope="module")
def first(registry: Path, servers, tmp_path_factory: pytest.TempPathFactory):
    data = tmp_path_factory.mktemp("api") / "data"
    return data, run(data, registry)


def published(data: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(data / "published/bildungsmonitor.duckdb"), read_only=True)


def test_genesis_tables_load_with_their_values(first) -> None:
    data, result = first
    # published, but one source could not be fetched: exit code 3
    assert result.returncode == 3, result.output
    assert "success, published" in result.output
    assert "Sources that could not be fetched: 1 (their last good data was used)" in result.output
    with published(data) as conn:
        value = dict(conn.execute(
            "SELECT region_code, value FROM marts.measure_values WHERE measure = "
            "'gemeinden_count' AND school_year = '2024/25'").fetchall())  # fmt: skip
        assert value["05966"] == 7.0  # Olpe, Kreis: 7 Gemeinden (31.12.2024)
        assert value["05154"] == 16.0  # Kleve, Kreis
        assert value["09178"] == 24.0  # Freising, Landkreis
        share = dict(conn.execute(
            "SELECT region_code, value FROM marts.measure_values WHERE measure = "
            "'settlement_area_share' AND school_year = '2023/24'").fetchall())  # fmt: skip
        assert share["05113000"] == 66.1  # Essen
        assert share["12065136"] == 32.2  # Hennigsdorf
        assert len(share) > 10_000


def test_every_published_settlement_share_as_the_recording_says(first) -> None:
    """AI-N-01-2-5 (Regionalatlas, 13,566 Gemeinden) cell by cell: every line of AI0111 the
    replay served is published with the recording's value or its symbol's status, or is
    quarantined because the region reference does not know its key."""
    data, _ = first
    expected = {}
    for number, line in enumerate(flat_rows(recorded_zip("AI-N-01-2-5")), start=2):
        if line["value_variable_code"] != "AI0111":
            continue
        raw = line["value"].strip()
        value, status = SYMBOLS.get(raw) or (float(raw.replace(",", ".")), "ok")
        expected[line["1_variable_attribute_code"]] = (number, line["time"], value, status, raw)
    assert len(expected) == 13_566
    with published(data) as conn:
        rows = conn.execute(
            "SELECT region_code, measure, school_year, sex, nationality, value, status, "
            "raw_value FROM marts.measure_values WHERE source_id = 'rs_siedlungsflaeche'"
        ).fetchall()
        quarantined = dict(conn.execute(
            "SELECT region_code, string_agg(DISTINCT check_name || ': ' || reason, '; ') "
            "FROM quality.quarantine WHERE source_id = 'rs_siedlungsflaeche' GROUP BY 1"
        ).fetchall())  # fmt: skip
        known = {c for (c,) in conn.execute("SELECT region_code FROM marts.regions").fetchall()}
    cells = {r[0]: r[1:] for r in rows}
    assert len(cells) == len(rows)
    # nothing lost: each line published or quarantined, not both
    assert set(cells) | set(quarantined) == set(expected)
    assert not set(cells) & set(quarantined)
    for region, cell in cells.items():
        _, time, value, status, raw = expected[region]
        assert time == "2023"
        assert cell == ("settlement_area_share", "2023/24", "total", "total", value, status, raw)
    # the one symbol of AI0111 is '-', exactly nothing: 0 (the official Zeichenerklärung)
    symbols = Counter((raw, value, status) for _, _, _, _, value, status, raw in cells.values()
                      if raw in SYMBOLS)  # fmt: skip
    assert symbols == {("-", 0.0, "ok"): 2_523}
    # quarantined: keys the region reference does not hold (gemeindefreie Gebiete such as
    # 01053105 Sachsenwald), each with its line and reason
    for region, reason in quarantined.items():
        assert region not in known
        assert reason == (
            f"canonical_records_known_region_keys: line {expected[region][0]}: unknown region "
            f"key '{region}' (expected an official key of schemas/regions.csv, e.g. 05513000)"
        )
    assert (len(cells), len(quarantined)) == (13_310, 256)


def test_the_job_flow_completes_and_totals_are_derived(first, servers) -> None:
    data, _ = first
    flat = recorded_zip("12531-0043", "data/resultfile")
    import zipfile

    member = zipfile.ZipFile(io.BytesIO(flat))
    text = member.read(member.namelist()[0]).decode("utf-8-sig")
    expected: dict[tuple[str, str], int] = defaultdict(int)
    for row in csv.DictReader(io.StringIO(text), delimiter=";"):
        if row["value"] not in ("-", "", "."):
            expected[(row["1_variable_attribute_code"], row["3_variable_attribute_code"])] += int(
                row["value"]
            )
    with published(data) as conn:
        got = {(r, s): v for r, s, v in conn.execute(
            "SELECT region_code, sex, value FROM marts.measure_values WHERE measure = "
            "'protection_seekers' AND school_year = '2024/25'").fetchall()}  # fmt: skip
    for kreis in ("05113", "05513", "09162"):
        male, female = expected[(kreis, "GESM")], expected[(kreis, "GESW")]
        assert got[(kreis, "male")] == male and got[(kreis, "female")] == female
        assert got[(kreis, "total")] == male + female
    polls = servers["refugees"].calls("catalogue/results")
    assert len(polls) >= 400  # the recorded job was polled until it was ready
    assert len(servers["refugees"].calls("data/resultfile")) == 1


def test_a_service_error_is_clear_and_the_others_still_load(first) -> None:
    data, result = first
    assert "FAIL ingest/destatis_preise:fetch — 61111-0021: GENESIS status -1" in result.output
    assert "wurde kein Datenquader gefunden" in result.output
    assert "destatis_preise" in result.output and "FETCH FAILED" in result.output
    with published(data) as conn:
        failed = conn.execute(
            "SELECT action, detail FROM meta.delivery_log WHERE source_id = 'destatis_preise'"
        ).fetchall()
        assert failed[0][0] == "fetch_failed" and "61111-0021" in failed[0][1]
        loaded = dict(
            conn.execute(
                "SELECT source_id, count(*) FROM marts.measure_values GROUP BY 1"
            ).fetchall()
        )
    assert set(loaded) == {"rs_gemeinden", "rs_siedlungsflaeche", "destatis_schutzsuchende",
                           "kita_api", "urban_enrollment"}  # fmt: skip


def test_the_json_api_loads_every_page(first, servers) -> None:
    data, _ = first
    pages = servers["json"].requests
    assert len([r for r in pages if r.path == "/api/v1/kita/"]) >= 3  # 1,188 records, 500/page
    with published(data) as conn:
        count, years = conn.execute(
            "SELECT count(*), count(DISTINCT school_year) FROM marts.measure_values "
            "WHERE source_id = 'kita_api'").fetchone()  # fmt: skip
    assert (count, years) == (len(day_care_records()), 3)


def test_an_api_with_its_own_codes_and_a_bearer_token_loads_by_yaml_alone(first, servers):
    """Every record once, each code as its status and never a number; the one 429 waited
    out; the token sent as Bearer (and, with the others, nowhere in the data directory)."""
    data, _ = first
    requests = [r for r in servers["urban"].requests if r.path.endswith("/enrollment/")]
    assert {r.headers["authorization"] for r in requests} == {f"Bearer {SECRET}"}
    assert len(requests) == 6 + 1  # 265 records in pages of 50, one page asked twice (429)
    with published(data) as conn:
        got = {code: (value, status) for code, value, status in conn.execute(
            "SELECT region_code, value, status FROM marts.measure_values "
            "WHERE source_id = 'urban_enrollment'").fetchall()}  # fmt: skip
        negative = conn.execute(
            "SELECT count(*) FROM marts.measure_values WHERE value < 0").fetchone()[0]  # fmt: skip
    expected = {
        r["ags"]: (None, URBAN_CODES[r["enrollment"]]) if r["enrollment"] < 0
        else (float(r["enrollment"]), "ok")
        for r in urban_records()
    }  # fmt: skip
    assert got == expected
    assert sorted({s for _, s in got.values()}) == [
        "not_applicable", "not_available", "ok", "suppressed"]  # fmt: skip
    assert negative == 0


def test_credentials_are_only_in_headers(first, servers) -> None:
    for name in ("kreise", "atlas", "refugees", "broken"):
        for request in servers[name].requests:
            assert request.headers.get("username") == USER
            assert USER not in request.body and SECRET not in request.body
            assert USER not in str(request.query)


def _all_text_of(data: Path) -> list[tuple[Path, bytes]]:
    return [(p, p.read_bytes()) for p in data.rglob("*") if p.is_file()]


def test_credentials_appear_nowhere(first) -> None:
    data, result = first
    assert USER not in result.output and SECRET not in result.output
    for path, content in _all_text_of(data):  # raw archive, warehouse, Dagster storage, logs
        assert USER.encode() not in content, path
        assert SECRET.encode() not in content, path
    with published(data) as conn:
        for table in ("meta.delivery_log", "meta.deliveries", "quality.check_results"):
            text = str(conn.execute(f"SELECT * FROM {table}").fetchall())
            assert USER not in text and SECRET not in text


def test_second_run_against_an_unchanged_server_fetches_nothing(first, registry, servers):
    data, _ = first
    before = {name: len(server.calls("data/tablefile")) for name, server in servers.items()
              if name not in ("json", "urban")}  # fmt: skip
    again = run(data, registry)
    assert again.returncode == 3, again.output
    after = {name: len(server.calls("data/tablefile")) for name, server in servers.items()
             if name not in ("json", "urban")}  # fmt: skip
    for name in ("kreise", "atlas", "refugees"):
        assert after[name] == before[name], name  # the change stamp said: unchanged
    assert "payloads new 0" in again.output
    with published(data) as conn:
        actions = dict(conn.execute(
            "SELECT source_id, string_agg(DISTINCT action, ',') FROM meta.delivery_log "
            "WHERE run_id = ? GROUP BY 1", [again.run_id]).fetchall())  # fmt: skip
        details = [d for (d,) in conn.execute(
            "SELECT detail FROM meta.delivery_log WHERE run_id = ? AND source_id = "
            "'rs_gemeinden'", [again.run_id]).fetchall()]  # fmt: skip
    assert actions["rs_gemeinden"] == "skipped_unchanged"
    assert details == ["the service reports no change since 21.11.2023 13:47:55h"]
    assert actions["kita_api"] == "skipped_unchanged"  # no change stamp: same bytes
    assert actions["destatis_preise"] == "fetch_failed"


def test_wrong_credentials_keep_the_last_good_data(first, registry) -> None:
    data, _ = first
    wrong = "bm-wrong-4d2e"
    night = run(data, registry, password=wrong)
    assert night.returncode == 3, night.output
    assert "credentials rejected" in night.output
    assert wrong not in night.output and USER not in night.output
    for path, content in _all_text_of(data):
        assert wrong.encode() not in content, path
    with published(data) as conn:
        kept = conn.execute(
            "SELECT value FROM marts.measure_values WHERE measure = 'gemeinden_count' "
            "AND region_code = '05966'").fetchone()  # fmt: skip
        failures = conn.execute(
            "SELECT count(*) FROM quality.check_results WHERE run_id = ? AND "
            "check_name = 'fetch' AND NOT passed", [night.run_id]).fetchone()[0]  # fmt: skip
    assert kept == (7.0,)
    assert failures == 6  # four GENESIS tables and two JSON APIs (same variable for the token)


def test_genesis_metadata_shows_the_codes_a_mapping_needs(
    registry: Path, servers, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from pipelines.cli import main

    monkeypatch.setenv("BILDUNGSMONITOR_REGISTRY_DIR", str(registry))
    monkeypatch.setenv("TEST_GENESIS_USERNAME", USER)
    monkeypatch.setenv("TEST_GENESIS_PASSWORD", SECRET)
    code = main(["genesis-metadata", "--registry", str(registry), "--source", "rs_gemeinden"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "11111-02-01-4: Zahl der Gemeinden - Stichtag 31.12. - regionale Tiefe:" in out
    assert "updated: 21.11.2023 13:47:55h" in out
    assert "KREISE: Kreise und kreisfreie Städte [rows; variable:KREISE]" in out
    assert "GEM001: Zahl der Gemeinden [columns; value_variable_code]" in out
    assert "    value_variable_code GEM001: Zahl der Gemeinden [Anzahl]" in out
    assert USER not in out and SECRET not in out

    monkeypatch.delenv("TEST_GENESIS_USERNAME")
    assert main(["genesis-metadata", "--registry", str(registry), "--source", "rs_gemeinden"]) == 1
    assert "environment variable TEST_GENESIS_USERNAME is not set" in capsys.readouterr().out
