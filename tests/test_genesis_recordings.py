"""Every real GENESIS recording (../shared/data/genesis-recordings) loads through a registry
entry from a loopback replay of its answers, and every published cell equals the recording's
value or its symbol's status (issue 12, parts 2 and 3).

The entries of the regular tables are the starting YAMLs `bildungsmonitor genesis-metadata
TABLE --yaml` prints, used unchanged; 91111-0001 (one value variable in the units of its 143
indicators) has a written one. One warehouse serves every table: ingest -> staging -> core ->
marts -> publication through the warehouse functions, as the Dagster assets call them; the
cells are read back from the published file (marts.measure_values, quality.quarantine).
"""

from __future__ import annotations

import contextlib
import graphlib
import io
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
import yaml

from schemas.catalogue import load_catalogue
from schemas.tables import school_year_label
from sources.clients.genesis import GenesisCredentials
from sources.delivery import read_payload, records_relation
from sources.fetch import genesis_calls
from sources.periods import start_year
from sources.registry import Source, load_source
from tests.genesis_replay import (
    SYMBOLS,
    GenesisReplayServer,
    Interaction,
    flat_rows,
    load_cassette,
    recorded_zip,
)
from warehouse.build import (
    build_measure_revisions,
    build_sql_table,
    check_indicator_values,
    load_catalogue_tables,
    load_regions_table,
    load_sources_table,
)
from warehouse.db import DataPaths, init_schema
from warehouse.fingerprints import build_if_changed
from warehouse.ingest import ingest_api_source
from warehouse.models import MODELS, upstream_models
from warehouse.publish import publish
from warehouse.staging import stage_source

pytestmark = pytest.mark.slow  # loopback replay servers

USER, SECRET = "bm-user-7f3a", "bm-secret-91c2"
RUN = "run-recordings"
REGULAR = [
    "1000A-2022", "11111-02-01-4", "12211-Z-11", "12411-01-01-4", "12531-0043",
    "13111-01-03-4", "52411-02-01-4", "71311-0001", "AI-N-01-2-5",
]  # fmt: skip
FLAGS = {"e": "estimated", "()": "unreliable", "p": "provisional"}
# AI-N-01-2-5 (13,566 Gemeinden) is read and mapped here, not validated and loaded: its
# validation alone would cost a fifth of this module's budget, and tests/test_api_sources.py
# loads it through the whole pipeline and compares every published cell with the recording
MAPPED_ONLY = {"AI-N-01-2-5"}
# 1000A-2022 (Zensus, base path /api/rest/2020) is also recorded with compress=true, quality=off
COMPRESSED = "1000A-2022 compress=true"

# 91111-0001: one value variable (INDIKA) in the unit of each of its indicators, so it has no
# starting entry; this one takes the education indicators (with . and ...) and one with x
SUSTAINABILITY = {
    "NE2-16-03-B": ("partner_countries_cpi_improved", "total"),
    "NE2-04-01-A-1": ("early_leavers_18_24_share", "total"),
    "NE2-04-01-A-2": ("early_leavers_18_24_share", "female"),
    "NE2-04-01-A-3": ("early_leavers_18_24_share", "male"),
    "NE2-04-01-B-1": ("tertiary_30_34_share", "total"),
    "NE2-04-01-B-2": ("tertiary_30_34_share", "female"),
    "NE2-04-01-B-3": ("tertiary_30_34_share", "male"),
}


def mapped(conn: duckdb.DuckDBPyConnection, source: Source, fetch) -> str:
    """The fetched table read and mapped as staging reads and maps it, without the
    validation (its records in a table `mapped_<id>`)."""
    file_name, data, _ = fetch(None)
    raw = read_payload(source, data, file_name, conn)
    conn.execute(
        f"CREATE TABLE mapped_{source.id} AS SELECT measure, region_code, school_year, sex, "
        f"nationality, value, status, raw_value, problem FROM {records_relation(conn, raw, source)}"
    )
    return "mapped"


