"""The one Dagster code location of Bildungsmonitor.

    dagster dev            (pyproject.toml points Dagster at this module)
    bildungsmonitor ui     (the same, with DAGSTER_HOME under the data directory)

The source assets are generated from the registry (sources/registry/*.yaml): adding a partner
source adds its ingest and staging assets and checks here, without code.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from pipelines.alerting import build_alert_sensor
from pipelines.assets.core import core_assets
from pipelines.assets.ingest import api_ingest_asset, ingest_asset
from pipelines.assets.marts import mart_assets
from pipelines.assets.publish import published_warehouse
from pipelines.assets.report import indicator_report
from pipelines.assets.staging import staging_asset
from pipelines.jobs import build_inbox_sensor, build_nightly_schedule, nightly_job
from pipelines.recovery import operations_or_default
from pipelines.resources import WarehouseResource
from sources.registry import load_registry, registry_dir
from warehouse.db import DataPaths


def build_definitions(
    data_dir: Path | None = None, registry: Path | None = None, profile: str | None = None
) -> dg.Definitions:
    """The code location. The registry is sources/registry/<profile>/ (profile from the
    argument or BILDUNGSMONITOR_PROFILE, default demo), or any folder given as `registry` /
    BILDUNGSMONITOR_REGISTRY_DIR."""
    paths = DataPaths(data_dir) if data_dir else DataPaths.from_env()
    folder = registry or os.environ.get("BILDUNGSMONITOR_REGISTRY_DIR")
    profile = profile or os.environ.get("BILDUNGSMONITOR_PROFILE")
    sources = load_registry(Path(folder).resolve() if folder else registry_dir(profile))
    assets = [api_ingest_asset(s) if s.api else ingest_asset(s) for s in sources.values()]
    assets += [staging_asset(s, sources) for s in sources.values()]
    assets += core_assets(sources)
    assets += mart_assets(sources)
    assets += [published_warehouse, indicator_report]
    schedule = operations_or_default(paths).schedule
    return dg.Definitions(
        assets=assets,
        jobs=[nightly_job],
        schedules=[build_nightly_schedule(paths, schedule.cron, schedule.timezone)],
        sensors=[build_inbox_sensor(paths, list(sources)), build_alert_sensor(paths, sources)],
        resources={"warehouse": WarehouseResource(data_dir=str(paths.root))},
        executor=dg.in_process_executor,
    )


defs = build_definitions()
