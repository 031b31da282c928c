"""A file delivered into inbox/<source-id>/ from outside the pipeline (the partner portal), with
a delivery note saying who delivered it and when.

The note stands beside the file as a hidden file, `.<name>.delivery.json`, so the inbox listing
passes it over (warehouse/inbox.py); ingest reads it with the file and writes who delivered it
into the raw archive's manifest line and sidecar and into meta.delivery_log; when the file
leaves the inbox (processed/ or rejected/) its note goes with it, as `<moved name>.delivery.json`.

Both are placed without ever overwriting and without a half file being visible: each is
written and flushed under a temporary name first (`.….part`, which the listing skips too) and
then hard-linked to its final name — a link fails if the name is taken, and then the next free
name (`name-2.csv`, `name-3.csv` …) is tried. The note is in place before the file: a sensor
that sees the file sees its note.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import unicodedata
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from sources.archive import NOTE_SUFFIX
from warehouse.db import DataPaths
from warehouse.inbox import ARCHIVE_FOLDERS, read_regular_file

MAX_NAME = 120  # characters of a stored name, extension included
_UNSAFE = re.compile(r"[^\w.\-]+")  # \w is Unicode: Umlauts stay


class DeliveryNote(BaseModel):
    """Who delivered a file into the inbox, when, and under which name they sent it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    delivered_by: str  # the partner's id (portal/partners.yaml)
    delivered_by_name: str
    delivered_at: dt.datetime  # UTC
    original_name: str  # as the partner's browser sent it; never used as a path
    upload_id: str
    sha256: str
    channel: str = "portal"

    def line(self) -> str:
        """For meta.delivery_log's detail and the logs."""
        return (
            f"delivered by {self.delivered_by} ({self.delivered_by_name}) through the "
            f"{self.channel} at {self.delivered_at:%Y-%m-%d %H:%M:%S} UTC"
        )


def safe_name(original: str) -> str:
    """A file name that is only a name: the last part of any path (/ or \\), letters, digits,
    '.', '-', '_' (others become '_'), no leading dot, at most MAX_NAME characters.

    '../../etc/passwd' -> 'passwd'; '..\\\\x.csv' -> 'x.csv'; '' -> 'lieferung.csv'; never the
    name of the inbox's archive folders ('processed' -> 'processed_lieferung')."""
    name = unicodedata.normalize("NFC", original).replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).lstrip(".-_")
    for suffix in (".part", ".tmp", ".crdownload", ".partial", NOTE_SUFFIX):
        if name.lower().endswith(suffix):  # would be skipped by the inbox listing
            name = name[: -len(suffix)] + suffix.replace(".", "_")
    if not name:
        return "lieferung.csv"
    if name.lower() in ARCHIVE_FOLDERS:  # a file there would block the inbox (warehouse/inbox)
        name = f"{name}_lieferung"
    stem, dot, extension = name.rpartition(".")
    if not dot or len(extension) > 10:
        stem, extension = name, ""
    room = MAX_NAME - (len(extension) + 1 if extension else 0)
    return f"{stem[:room]}.{extension}" if extension else stem[:MAX_NAME]


def note_path(path: Path) -> Path:
    """Where the note of an inbox file stands (hidden, beside it)."""
    return path.with_name(f".{path.name}{NOTE_SUFFIX}")


def moved_note_path(moved: Path) -> Path:
    """Where the note goes when its file is moved to processed/ or rejected/."""
    return moved.with_name(moved.name + NOTE_SUFFIX)


def read_note(path: Path) -> DeliveryNote | None:
    """The note of an inbox file, if it has a valid one (a broken note is not an error: the
    file is still a delivery, only its deliverer is unknown)."""

    data = read_regular_file(note_path(path))
    if data is None:
        return None
    try:
        return DeliveryNote.model_validate_json(data)
    except ValidationError:
        return None


def _candidates(name: str):
    yield name
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    for number in range(2, 10_000):
        yield f"{stem}-{number}.{extension}" if extension else f"{stem}-{number}"


def _write_temporary(folder: Path, data_from: Path | bytes) -> Path:
    temporary = folder / f".{secrets.token_hex(8)}.part"
    with open(temporary, "xb") as target:
        if isinstance(data_from, bytes):
            target.write(data_from)
        else:
            with open(data_from, "rb") as source:
                while chunk := source.read(1 << 20):
                    target.write(chunk)
        target.flush()
        os.fsync(target.fileno())
    return temporary


def deliver_into_inbox(paths: DataPaths, source_id: str, staged: Path, note: DeliveryNote) -> Path:
    """Place the file `staged` into inbox/<source_id>/ under a safe name derived from
    `note.original_name`, with its note; returns the file's path in the inbox."""
    folder = paths.inbox_for(source_id)
    folder.mkdir(parents=True, exist_ok=True)
    file_temporary = _write_temporary(folder, staged)
    note_temporary = _write_temporary(folder, note.model_dump_json(indent=2).encode())
    try:
        for candidate in _candidates(safe_name(note.original_name)):
            target = folder / candidate
            try:
                os.link(note_temporary, note_path(target))
            except FileExistsError:
                continue
            try:
                os.link(file_temporary, target)
            except FileExistsError:
                os.unlink(note_path(target))
                continue
            return target
        raise FileExistsError(f"{folder}: no free name for {note.original_name!r}")
    finally:
        os.unlink(file_temporary)
        os.unlink(note_temporary)
