"""What the portal keeps under `<data dir>/portal/`:

    tokens.json             the access tokens' hashes (portal/tokens.py; the office writes it)
    uploads/<id>            an uploaded file, screened, waiting to be delivered or dropped
    uploads/<id>.json       whose it is, for which source, the screener's verdict
    deliveries.jsonl        append-only: one line per delivery made through the portal

Uploads not delivered within a day are removed. The deliveries list is what the "Meine
Lieferungen" page starts from (portal/follow.py adds what the pipeline made of each).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import re
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict

PENDING_HOURS = 24
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")


class PendingUpload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    upload_id: str
    partner: str
    source_id: str
    original_name: str
    size: int
    sha256: str
    uploaded_at: dt.datetime
    verdict: str  # PASS | WARNING | FAIL


class DeliveryRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    upload_id: str
    partner: str
    source_id: str
    original_name: str
    stored_name: str  # its name in inbox/<source_id>/
    size: int
    sha256: str
    delivered_at: dt.datetime
    verdict: str


class PortalStore:
    def __init__(self, portal_dir: Path) -> None:
        self.root = portal_dir
        self.uploads = portal_dir / "uploads"
        self.ledger = portal_dir / "deliveries.jsonl"

    def upload_path(self, upload_id: str) -> Path | None:
        """The file of an upload id (only ids the portal makes: never a path)."""
        return self.uploads / upload_id if _UPLOAD_ID.fullmatch(upload_id) else None

    def save_pending(self, pending: PendingUpload) -> None:
        path = self.uploads / f"{pending.upload_id}.json"
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(pending.model_dump_json(), encoding="utf-8")
        os.replace(temporary, path)

    def pending(self, upload_id: str) -> PendingUpload | None:
        path = self.upload_path(upload_id)
        if path is None:
            return None
        try:
            return PendingUpload.model_validate_json(path.with_suffix(".json").read_bytes())
        except FileNotFoundError:
            return None

    def claim(self, upload_id: str) -> bool:
        """Take a screened upload for its delivery: True for exactly one caller (a second
        click on "Liefern" while the first is under way finds it taken)."""
        path = self.upload_path(upload_id)
        if path is None:
            return False
        try:
            os.rename(path.with_suffix(".json"), path.with_suffix(".delivering"))
        except FileNotFoundError:
            return False
        return True

    def drop(self, upload_id: str) -> None:
        path = self.upload_path(upload_id)
        if path is not None:
            for suffix in ("", ".json", ".delivering"):
                path.with_suffix(suffix).unlink(missing_ok=True)

    def prune(self) -> None:
        """Uploads older than a day, never delivered, and partial files of broken uploads."""
        if not self.uploads.is_dir():
            return
        cutoff = time.time() - PENDING_HOURS * 3600
        for path in self.uploads.iterdir():
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink(missing_ok=True)
            except FileNotFoundError:
                continue

    def record(self, delivery: DeliveryRecord) -> None:
        """One line appended under a lock: concurrent deliveries never interleave."""
        self.root.mkdir(parents=True, exist_ok=True)
        line = delivery.model_dump_json() + "\n"
        with open(self.ledger, "a", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def deliveries(self, partner: str) -> list[DeliveryRecord]:
        """The partner's deliveries, newest first (nobody else's are read into the answer)."""
        try:
            lines = self.ledger.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        records = [DeliveryRecord.model_validate_json(line) for line in lines if line.strip()]
        mine = [r for r in records if r.partner == partner]
        return sorted(mine, key=lambda r: r.delivered_at, reverse=True)