@dataclass
class Loaded:
    name: str
    source: Source
    yaml_text: str
    flat: list[dict[str, str]]
    conn: duckdb.DuckDBPyConnection
    state: str
    server: GenesisReplayServer


def cli_yaml(name: str, server: GenesisReplayServer) -> tuple[str, str]:
    """`bildungsmonitor genesis-metadata NAME --yaml` against the replay: (stdout, stderr)."""
    from pipelines.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["genesis-metadata", name, "--yaml", "--base-url", server.base_url,
                     "--poll-interval", "0.001"])  # fmt: skip
    assert code == 0, out.getvalue() + err.getvalue()
    return out.getvalue(), err.getvalue()


def replayed(name: str) -> tuple[Interaction, ...]:
    """The recording's answers; of the ~400 polls of 12531-0043's job ("not ready yet") the
    first three, so that the flow is replayed whole without ~400 requests per fetch."""
    polls = 0
    kept = []
    for interaction in load_cassette(name):
        if interaction.path == "catalogue/results" and b'"Code":104' in interaction.body.replace(
            b" ", b""
        ):
            polls += 1
            if polls > 3:
                continue
        kept.append(interaction)
    return tuple(kept)


def sustainability_entry(server: GenesisReplayServer) -> str:
    codes = list(SUSTAINABILITY)
    entry = {
        "id": "genesis_91111_0001",
        "title": "Indikatoren zur nachhaltigen Entwicklung: Bildung (91111-0001)",
        "partner": "Statistisches Bundesamt (Destatis) – GENESIS-Online",
        "licence": "Datenlizenz Deutschland – Namensnennung – Version 2.0",
        "standing": "official",
        "kind": "genesis_api",
        "api": {"base_url": server.base_url, "table": "91111-0001",
                "credentials": {"username_env": "REGIONALSTATISTIK_USERNAME",
                                "password_env": "REGIONALSTATISTIK_PASSWORD"},
                "parameters": {"area": "all", "language": "de"}},
        "coverage": "DG",
        "mapping": {
            "region": {"column": "variable:DINSG", "by": "key"},
            "school_year": {"column": "time", "format": "start_year"},
            "filters": {"variable:IND006": codes},
            "sex": {"column": "variable:IND006",
                    "values": {c: sex for c, (_, sex) in SUSTAINABILITY.items()}},
            "lookups": {"indicator": {"column": "variable:IND006",
                                      "values": {c: m for c, (m, _) in SUSTAINABILITY.items()}}},
            "values": {"value": "{indicator}"},
        },
    }  # fmt: skip
    return yaml.safe_dump(entry, allow_unicode=True, sort_keys=False)


def recorded_flat(name: str, fields: dict[str, str]) -> list[dict[str, str]]:
    """The rows of the flat file the replay answered a request with `fields`."""
    for interaction in load_cassette(name):
        if interaction.path not in ("data/tablefile", "data/resultfile"):
            continue
        body = interaction.body
        if not body.startswith(b"PK"):
            continue
        same = all(
            interaction.fields.get(k, "") == v
            for k, v in fields.items()
            if interaction.fields.get(k) and v
        )
        if not same:
            continue
        return flat_rows(body)
    raise AssertionError(f"{name}: no flat file for {fields}")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory):
    paths = DataPaths(tmp_path_factory.mktemp("recordings") / "data")
    paths.work_db.parent.mkdir(parents=True)
    conn = duckdb.connect(str(paths.work_db))
    init_schema(conn)
    load_regions_table(conn)
    load_catalogue_tables(conn, load_catalogue())
    yield paths, conn
    conn.close()


