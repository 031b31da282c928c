"""Dagster resources: where the data directory is, and connections to the working warehouse.

The data directory is configuration (env BILDUNGSMONITOR_DATA_DIR, default ./data), so moving
the warehouse to another disk — or, later, another catalogue — is a configuration change.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from warehouse.db import DataPaths, connect


class WarehouseResource(dg.ConfigurableResource):
    """The working DuckDB warehouse and the data directory around it."""

    data_dir: str

    @property
    def paths(self) -> DataPaths:
        return DataPaths(Path(self.data_dir))

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with connect(self.paths) as conn:
            yield conn
