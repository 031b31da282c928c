"""Ingest: pick up a source's payloads, archive them, register each delivery once.

A payload whose bytes were already registered for the source is "skipped_unchanged": it is not
archived again and never parsed again — unless a later delivery of the source has replaced it
since: then the partner sent the earlier file back, and it is "reverted" (meta.delivery_events):
its values are current again, still without archiving or parsing anything again. New payloads
enter meta.deliveries in state `received`; staging parses every `received` delivery and moves
it on (loaded / rejected), so a crash between the two steps loses nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import duckdb

from sources.archive import Payload, RawArchive, collect_payloads, move_out_of_inbox
from sources.registry import GenesisApi, Source
from warehouse.db import DataPaths, utc_now
from warehouse.inbox import read_regular_file, scan_inbox
from warehouse.inbox_delivery import read_note


@dataclass
class IngestSummary:
    source_id: str
    new: list[str] = field(default_factory=list)  # file names archived as new deliveries
    unchanged: list[str] = field(default_factory=list)  # file names skipped (known bytes)
    # file names whose bytes restored an earlier delivery a later one had replaced
    reverted: list[str] = field(default_factory=list)
    odd_entries: list[str] = field(default_factory=list)  # inbox entries skipped, not followed

    @property
    def payloads(self) -> int:
        return len(self.new) + len(self.unchanged) + len(self.reverted)


def ingest_source(
    conn: duckdb.DuckDBPyConnection, source: Source, paths: DataPaths, run_id: str
) -> IngestSummary:
    summary = IngestSummary(source.id)
    archive = RawArchive(paths.root)
    now = utc_now()
    for payload in [
        *location_payloads(source),
        *inbox_payloads(conn, source, paths, run_id, summary),
    ]:
        _ingest_payload(conn, source, archive, payload, run_id, now, summary)
    return summary


def location_payloads(source: Source) -> list[Payload]:
    """The payloads at the source's registry location (the inbox is listed by inbox_payloads,
    which skips what must not be followed)."""
    return collect_payloads(source, Path(os.devnull))  # not a folder: no inbox files


def inbox_payloads(
    conn: duckdb.DuckDBPyConnection,
    source: Source,
    paths: DataPaths,
    run_id: str,
    summary: IngestSummary,
) -> list[Payload]:
    """The regular files of the source's inbox; every odd entry is reported in
    meta.delivery_log (action `skipped_entry`) and skipped (warehouse/inbox.py)."""
    listing = scan_inbox(paths, source.id)
    for odd in listing.odd:
        summary.odd_entries.append(odd.message(paths.root))
        log_delivery(
            conn, run_id, source.id, None, odd.path.name, "skipped_entry", odd.message(paths.root)
        )
    for path in listing.waiting:
        log_delivery(
            conn, run_id, source.id, None, path.name, "waiting",
            "not taken: the inbox's archive folder is not a folder (see skipped_entry)",
        )  # fmt: skip
    payloads = []
    for path in listing.files:
        data = read_regular_file(path)
        if data is None:  # replaced by a link or a fifo since it was listed: skip it
            continue
        note = read_note(path)  # who delivered it, if it came through the portal
        payloads.append(
            Payload(
                source.id,
                path.name,
                f"inbox:{path.name}",
                path,
                data,
                delivered_by=note.delivered_by if note else None,
                delivered_at=note.delivered_at.isoformat() if note else None,
            )
        )
    return payloads


def _ingest_payload(
    conn: duckdb.DuckDBPyConnection,
    source: Source,
    archive: RawArchive,
    payload: Payload,
    run_id: str,
    now,
    summary: IngestSummary,
) -> None:
    sha = payload.sha256
    known = conn.execute(
        "SELECT state FROM meta.deliveries WHERE source_id = ? AND delivery_id = ?",
        [source.id, sha],
    ).fetchone()
    log = partial(log_delivery, conn, run_id, source.id, sha, payload.file_name)
    if known and known[0] in ACCEPTED and not payload.origin.startswith(("demo:", "location:")):
        replaced_by = _replaced_by(conn, source.id, sha)
        if replaced_by is not None:
            _revert(conn, source, payload, run_id, now, replaced_by, summary)
            return
    if known:
        summary.unchanged.append(payload.file_name)
        log("skipped_unchanged", f"same bytes as a delivery already {known[0]}")
        # a re-sent copy: out of the inbox, with the earlier verdict; a delivery not yet staged
        # (its run was interrupted) stays for staging, which moves it with its own verdict
        if payload.from_inbox and known[0] != "received":
            verdict = "rejected" if known[0] == "rejected" else "processed"
            move_out_of_inbox(
                payload.path,
                verdict,
                f"same bytes as a delivery already {known[0]}",
                "dieselbe Datei (Byte für Byte) wurde schon einmal geliefert und abgelehnt",
            )
        return
    try:
        archived = archive.store(payload, now, run_id)
    except OSError as exc:
        if exc.filename is not None:
            raise
        # a failed write names no file: name the payload's place in the archive (a full disk)
        raise OSError(exc.errno, exc.strerror, str(archive.path_for(sha))) from exc
    seq = _next_seq(conn)
    conn.execute(
        """INSERT INTO meta.deliveries (delivery_id, source_id, delivery_seq, file_name, origin,
               size_bytes, received_at, received_run_id, archive_path, synthetic, state)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'received')""",
        [
            sha,
            source.id,
            seq,
            payload.file_name,
            payload.origin,
            len(payload.data),
            now,
            run_id,
            archived.relative_path,
            source.synthetic,
        ],
    )
    summary.new.append(payload.file_name)
    delivered = (
        f"; delivered by {payload.delivered_by} at {payload.delivered_at} UTC (portal)"
        if payload.delivered_by
        else ""
    )
    log("archived", f"{len(payload.data)} bytes -> {archived.relative_path}{delivered}")


ACCEPTED = ("loaded", "loaded_with_quarantine")


def _next_seq(conn: duckdb.DuckDBPyConnection) -> int:
    """The next place in the order of receipt: deliveries and reverts count alike."""
    return conn.execute(
        "SELECT greatest((SELECT coalesce(max(delivery_seq), 0) FROM meta.deliveries), "
        "(SELECT coalesce(max(event_seq), 0) FROM meta.delivery_events)) + 1"
    ).fetchone()[0]


def _replaced_by(conn: duckdb.DuckDBPyConnection, source_id: str, delivery_id: str) -> str | None:
    """The file name of the source's delivery received (or restored) after `delivery_id` was
    last, if one was: then the re-sent bytes are a revert. None: it is still the latest."""
    row = conn.execute(
        """WITH latest AS (
               SELECT d.delivery_id, d.file_name,
                   greatest(d.delivery_seq, coalesce(max(e.event_seq), 0)) AS seq
               FROM meta.deliveries d
               LEFT JOIN meta.delivery_events e
                   ON e.delivery_id = d.delivery_id AND e.source_id = d.source_id
               WHERE d.source_id = ? AND d.state IN ('loaded', 'loaded_with_quarantine')
               GROUP BY d.delivery_id, d.file_name, d.delivery_seq)
           SELECT l.file_name FROM latest l, latest mine
           WHERE mine.delivery_id = ? AND l.seq > mine.seq
           ORDER BY l.seq DESC LIMIT 1""",
        [source_id, delivery_id],
    ).fetchone()
    return row[0] if row else None


def _revert(conn, source, payload: Payload, run_id, now, replaced_by: str, summary) -> None:
    """The bytes of an earlier delivery, sent again after a later one replaced it: the partner
    takes the later one back. Its values become current again — a new event in the order of
    receipt — while the archive keeps the bytes once and staging parses nothing."""
    sha = payload.sha256
    received = conn.execute(
        "SELECT file_name, received_at FROM meta.deliveries WHERE source_id = ? "
        "AND delivery_id = ?",
        [source.id, sha],
    ).fetchone()
    detail = (
        f"same bytes as {received[0]} (received {received[1]:%Y-%m-%d %H:%M} UTC), sent again "
        f"after {replaced_by}: its values are current again"
    )
    conn.execute(
        "INSERT INTO meta.delivery_events VALUES (?, ?, ?, ?, 'revert', ?, ?, ?)",
        [_next_seq(conn), sha, source.id, payload.file_name, now, run_id, detail],
    )
    log_delivery(conn, run_id, source.id, sha, payload.file_name, "reverted", detail)
    summary.reverted.append(payload.file_name)
    if payload.from_inbox:
        move_out_of_inbox(payload.path, "processed", detail)


def log_delivery(conn, run_id, source_id, delivery_id, file_name, action, detail) -> None:
    """One row of meta.delivery_log: what a run did with a payload."""
    conn.execute(
        "INSERT INTO meta.delivery_log VALUES (?, ?, ?, ?, ?, ?, ?)",
        [run_id, utc_now(), source_id, delivery_id, file_name, action, detail],
    )


@dataclass
class ApiIngest(IngestSummary):
    resource: str = ""
    service_updated: str | None = None
    skipped_by_service: bool = False  # the service's change stamp said: nothing new
    error: str | None = None  # the fetch failed (credentials masked); last good data stays


def ingest_api_source(
    conn: duckdb.DuckDBPyConnection,
    source: Source,
    paths: DataPaths,
    run_id: str,
    fetch: Callable[[str | None], tuple[str, bytes, str | None]],
    service_updated: Callable[[], str | None] = lambda: None,
) -> ApiIngest:
    """Ingest one API table. `service_updated()` asks the service for its change stamp;
    `fetch(previous_stamp)` downloads and returns (file name, payload, stamp). A fetch error is
    recorded (meta.delivery_log 'fetch_failed', meta.api_state.last_error) and returned, not
    raised: the source keeps its last good data and the run goes on."""
    from sources.clients.http import FetchError  # the HTTP stack is only needed here

    api = source.api
    assert api is not None, f"{source.id} is not an API source"
    resource = api_resource(source)
    summary = ApiIngest(source.id, resource=resource)
    now = utc_now()
    state = conn.execute(
        "SELECT service_updated, delivery_id, resource FROM meta.api_state WHERE source_id = ?",
        [source.id],
    ).fetchone()
    if state and state[2] != resource:  # the selection changed in the YAML: fetch anew
        state = None
    try:
        stamp = service_updated()
        summary.service_updated = stamp
        if stamp and state and state[0] == stamp and state[1]:
            summary.skipped_by_service = True
            summary.unchanged.append(resource)
            detail = f"the service reports no change since {stamp}"
            log_delivery(conn, run_id, source.id, state[1], resource, "skipped_unchanged", detail)
            _save_state(conn, source.id, resource, stamp, state[1], now, fetched=False)
            return summary
        file_name, data, stamp = fetch(state[0] if state else None)
        summary.service_updated = stamp or summary.service_updated
    except FetchError as exc:
        summary.error = str(exc)
        log_delivery(conn, run_id, source.id, None, resource, "fetch_failed", summary.error)
        stamp, delivery = (state[0], state[1]) if state else (None, None)
        _save_state(conn, source.id, resource, stamp, delivery, now, False, summary.error)
        return summary
    payload = Payload(source.id, file_name, f"api:{resource}", Path(file_name), data)
    _ingest_payload(conn, source, RawArchive(paths.root), payload, run_id, now, summary)
    _save_state(conn, source.id, resource, summary.service_updated, payload.sha256, now, True)
    return summary


def api_resource(source: Source) -> str:
    """What an API source fetches: the table with its selection, or the URL."""
    api = source.api
    if isinstance(api, GenesisApi):
        selection = "&".join(f"{k}={v}" for k, v in sorted(api.parameters.items()) if v != "")
        return f"{api.table}?{selection}" if selection else api.table
    return api.url if api is not None else ""


def _save_state(
    conn, source_id, resource, stamp, delivery_id, now, fetched: bool, error: str | None = None
) -> None:
    previous = conn.execute(
        "SELECT fetched_at FROM meta.api_state WHERE source_id = ?", [source_id]
    ).fetchone()
    fetched_at = now if fetched else (previous[0] if previous else None)
    conn.execute("DELETE FROM meta.api_state WHERE source_id = ?", [source_id])
    conn.execute(
        "INSERT INTO meta.api_state VALUES (?, ?, ?, ?, ?, ?, ?)",
        [source_id, resource, stamp, delivery_id, now, fetched_at, error],
    )