@pytest.fixture(scope="module")
def loaded(warehouse, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Loaded]:
    """Every recording through its entry into the one warehouse; `Loaded` per table."""
    paths, conn = warehouse
    registry = tmp_path_factory.mktemp("registry")
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("REGIONALSTATISTIK_USERNAME", USER)
    monkeypatch.setenv("REGIONALSTATISTIK_PASSWORD", SECRET)
    monkeypatch.setenv("BILDUNGSMONITOR_REGISTRY_DIR", str(registry))
    results: dict[str, Loaded] = {}
    sources: dict[str, Source] = {}
    try:
        for name in [*REGULAR, "91111-0001", COMPRESSED]:
            recording = name.split(" ")[0]
            server = GenesisReplayServer(replayed(recording), username=USER, password=SECRET)
            server.start()
            try:
                if name in REGULAR:
                    text, notes = cli_yaml(name, server)
                    assert "not regular" not in notes, notes
                elif name == COMPRESSED:  # the same table zipped by request, without flags
                    text = (
                        results[recording]
                        .yaml_text.replace(results[recording].server.base_url, server.base_url)
                        .replace("id: genesis_1000a_2022", "id: genesis_1000a_2022_compressed")
                        .replace('quality: "on"}', 'quality: "off", compress: "true"}')
                    )
                else:
                    text = sustainability_entry(server)
                source_id = yaml.safe_load(text)["id"]
                path = registry / f"{source_id}.yaml"
                path.write_text(text, encoding="utf-8")
                source = load_source(path)  # the printed YAML, unchanged, is a valid entry
                api = source.api.model_copy(update={"poll_interval_seconds": 0.001,
                                                    "timeout_seconds": 10})  # fmt: skip
                source = source.model_copy(update={"api": api})
                sources[source.id] = source
                load_sources_table(conn, sources)
                updated, fetch = genesis_calls(
                    source, GenesisCredentials(USER, SECRET), lambda message: None
                )
                if name in MAPPED_ONLY:
                    state = mapped(conn, source, fetch)
                else:
                    summary = ingest_api_source(conn, source, paths, RUN, fetch, updated)
                    assert summary.error is None, summary.error
                    result = stage_source(conn, source, paths, RUN, registry=sources)
                    state = result.deliveries[0].state
                fields = {k: v for k, v in source.api.parameters.items()}
                results[name] = Loaded(
                    name, source, text, recorded_flat(recording, fields), conn, state, server
                )
            finally:
                server.stop()
    finally:
        monkeypatch.undo()
    return results


def marts_in_build_order() -> list[str]:
    """The indicator and mart models, each after the models it reads (Dagster's order)."""
    graph = {name: upstream_models(model) for name, model in MODELS.items()}
    order = graphlib.TopologicalSorter(graph).static_order()
    return [name for name in order if MODELS[name].group in ("indicators", "marts")]


@pytest.fixture(scope="module")
def publication(loaded: dict[str, Loaded], warehouse):
    """Core, the marts and the publication built from the staged tables with the warehouse
    functions the Dagster assets call (pipelines/assets/core.py, marts.py, publish.py), in
    their order; the published file, read-only."""
    paths, conn = warehouse
    sources = {table.source.id: table.source for table in loaded.values()}

    def catalogue() -> None:
        load_catalogue_tables(conn, load_catalogue())
        load_sources_table(conn, sources)

    core = {
        "core.regions": lambda: load_regions_table(conn),
        "core.catalogue": catalogue,
        "core.measure_revisions": lambda: build_measure_revisions(conn),
    }
    for name, build in core.items():
        build_if_changed(conn, name, sources, RUN, build)
    for name in marts_in_build_order():
        sql = MODELS[name].sql
        rebuilt = build_if_changed(
            conn, name, sources, RUN, lambda sql=sql: build_sql_table(conn, sql)
        )
        assert rebuilt, name
        if name == "marts.indicator_values":
            outcomes, _ = check_indicator_values(conn, RUN)
            # Dagster publishes only when every blocking check of the indicator mart passed
            failed = [o.name for o in outcomes if o.blocking and o.passed is False]
            assert not failed, failed
    publish(conn, paths, RUN)
    with duckdb.connect(str(paths.published_db), read_only=True) as published:
        yield published


