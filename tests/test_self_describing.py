"""A self-describing warehouse: every table and column of the analysts' contract carries its
description in the published file (readable with the analysts' DuckDB 1.5 CLI), the Dagster
assets say the same, and marts.indicators names where each indicator's figures come from."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from tests.conftest import DemoRuns
from warehouse.contract import MART_COLUMNS, TABLE_DESCRIPTIONS


def test_every_contract_table_has_a_description() -> None:
    assert set(TABLE_DESCRIPTIONS) == set(MART_COLUMNS)
    assert all(c.description for columns in MART_COLUMNS.values() for c in columns)


def duckdb_cli(published: Path, sql: str) -> list[dict]:
    cli = shutil.which("duckdb", path=str(Path(sys.executable).parent))
    assert cli, "the duckdb-cli package (dev dependency) provides the `duckdb` command"
    version = subprocess.run([cli, "--version"], capture_output=True, text=True).stdout
    assert version.startswith("v1.5."), version
    done = subprocess.run([cli, "-readonly", "-json", str(published), "-c", sql],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(done.stdout or "[]")


@pytest.mark.slow
def test_the_duckdb_1_5_cli_shows_a_comment_on_every_contract_table_and_column(
    demo_runs: DemoRuns,
) -> None:
    tables = duckdb_cli(
        demo_runs.published,
        "SELECT schema_name || '.' || table_name AS name, comment FROM duckdb_tables() "
        "UNION ALL SELECT schema_name || '.' || view_name, comment FROM duckdb_views() "
        "WHERE NOT internal",
    )
    comments = {t["name"]: t["comment"] for t in tables}
    assert {name: comments.get(name) for name in TABLE_DESCRIPTIONS} == TABLE_DESCRIPTIONS
    columns = duckdb_cli(
        demo_runs.published,
        "SELECT schema_name || '.' || table_name AS name, column_name, comment "
        "FROM duckdb_columns() WHERE NOT internal",
    )
    found = {(c["name"], c["column_name"]): c["comment"] for c in columns}
    expected = {(t, c.name): c.description for t, cs in MART_COLUMNS.items() for c in cs}
    assert {key: found.get(key) for key in expected} == expected
    assert len(found) > 230


@pytest.mark.slow
def test_where_the_dropout_rate_comes_from_is_one_query(
    published: duckdb.DuckDBPyConnection,
) -> None:
    row = published.execute(
        "SELECT numerator_measures, denominator_measures, sources, source_titles "
        "FROM marts.indicators WHERE indicator_id = 'dropout_rate'"
    ).fetchone()
    assert row == (
        "leavers_without_hsa",
        "leavers_total",
        "schulabgaenger_abschlussart",
        "Schulabgänger/-innen nach Abschlussart, Geschlecht und Staatsangehörigkeit "
        "(SYNTHETISCHE Demo-Lieferung) (Kommunale Bildungsbüros der Ruhr (synthetische "
        "Demo-Daten))",
    )
    # a gap indicator comes from the sources of the rate it compares; pupils from two tables
    sources = dict(
        published.execute("SELECT indicator_id, sources FROM marts.indicators").fetchall()
    )
    assert sources["dropout_gap_male_female"] == "schulabgaenger_abschlussart"
    assert sources["gymnasium_share"] == "itnrw_21111_9k21, regionalstatistik_21111_01_03_4"
    assert None not in sources.values()


@pytest.mark.slow
def test_the_dagster_assets_say_the_same(demo_runs: DemoRuns) -> None:
    from pipelines.definitions import build_definitions

    key = dg.AssetKey(["marts", "indicators"])
    spec = build_definitions(demo_runs.data_dir).resolve_all_asset_specs()
    indicators = next(s for s in spec if s.key == key)
    assert indicators.description.startswith(TABLE_DESCRIPTIONS["marts.indicators"])
    declared = {c.name: c.description for c in indicators.metadata["dagster/column_schema"].columns}
    assert declared == {c.name: c.description for c in MART_COLUMNS["marts.indicators"]}
    # the schema a materialization records (what the UI shows) keeps the descriptions
    instance = dg.DagsterInstance.from_config(str(demo_runs.data_dir / "dagster_home"))
    event = instance.get_latest_materialization_event(key)
    recorded = event.asset_materialization.metadata["dagster/column_schema"].value
    assert {c.name: c.description for c in recorded.columns} == declared
