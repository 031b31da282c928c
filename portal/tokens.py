"""The partners' access tokens: issued by the office, stored only as Argon2 hashes, revocable.

A token reads `bmp_<id>_<secret>`. The id finds the stored entry (so a sign-in verifies one
hash, not all of them); the secret is checked against the entry's Argon2id hash. The file
`<data dir>/portal/tokens.json` is written only by `bildungsmonitor portal add-partner` and
`revoke` (the office), atomically (temp file + rename, under a lock), readable by the portal
service; the portal re-reads it when it changes, so a revocation holds at the next request.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, ConfigDict

PREFIX = "bmp"
# OWASP's Argon2id minimum (19 MiB, 2 passes): the secrets are 256 random bits, so the hash
# guards a leaked tokens.json, not a guessable password; a sign-in costs ~0.05 s, not 0.5 s
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# verified when a token's id is unknown, so that a wrong id takes as long as a wrong secret
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


class StoredToken(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    partner: str
    hash: str
    issued_at: dt.datetime
    revoked_at: dt.datetime | None = None


class TokenFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tokens: list[StoredToken] = []


@dataclass(frozen=True)
class Issued:
    token: str  # shown once, never stored
    token_id: str
    partner: str


def tokens_path(portal_dir: Path) -> Path:
    return portal_dir / "tokens.json"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


class TokenStore:
    def __init__(self, portal_dir: Path) -> None:
        self.path = tokens_path(portal_dir)
        self._cached: tuple[tuple[int, int, int], dict[str, StoredToken]] | None = None
        self._lock = threading.Lock()

    # --- the office's side: issue and revoke ------------------------------------------------

    @contextmanager
    def _editing(self) -> Iterator[TokenFile]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            content = self._read_file()
            yield content
            temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            temporary.write_text(content.model_dump_json(indent=2) + "\n", encoding="utf-8")
            os.chmod(temporary, 0o640)
            os.replace(temporary, self.path)

    def _read_file(self) -> TokenFile:
        try:
            return TokenFile.model_validate_json(self.path.read_bytes())
        except FileNotFoundError:
            return TokenFile()

    def issue(self, partner: str) -> Issued:
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        with self._editing() as content:
            content.tokens.append(
                StoredToken(
                    id=token_id, partner=partner, hash=_HASHER.hash(secret), issued_at=_now()
                )
            )
        return Issued(f"{PREFIX}_{token_id}_{secret}", token_id, partner)

    def revoke(self, partner: str, token_id: str | None = None) -> list[str]:
        """Revoke the partner's tokens (or the one `token_id`); the ids revoked."""
        revoked = []
        with self._editing() as content:
            for stored in content.tokens:
                if stored.partner != partner or stored.revoked_at is not None:
                    continue
                if token_id is None or stored.id == token_id:
                    stored.revoked_at = _now()
                    revoked.append(stored.id)
        return revoked

    def listing(self) -> list[StoredToken]:
        return self._read_file().tokens

    # --- the portal's side: check ------------------------------------------------------------

    def _current(self) -> dict[str, StoredToken]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return {}
        key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)  # each write is a new file
        with self._lock:
            if self._cached is None or self._cached[0] != key:
                tokens = {t.id: t for t in self._read_file().tokens}
                self._cached = (key, tokens)
            return self._cached[1]

    def verify(self, token: str) -> StoredToken | None:
        """The stored entry of a valid, unrevoked token; None otherwise."""
        prefix, _, rest = token.strip().partition("_")
        token_id, _, secret = rest.partition("_")
        stored = self._current().get(token_id) if prefix == PREFIX else None
        try:
            _HASHER.verify(stored.hash if stored else _DUMMY_HASH, secret or "-")
        except (VerificationError, InvalidHashError):
            return None
        if stored is None or stored.revoked_at is not None:
            return None
        return stored

    def active(self, token_id: str, partner: str) -> bool:
        """Whether a signed-in session's token still holds (not revoked, same partner)."""
        stored = self._current().get(token_id)
        return stored is not None and stored.partner == partner and stored.revoked_at is None