def expected_cells(loaded: Loaded) -> dict[tuple, tuple[float | None, str, str | None]]:
    """(measure, region, school year, sex, nationality) -> (value, status, raw) for every
    line of the recording the entry keeps, read here from the flat file itself. The raw cell
    is written as the printed table writes a flagged one (`166 e`, `(12)`); a sum of lines
    has none."""
    mapping = loaded.source.measures
    cells: dict[tuple, list[tuple[float | None, str, str]]] = {}
    for row in loaded.flat:
        variables = {row[f"{n}_variable_code"]: row[f"{n}_variable_attribute_code"]
                     for n in range(1, 10) if row.get(f"{n}_variable_code")}  # fmt: skip

        def cell(column: str, row: dict = row, variables: dict = variables) -> str:
            if column.startswith("variable:"):
                return variables.get(column.split(":", 1)[1], "")
            return row[column]

        if any(cell(c) not in kept for c, kept in mapping.filters.items()):
            continue
        region = next((cell(c) for c in mapping.region_columns if cell(c)), "")
        year = school_year_label(start_year(row["time"], mapping.year_format))
        sex = mapping.sex.constant or mapping.sex.values[cell(mapping.sex.column)]
        nationality = (
            mapping.nationality.constant
            or mapping.nationality.values[cell(mapping.nationality.column)]
        )
        measure = mapping.values[0].measure
        for name, lookup in mapping.lookups.items():
            measure = measure.replace("{" + name + "}", lookup.values[cell(lookup.column)])
        raw = row["value"].strip()
        if raw in SYMBOLS:
            value, status = SYMBOLS[raw]
        else:
            value, status = float(raw.replace(",", ".")), "ok"
        flag = (row.get("value_q") or "").strip()
        if flag:
            status = FLAGS[flag]
            raw = f"({raw})" if flag == "()" else f"{raw} {flag}"
        key = (measure, region, year, sex, nationality)
        assert mapping.combine_rows or key not in cells, f"{loaded.name}: {key} twice"
        cells.setdefault(key, []).append((value, status, raw))
    if not mapping.combine_rows:
        return {key: parts[0] for key, parts in cells.items()}
    return {key: summed(parts) for key, parts in cells.items()}


def summed(parts: list[tuple[float | None, str, str]]) -> tuple[float | None, str, None]:
    """Lines of ignored dimensions add up: a part without a value (a symbol) makes the sum
    that symbol, else a flag carries over to it — the first one, in the order of the lines."""
    symbol = next((status for value, status, _ in parts if value is None), None)
    if symbol is not None:
        return None, symbol, None
    flag = next((status for _, status, _ in parts if status != "ok"), "ok")
    return sum(value for value, _, _ in parts), flag, None


KEY = "measure, region_code, school_year, sex, nationality"


def mapped_cells(loaded: Loaded) -> tuple[dict[tuple, tuple], dict[tuple, str]]:
    """The records of a table read and mapped only: (kept cells, cells with a problem)."""
    rows = loaded.conn.execute(
        f"SELECT {KEY}, value, status, raw_value FROM mapped_{loaded.source.id} "
        "WHERE problem IS NULL"
    ).fetchall()
    problems = loaded.conn.execute(
        f"SELECT {KEY}, problem FROM mapped_{loaded.source.id} WHERE problem IS NOT NULL"
    ).fetchall()
    return {r[:5]: r[5:] for r in rows}, {r[:5]: r[5] for r in problems}


@dataclass
class Published:
    """What the publication says of one source's cells."""

    stated: dict[tuple, tuple]  # key -> (value, status, raw): its statements, measure_history
    current: dict[tuple, tuple]  # key -> (value, status, raw, source): measure_values
    quarantined: dict[tuple, str]  # key -> the failed checks and their reasons


