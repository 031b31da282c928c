"""The raw archive: every payload exactly as delivered, content-addressed, never overwritten.

Layout under the data directory:

    raw/sha256/<ab>/<sha256>        the bytes (read-only); <ab> = the first two hex digits
    raw/sha256/<ab>/<sha256>.json   who delivered it first, when, under which name
    raw/manifest.jsonl          append-only: one line per new (source, payload) pair

Where payloads come from: the source's `location` in the registry (the bundled demo files, or
a partner's fixed path) and the inbox folder `inbox/<source-id>/`, into which partners drop
files. Only regular files directly inside the inbox folder are taken: sub-folders (processed/,
rejected/), hidden files and partial uploads (*.part, *.tmp) are left alone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from sources.registry import Source

PARTIAL_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial")
# the delivery note beside an inbox file: who delivered it, when (warehouse/inbox_delivery.py)
NOTE_SUFFIX = ".delivery.json"


@dataclass(frozen=True)
class Payload:
    source_id: str
    file_name: str  # the delivered name (base name only: never a path)
    origin: str  # "demo:<relative path>" / "location:<path>" / "inbox:<name>"
    path: Path  # where it was found
    data: bytes
    # who delivered it and when (UTC, ISO), if its inbox file came with a delivery note
    # (warehouse/inbox_delivery.py: the partner portal writes one)
    delivered_by: str | None = None
    delivered_at: str | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def from_inbox(self) -> bool:
        return self.origin.startswith("inbox:")


@dataclass(frozen=True)
class Archived:
    sha256: str
    relative_path: str  # relative to the data directory
    newly_stored: bool  # False: the same bytes were archived before


def inbox_files(inbox_dir: Path) -> list[Path]:
    """Files a partner dropped into inbox/<source-id>/, oldest first, then by name."""
    if not inbox_dir.is_dir():
        return []
    files = [
        p
        for p in inbox_dir.iterdir()
        if p.is_file()
        and not p.is_symlink()
        and not _hidden(p.name)
        and not p.name.endswith(PARTIAL_SUFFIXES)
    ]
    return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))


def _hidden(name: str) -> bool:
    """Dot files (.DS_Store, .~lock…) are not deliveries; a Windows path kept in the name
    (`..\\..\\file.csv`) is one — its base name is used, so it cannot leave the inbox."""
    return name.startswith(".") and not name.startswith("..\\")


def collect_payloads(source: Source, inbox_dir: Path) -> list[Payload]:
    """Every payload currently offered by the source: its location, then its inbox."""
    payloads = []
    for path in source.location_paths():
        try:
            origin = "demo:" + path.relative_to(Path(__file__).resolve().parent).as_posix()
        except ValueError:
            origin = f"location:{path}"
        payloads.append(Payload(source.id, path.name, origin, path, path.read_bytes()))
    for path in inbox_files(inbox_dir):
        payloads.append(
            Payload(source.id, path.name, f"inbox:{path.name}", path, path.read_bytes())
        )
    return payloads


class RawArchive:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.root = data_dir / "raw"
        self.manifest = self.root / "manifest.jsonl"

    def path_for(self, sha256: str) -> Path:
        return self.root / "sha256" / sha256[:2] / sha256

    def read(self, sha256: str) -> bytes:
        return self.path_for(sha256).read_bytes()

    def store(self, payload: Payload, received_at: dt.datetime, run_id: str) -> Archived:
        sha = payload.sha256
        target = self.path_for(sha)
        newly = not target.exists()
        if newly:
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name(f".{sha}.{os.getpid()}.tmp")
            temporary.write_bytes(payload.data)
            os.chmod(temporary, 0o444)
            os.replace(temporary, target)  # atomic: a half-written payload is never visible
        sidecar_path = target.with_name(f"{sha}.json")
        if not sidecar_path.exists():  # also after a crash between payload and sidecar
            sidecar = {
                "sha256": sha,
                "size_bytes": len(payload.data),
                "first_source_id": payload.source_id,
                "first_file_name": payload.file_name,
                "first_origin": payload.origin,
                "received_at": received_at.isoformat(),
                "run_id": run_id,
                **self._deliverer(payload),
            }
            sidecar_path.write_text(
                json.dumps(sidecar, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
            )
        if newly or not self._in_manifest(payload.source_id, sha):
            line = {
                "sha256": sha,
                "source_id": payload.source_id,
                "file_name": payload.file_name,
                "origin": payload.origin,
                "size_bytes": len(payload.data),
                "received_at": received_at.isoformat(),
                "run_id": run_id,
                **self._deliverer(payload),
            }
            self.root.mkdir(parents=True, exist_ok=True)
            with self.manifest.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(line, ensure_ascii=False) + "\n")
        return Archived(sha, target.relative_to(self.data_dir).as_posix(), newly)

    @staticmethod
    def _deliverer(payload: Payload) -> dict[str, str]:
        if payload.delivered_by is None:
            return {}
        return {"delivered_by": payload.delivered_by, "delivered_at": payload.delivered_at or ""}

    def _in_manifest(self, source_id: str, sha256: str) -> bool:
        if not self.manifest.exists():
            return False
        with self.manifest.open(encoding="utf-8") as handle:
            for line in handle:
                entry = json.loads(line)
                if entry["sha256"] == sha256 and entry["source_id"] == source_id:
                    return True
        return False


def error_text(file_name: str, message: str, message_de: str | None = None) -> str:
    """The .error.txt beside a rejected file: German for the partner first, then English for
    the backbone office, clearly apart."""
    german = message_de or message
    return (
        f"Die Lieferung {file_name} wurde abgelehnt; nichts aus ihr wurde übernommen.\n\n"
        f"Grund:\n{german}\n\n"
        "Was tun: die Datei korrigieren und erneut liefern. Vorher lässt sich jede Datei mit "
        "dem Prüfprogramm prüfen (bildungsmonitor screen DATEI --source KENNUNG); bei Fragen "
        "hilft die Geschäftsstelle.\n\n"
        "--- English (for the backbone office) ---\n"
        f"The delivery {file_name} was rejected; nothing of it was loaded.\n"
        f"Reason: {message}\n"
    )


def move_out_of_inbox(
    path: Path, verdict: str, message: str | None = None, message_de: str | None = None
) -> Path | None:
    """After staging: inbox/<id>/<file> -> inbox/<id>/<verdict>/<timestamp>_<file>.

    `verdict` is "processed" or "rejected"; a rejected file gets a .error.txt beside it so the
    partner sees why (`message_de`, German, for the partner; `message` for the office). The
    bytes stay in the raw archive either way. None: the file is gone, or the verdict folder is
    a link or a file (nothing is moved).
    """
    if not path.exists():
        return None
    target_dir = path.parent / verdict
    if target_dir.is_symlink() or (target_dir.exists() and not target_dir.is_dir()):
        # never through a link (it may lead out of the data directory) nor onto a file: the
        # file stays in the inbox, and the inbox listing reports the odd entry
        return None
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    target_dir.mkdir(exist_ok=True)
    target = target_dir / f"{stamp}_{path.name}"
    counter = 1
    while target.exists():  # the same name twice within a second
        counter += 1
        target = target_dir / f"{stamp}-{counter}_{path.name}"
    shutil.move(str(path), target)
    note = path.with_name(f".{path.name}{NOTE_SUFFIX}")
    if note.is_file() and not note.is_symlink():  # who delivered it goes along with it
        os.replace(note, target.with_name(target.name + NOTE_SUFFIX))
    if message and verdict == "rejected":
        target.with_name(target.name + ".error.txt").write_text(
            error_text(path.name, message, message_de), encoding="utf-8"
        )
    return target
