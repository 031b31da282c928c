"""Snapshot of the Dagster definitions: every asset's key, group, deps, owners, kinds, metadata
keys and checks, the job, schedule, sensor and executor. A change to any of them shows up as a
diff of tests/snapshots/definitions.json; refresh it on purpose with UPDATE_SNAPSHOTS=1."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import dagster as dg
import pytest

from pipelines.definitions import build_definitions
from sources.registry import load_registry

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.json"


@pytest.fixture(scope="module")
def defs(tmp_path_factory: pytest.TempPathFactory) -> dg.Definitions:
    return build_definitions(data_dir=tmp_path_factory.mktemp("data"))


def describe(defs: dg.Definitions) -> dict:
    graph = defs.resolve_asset_graph()
    assets = {}
    for spec in sorted(defs.resolve_all_asset_specs(), key=lambda s: s.key.to_user_string()):
        checks = sorted(
            (graph.get_check_spec(key).name, graph.get_check_spec(key).blocking,
             (graph.get_check_spec(key).metadata or {}).get("rejects_delivery"))
            for key in graph.get_check_keys_for_assets({spec.key})
        )  # fmt: skip
        assets[spec.key.to_user_string()] = {
            "group": spec.group_name,
            "deps": sorted(d.asset_key.to_user_string() for d in spec.deps),
            "owners": list(spec.owners),
            "kinds": sorted(spec.kinds),
            "metadata": sorted(spec.metadata),
            "checks": [
                name
                + (" (blocking)" if blocking else "")
                + (" (rejects delivery)" if rejects else "")
                for name, blocking, rejects in checks
            ],
        }
    schedule = defs.resolve_schedule_def("nightly_schedule")
    sensor = defs.resolve_sensor_def("inbox_sensor")
    job = defs.resolve_job_def("nightly")
    return {
        "assets": assets,
        "jobs": sorted(j.name for j in defs.resolve_all_job_defs() if not j.name.startswith("__")),
        "schedule": {
            "name": schedule.name,
            "cron": schedule.cron_schedule,
            "timezone": schedule.execution_timezone,
            "job": schedule.job_name,
        },
        "sensor": {
            "name": sensor.name,
            "job": sensor.job_name,
            "minimum_interval_seconds": sensor.minimum_interval_seconds,
        },
        "executor": job.executor_def.name,
    }


def test_definitions_match_the_snapshot(defs: dg.Definitions) -> None:
    current = describe(defs)
    if os.environ.get("UPDATE_SNAPSHOTS") or not SNAPSHOT.exists():
        SNAPSHOT.write_text(json.dumps(current, indent=2, ensure_ascii=False) + "\n")
    assert current == json.loads(SNAPSHOT.read_text())


def test_every_asset_has_description_owner_kinds_and_column_schema(defs: dg.Definitions) -> None:
    for spec in defs.resolve_all_asset_specs():
        name = spec.key.to_user_string()
        assert spec.description and len(spec.description) > 40, name
        assert spec.owners, name
        assert spec.kinds, name
        if not name.startswith("publish/"):
            schema = spec.metadata["dagster/column_schema"]
            assert len(schema.columns) >= 5, name


def test_groups_are_the_layers(defs: dg.Definitions) -> None:
    groups = {s.group_name for s in defs.resolve_all_asset_specs()}
    assert groups == {"ingest", "staging", "core", "indicators", "marts", "publish"}


def test_every_source_has_ingest_and_staging_with_a_structure_check_that_rejects(
    defs: dg.Definitions,
) -> None:
    graph = defs.resolve_asset_graph()
    for source_id in load_registry():
        key = dg.AssetKey(["staging", source_id])
        assert dg.AssetKey(["ingest", source_id]) in graph.get(key).parent_keys
        checks = {
            graph.get_check_spec(k).name: graph.get_check_spec(k)
            for k in graph.get_check_keys_for_assets({key})
        }
        # it rejects the delivery, and does not block the other sources (docs/operations.md)
        assert not checks["structure"].blocking
        assert checks["structure"].metadata["rejects_delivery"] is True


def test_the_publication_is_stale_after_26_hours_and_alerts_are_watched(
    defs: dg.Definitions,
) -> None:
    graph = defs.resolve_asset_graph()
    policy = graph.get(dg.AssetKey(["publish", "bildungsmonitor"])).freshness_policy
    assert policy.fail_window.to_timedelta() == dt.timedelta(hours=26)
    sensor = defs.resolve_sensor_def("alert_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_schedule_runs_nightly_at_two_in_berlin(defs: dg.Definitions) -> None:
    schedule = defs.resolve_schedule_def("nightly_schedule")
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == "Europe/Berlin"
    assert defs.resolve_job_def("nightly").executor_def.name == "in_process"


def test_dagster_yaml_keeps_one_run_at_a_time_and_storage_in_the_data_dir() -> None:
    import yaml

    config = yaml.safe_load((Path(__file__).parents[1] / "dagster.yaml").read_text())
    assert config["concurrency"]["runs"]["max_concurrent_runs"] == 1
    assert "storage" not in config  # run storage stays under DAGSTER_HOME = <data>/dagster_home
