"""What each built table was made of, so that a night with nothing new rebuilds nothing.

A model's fingerprint is a hash of its SQL and of everything it reads (warehouse/models.py):
the files of the repository, the loaded deliveries of the datasets it reads, the fingerprints
of the tables it reads. meta.build_state keeps the fingerprint each table was last built
with; a step whose fingerprint has not changed leaves its table as it is. A changed source
changes the fingerprint of the staged dataset, and so of everything built on it — and only
that.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import duckdb

from sources.registry import Source
from warehouse.db import REPO_ROOT, SQL_DIR, stored_kind, utc_now
from warehouse.models import MODELS, Model

BUILD_STATE = "meta.build_state"
# the table that shows a model exists (core.catalogue is several tables)
_WITNESS = {"core.catalogue": "core.indicators"}


def _hash(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8") + b"\0")
    return digest.hexdigest()


def registry_digest(sources: dict[str, Source]) -> str:
    """The registry as the warehouse sees it (core.sources and the mappings)."""
    return _hash(*(repr(source) for source in sources.values()))


def _staged(conn: duckdb.DuckDBPyConnection, dataset: str, sources: dict[str, Source]) -> str:
    ids = [s.id for s in sources.values() if s.dataset == dataset]
    if not ids:
        return _hash(dataset, "no sources")
    rows = conn.execute(
        "SELECT delivery_id, state FROM meta.deliveries WHERE source_id IN "
        f"({', '.join('?' * len(ids))}) AND state IN ('loaded', 'loaded_with_quarantine') "
        "ORDER BY delivery_seq",
        ids,
    ).fetchall()
    # a revert changes which values are current, though no new delivery was loaded
    events = conn.execute(
        "SELECT delivery_id, event_seq FROM meta.delivery_events WHERE source_id IN "
        f"({', '.join('?' * len(ids))}) ORDER BY event_seq",
        ids,
    ).fetchall()
    return _hash(dataset, *(f"{d}:{s}" for d, s in rows), *(f"{d}@{s}" for d, s in events))


def recorded(conn: duckdb.DuckDBPyConnection, name: str) -> str | None:
    row = conn.execute(f"SELECT fingerprint FROM {BUILD_STATE} WHERE model = ?", [name]).fetchone()
    return row[0] if row else None


def _input(conn: duckdb.DuckDBPyConnection, item: str, sources: dict[str, Source]) -> str:
    if item.startswith("file:"):
        return _hash(item, (REPO_ROOT / item[5:]).read_bytes().hex())
    if item.startswith("staging:"):
        return _staged(conn, item[8:], sources)
    if item == "registry":
        return registry_digest(sources)
    if item in MODELS:
        return recorded(conn, item) or "never built"
    raise ValueError(f"unknown input {item!r}")


def fingerprint(conn: duckdb.DuckDBPyConnection, model: Model, sources: dict[str, Source]) -> str:
    sql = (SQL_DIR / model.sql).read_text(encoding="utf-8") if model.sql else ""
    return _hash(model.name, sql, *(_input(conn, item, sources) for item in model.reads))


def _exists(conn: duckdb.DuckDBPyConnection, name: str) -> bool:
    # a table, or a view (the marts the publication materialises)
    return stored_kind(conn, _WITNESS.get(name, name)) is not None


def build_if_changed(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    sources: dict[str, Source],
    run_id: str,
    build: Callable[[], None],
) -> bool:
    """Run `build` unless the model's table exists and was built from the same inputs;
    returns whether it ran."""
    model = MODELS[name]
    current = fingerprint(conn, model, sources)
    if current == recorded(conn, name) and _exists(conn, name):
        return False
    build()
    conn.execute(f"DELETE FROM {BUILD_STATE} WHERE model = ?", [name])
    conn.execute(
        f"INSERT INTO {BUILD_STATE} VALUES (?, ?, ?, ?)", [name, current, run_id, utc_now()]
    )
    return True


def built_in(conn: duckdb.DuckDBPyConnection, name: str) -> str | None:
    """The run that last built a model."""
    row = conn.execute(f"SELECT run_id FROM {BUILD_STATE} WHERE model = ?", [name]).fetchone()
    return row[0] if row else None
