"""A table a night leaves unchanged is not counted again: its materialization carries the counts
of the build it still holds (at national scale the views' count(*) cost most of such a night).
Through dg.materialize against a real DuckDB file and a real Dagster instance."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.assets.core import core_assets
from pipelines.assets.marts import mart_assets
from pipelines.resources import WarehouseResource
from sources.registry import load_registry
from warehouse.db import DataPaths

REGIONS, MART = dg.AssetKey(["core", "regions"]), dg.AssetKey(["marts", "regions"])


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def night(tmp_path: Path, instance: dg.DagsterInstance) -> dict[dg.AssetKey, dict]:
    sources = load_registry()
    assets = [a for a in core_assets(sources) if REGIONS in a.keys]
    assets += [a for a in mart_assets(sources) if MART in a.keys]
    result = dg.materialize(
        assets,
        resources={"warehouse": WarehouseResource(data_dir=str(tmp_path))},
        instance=instance,
    )
    assert result.success
    return {
        key: {
            k: v.value for k, v in result.asset_materializations_for_node(node)[0].metadata.items()
        }
        for key, node in ((REGIONS, "core__regions"), (MART, "marts__regions"))
    }


def test_an_unchanged_table_carries_the_counts_of_its_build(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    first = night(tmp_path, instance)
    assert first[REGIONS]["rebuilt"] is True and first[MART]["rebuilt"] is True
    rows, memberships = first[REGIONS]["dagster/row_count"], first[REGIONS]["memberships"]
    assert rows > 13_000 and memberships > rows
    assert first[MART]["dagster/row_count"] == rows
    # a row slipped in behind the pipeline's back: a count would see it, the build's count not
    with duckdb.connect(str(DataPaths(tmp_path).work_db)) as conn:
        conn.execute("INSERT INTO marts.regions (region_code, name) VALUES ('XX', 'Nirgendwo')")
    second = night(tmp_path, instance)
    assert second[REGIONS]["rebuilt"] is False and second[MART]["rebuilt"] is False
    assert second[REGIONS]["built_in_run"] == first[REGIONS]["built_in_run"]
    assert second[REGIONS]["dagster/row_count"] == rows
    assert second[REGIONS]["memberships"] == memberships
    assert second[MART]["dagster/row_count"] == rows
    # without the materialization of that build (another Dagster instance): counted again
    with dg.instance_for_test() as other:
        third = night(tmp_path, other)
    assert third[MART]["rebuilt"] is False and third[MART]["dagster/row_count"] == rows + 1