def published_cells(publication: duckdb.DuckDBPyConnection, source_id: str) -> Published:
    stated = publication.execute(
        f"SELECT {KEY}, value, status, raw_value FROM marts.measure_history WHERE source_id = ?",
        [source_id],
    ).fetchall()
    current = publication.execute(
        f"SELECT {KEY}, value, status, raw_value, source_id FROM marts.measure_values"
    ).fetchall()
    quarantined = publication.execute(
        f"SELECT {KEY}, string_agg(DISTINCT check_name || ': ' || reason, '; ') "
        "FROM quality.quarantine WHERE source_id = ? GROUP BY ALL",
        [source_id],
    ).fetchall()
    published = Published(
        {r[:5]: r[5:] for r in stated},
        {r[:5]: r[5:] for r in current},
        {r[:5]: r[5] for r in quarantined},
    )
    # one delivery of the source, one statement per cell; one current value per cell
    assert len(published.stated) == len(stated) and len(published.current) == len(current)
    return published


def assert_cell(got: tuple, want: tuple[float | None, str, str | None], key: tuple) -> None:
    """Value, status and raw cell as the recording has them; a symbol has no value."""
    assert (got[1], got[2]) == (want[1], want[2]), (key, got, want)
    if want[0] is None:
        assert got[0] is None, (key, got, want)
    else:
        assert got[0] == pytest.approx(want[0], abs=1e-9), (key, got, want)


# 1000A-2022 and its compressed copy state the same 17 cells with the same standing and rank:
# the later delivery, the copy's, is the current one (core/measure_revisions.sql) — the same
# numbers, without the quality flags the copy did not ask for
OUTRANKED_BY = {"1000A-2022": COMPRESSED}


@pytest.mark.parametrize("name", [*REGULAR, "91111-0001", COMPRESSED])
def test_every_published_cell_as_the_recording_says(
    loaded: dict[str, Loaded], publication: duckdb.DuckDBPyConnection, name: str
) -> None:
    table = loaded[name]
    assert table.state in ("loaded", "loaded_with_quarantine", "mapped"), table.state
    expected = expected_cells(table)
    assert expected, name
    if table.state == "mapped":  # read and mapped: every cell readable and as recorded
        cells, problems = mapped_cells(table)
        assert not problems, list(problems.items())[:3]
        assert set(cells) == set(expected)
        for key, cell in cells.items():
            assert_cell(cell, expected[key], key)
        return
    published = published_cells(publication, table.source.id)
    quarantined = published.quarantined
    # nothing lost: every kept cell is published or quarantined with its reason, not both
    assert set(published.stated) | set(quarantined) == set(expected)
    assert not set(published.stated) & set(quarantined)
    # the value published now: this source's, or that of the one that outranks it
    now = loaded[OUTRANKED_BY.get(name, name)]
    now_expected = expected if now is table else expected_cells(now)
    for key, cell in published.stated.items():
        assert_cell(cell, expected[key], key)
        *current, source = published.current[key]
        assert source == now.source.id, (key, source)
        assert_cell(tuple(current), now_expected[key], key)
    # a symbol is never published as a number, except '-' (exactly nothing)
    for key, (value, status, raw) in published.stated.items():
        if raw in (".", "...", "/", "x"):
            assert value is None and status == SYMBOLS[raw][1], key
    # what is quarantined is so for a region the reference does not know today
    known = {c for (c,) in table.conn.execute("SELECT region_code FROM core.regions").fetchall()}
    for key, reason in quarantined.items():
        assert key[1] not in known and "known_region_keys" in reason, (key, reason)


