"""What became of a partner's deliveries: from the inbox, through the nightly run, into a
publication.

Read without ever touching the working warehouse (the pipeline holds its write lock): the
analysts' publication through a read-only connection — it is replaced by a rename, so each
page reads one complete publication — and the inbox's own folders, where a delivery waits, or
lies in processed/ or rejected/ with its note (and, rejected, the German reason the pipeline
wrote beside it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from expectations.partner_words import TODO
from portal.store import DeliveryRecord
from sources.archive import NOTE_SUFFIX
from warehouse.db import DataPaths
from warehouse.inbox_delivery import DeliveryNote, read_note

QUARANTINE_SHOWN = 20  # lines listed per delivery; the count is complete


@dataclass
class QuarantinedLine:
    line: int | None
    column: str | None
    raw_value: str | None
    todo_de: str


@dataclass
class DeliveryState:
    record: DeliveryRecord
    state: str  # a key of portal.words.STATE_DE
    records_loaded: int | None = None
    records_quarantined: int | None = None
    quarantined: list[QuarantinedLine] = field(default_factory=list)
    reason_de: str | None = None  # why it was rejected
    published_at: dt.datetime | None = None  # the publication it is in
    publication_run: str | None = None


def _todo_de(check_name: str | None) -> str:
    name = check_name or ""
    for key, (german, _) in TODO.items():
        if german and (name == key or name.endswith("_" + key)):
            return german
    return "Den Wert prüfen und korrigieren."


def _moved(folder: Path, record: DeliveryRecord) -> tuple[str, Path] | None:
    """processed/ or rejected/, and the moved file, if the pipeline moved this delivery."""
    for verdict in ("processed", "rejected"):
        place = folder / verdict
        if not place.is_dir() or place.is_symlink():
            continue
        for note in place.glob(f"*_{record.stored_name}{NOTE_SUFFIX}"):
            try:
                if (
                    DeliveryNote.model_validate_json(note.read_bytes()).upload_id
                    == record.upload_id
                ):
                    return verdict, note.with_name(note.name[: -len(NOTE_SUFFIX)])
            except (OSError, ValueError):
                continue
    return None


def _waiting(path: Path, record: DeliveryRecord) -> bool:
    """Whether this delivery's file is still in the inbox (not a later one of the same name)."""
    note = read_note(path) if path.is_file() else None
    return note is not None and note.upload_id == record.upload_id


def _reason_de(moved_file: Path) -> str | None:
    """The German reason of the .error.txt the pipeline wrote beside a rejected file."""
    try:
        text = moved_file.with_name(moved_file.name + ".error.txt").read_text(encoding="utf-8")
    except OSError:
        return None
    _, found, rest = text.partition("Grund:\n")
    return rest.split("\n\nWas tun:", 1)[0].strip() if found else None


def follow(paths: DataPaths, records: list[DeliveryRecord]) -> list[DeliveryState]:
    states = [DeliveryState(record, "received") for record in records]
    published = _published(paths, records)
    for state in states:
        record = state.record
        folder = paths.inbox_for(record.source_id)
        moved = _moved(folder, record)
        row = published["deliveries"].get((record.source_id, record.sha256))
        if row is not None:
            state.state, state.records_loaded, state.records_quarantined = row
            state.published_at, state.publication_run = published["publication"]
            state.quarantined = published["quarantine"].get(record.sha256, [])
            if state.state == "received":  # archived, not yet parsed when it was published
                state.state = "waiting"
        elif moved is None and _waiting(folder / record.stored_name, record):
            state.state = "waiting"
        elif moved is not None:
            state.state = moved[0]
        if state.state == "rejected":
            state.reason_de = _reason_de(moved[1]) if moved else None
            state.records_loaded = state.records_quarantined = None
    return states


def _published(paths: DataPaths, records: list[DeliveryRecord]) -> dict:
    found: dict = {"deliveries": {}, "quarantine": {}, "publication": (None, None)}
    if not records or not paths.published_db.exists():
        return found
    hashes = sorted({r.sha256 for r in records})
    try:
        conn = duckdb.connect(str(paths.published_db), read_only=True)
    except duckdb.Error:  # replaced at this moment, or not yet complete: as if not published
        return found
    with conn:
        found["publication"] = conn.execute(
            "SELECT published_at, run_id FROM meta.publication"
        ).fetchone() or (None, None)
        for source_id, sha, state, loaded, quarantined in conn.execute(
            "SELECT source_id, delivery_id, state, records_loaded, records_quarantined "
            "FROM meta.deliveries WHERE list_contains(?, delivery_id)",
            [hashes],
        ).fetchall():
            found["deliveries"][(source_id, sha)] = (state, loaded, quarantined)
        for sha, line, column, raw, check in conn.execute(
            "SELECT delivery_id, source_line, source_column, raw_value, check_name "
            "FROM quality.quarantine WHERE list_contains(?, delivery_id) "
            "QUALIFY row_number() OVER (PARTITION BY delivery_id ORDER BY source_line, "
            "source_column) <= ? ORDER BY delivery_id, source_line, source_column",
            [hashes, QUARANTINE_SHOWN],
        ).fetchall():
            found["quarantine"].setdefault(sha, []).append(
                QuarantinedLine(line, column, raw, _todo_de(check))
            )
    return found
