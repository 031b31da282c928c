"""Ingest: pick up a source's payloads, archive them, register each delivery once.

A payload whose bytes were already registered for the source is "skipped_unchanged": it is not
archived again and never parsed again. New payloads enter meta.deliveries in state `received`;
staging parses every `received` delivery and moves it on (loaded / rejected), so a crash
between the two steps loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import duckdb

from sources.archive import Payload, RawArchive, collect_payloads, move_out_of_inbox
from sources.registry import Source
from warehouse.db import DataPaths, utc_now


@dataclass
class IngestSummary:
    source_id: str
    new: list[str] = field(default_factory=list)  # file names archived as new deliveries
    unchanged: list[str] = field(default_factory=list)  # file names skipped (known bytes)

    @property
    def payloads(self) -> int:
        return len(self.new) + len(self.unchanged)


def ingest_source(
    conn: duckdb.DuckDBPyConnection, source: Source, paths: DataPaths, run_id: str
) -> IngestSummary:
    summary = IngestSummary(source.id)
    archive = RawArchive(paths.root)
    now = utc_now()
    for payload in collect_payloads(source, paths.inbox_for(source.id)):
        _ingest_payload(conn, source, archive, payload, run_id, now, summary)
    return summary


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
    if known:
        summary.unchanged.append(payload.file_name)
        log("skipped_unchanged", f"same bytes as a delivery already {known[0]}")
        if payload.from_inbox:  # a re-sent copy: out of the inbox, with the earlier verdict
            verdict = "rejected" if known[0] == "rejected" else "processed"
            move_out_of_inbox(payload.path, verdict, f"same bytes as a delivery already {known[0]}")
        return
    archived = archive.store(payload, now, run_id)
    seq = conn.execute("SELECT coalesce(max(delivery_seq), 0) + 1 FROM meta.deliveries").fetchone()[
        0
    ]
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
    log("archived", f"{len(payload.data)} bytes -> {archived.relative_path}")


def log_delivery(conn, run_id, source_id, delivery_id, file_name, action, detail) -> None:
    """One row of meta.delivery_log: what a run did with a payload."""
    conn.execute(
        "INSERT INTO meta.delivery_log VALUES (?, ?, ?, ?, ?, ?, ?)",
        [run_id, utc_now(), source_id, delivery_id, file_name, action, detail],
    )