@pytest.mark.parametrize(
    ("name", "status", "said"),
    [
        ("61111-0021", -1, "wurde kein Datenquader gefunden"),
        ("63121-0001", 104, "Es gibt keine Objekte zum angegebenen Selektionskriterium"),
    ],
)
def test_an_error_answer_names_the_table_and_keeps_what_was_loaded(
    loaded: dict[str, Loaded], warehouse, tmp_path: Path, name: str, status: int, said: str
) -> None:
    paths, conn = warehouse
    source_id = "genesis_" + name.replace("-", "_")
    before = conn.execute(
        "SELECT source_id, count(*), sum(value) FROM staging.records GROUP BY 1 ORDER BY 1"
    ).fetchall()
    with GenesisReplayServer(name, username=USER, password=SECRET) as server:
        text = (
            loaded["11111-02-01-4"]
            .yaml_text.replace(loaded["11111-02-01-4"].server.base_url, server.base_url)
            .replace("11111-02-01-4", name)
            .replace("genesis_11111_02_01_4", source_id)
        )
        path = tmp_path / f"{source_id}.yaml"
        path.write_text(text, encoding="utf-8")
        source = load_source(path)
        api = source.api.model_copy(update={"timeout_seconds": 5, "attempts": 1})
        source = source.model_copy(update={"api": api})
        updated, fetch = genesis_calls(source, GenesisCredentials(USER, SECRET), lambda m: None)
        summary = ingest_api_source(conn, source, paths, "run-error", fetch, updated)
    assert summary.error is not None
    assert summary.error.startswith(f"{name}: GENESIS status {status} (")
    assert said in summary.error
    logged = conn.execute(
        "SELECT action, detail FROM meta.delivery_log WHERE source_id = ?", [source_id]
    ).fetchall()
    assert logged == [("fetch_failed", summary.error)]
    assert conn.execute(
        "SELECT count(*) FROM meta.deliveries WHERE source_id = ?", [source_id]
    ).fetchone() == (0,)
    # every other table's staged values as they were
    assert (
        conn.execute(
            "SELECT source_id, count(*), sum(value) FROM staging.records GROUP BY 1 ORDER BY 1"
        ).fetchall()
        == before
    )


def test_every_symbol_and_quality_flag_of_the_recordings_is_a_status(
    loaded: dict[str, Loaded],
) -> None:
    """Across the tables: each official symbol and each quality flag (value_q) as its status;
    no symbol staged as a number ('-' is exactly nothing: 0)."""
    conn = loaded["91111-0001"].conn
    symbols = conn.execute(
        "SELECT raw_value, list_distinct(list(status)), list_distinct(list(value)) "
        "FROM staging.records WHERE raw_value IN ('-', '.', '...', '/', 'x') GROUP BY 1"
    ).fetchall()
    assert sorted(symbols) == [
        ("-", ["ok"], [0.0]),
        (".", ["suppressed"], []),
        ("...", ["not_available"], []),
        ("/", ["unreliable"], []),
        ("x", ["not_applicable"], []),
    ]
    # the quality flags (quality=on): e estimated, () unreliable, as the recording has them
    for name in ("1000A-2022", "12211-Z-11"):
        table = loaded[name]
        want = Counter(status for _, status, _ in expected_cells(table).values())
        got = Counter(
            dict(
                conn.execute(
                    "SELECT status, count(*) FROM staging.records WHERE source_id = ? GROUP BY 1",
                    [table.source.id],
                ).fetchall()
            )
        )
        assert got["estimated"] == want["estimated"] > 0, name
        flagged = conn.execute(
            "SELECT DISTINCT status FROM staging.records WHERE source_id = ? "
            "AND (raw_value LIKE '% e' OR raw_value LIKE '(%)')",
            [table.source.id],
        ).fetchall()
        assert flagged == [("estimated",)], name
    # the () flags of 12211-Z-11 stand on the lines of the kinds of living arrangement, which
    # the entry leaves out (it keeps the total): those lines read with the same entry
    table = loaded["12211-Z-11"]
    mapping = table.source.measures.model_copy(
        update={"filters": {"variable:LBFORM01": ("ALLEINST", "FAMILIEN", "PAAROK")}}
    )
    families = table.source.model_copy(update={"measures": mapping})
    with duckdb.connect() as scratch:
        raw = read_payload(families, recorded_zip("12211-Z-11"), "12211-Z-11.zip", scratch)
        cells = scratch.execute(
            f"SELECT raw_value, value, status FROM {records_relation(scratch, raw, families)} "
            "WHERE raw_value LIKE '(%)' ORDER BY source_line"
        ).fetchall()
    parenthesised = [r for r in table.flat if r["value_q"] == "()"]
    assert cells == [(f"({r['value']})", float(r["value"]), "unreliable") for r in parenthesised]
    assert len(cells) == 14
