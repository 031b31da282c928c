"""Inbox hygiene: what is taken from inbox/<source-id>/, and what is reported and left alone.

Partners drop files into their inbox folder; after staging, a file moves into the folder's
`processed/` or `rejected/` (sources/archive.py). Anything else a partner (or a mistake) may
put there is reported each run and skipped, never followed, so that one partner cannot stop
everyone and nothing is ever read, written or moved outside the data directory:

- a symbolic link (to a file or a folder, inside or outside the data directory),
- a folder other than processed/ and rejected/,
- a fifo, socket or device,
- a `processed` or `rejected` that is not a real folder (a plain file, a link): the archive
  folders must be folders of the inbox itself, so the inbox's files wait (reported) until it is
  fixed — moving them there would fail or leave the data directory.

The inbox folder itself, and inbox/, must be real folders too. Hidden files and partial
uploads (*.part, *.tmp …) are left alone silently, as before.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from sources.archive import PARTIAL_SUFFIXES
from warehouse.db import DataPaths

ARCHIVE_FOLDERS = ("processed", "rejected")


@dataclass(frozen=True)
class OddEntry:
    path: Path
    kind: str  # "symbolic link", "folder", "fifo", "socket", "device", "plain file", …
    consequence: str

    def message(self, root: Path) -> str:
        try:
            shown = self.path.relative_to(root).as_posix()
        except ValueError:
            shown = str(self.path)
        return f"{shown}: {self.kind} — {self.consequence}"


@dataclass
class InboxListing:
    files: list[Path] = field(default_factory=list)  # regular files to take, oldest first
    odd: list[OddEntry] = field(default_factory=list)
    waiting: list[Path] = field(default_factory=list)  # files not taken while blocked


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a fifo"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a plain file"


def _ignored(name: str) -> bool:
    """Dot files and partial uploads: not deliveries (as sources/archive.py's listing)."""
    hidden = name.startswith(".") and not name.startswith("..\\")
    return hidden or name.endswith(PARTIAL_SUFFIXES)


def scan_inbox(paths: DataPaths, source_id: str) -> InboxListing:
    """The files of inbox/<source_id>/ that may be taken, and every odd entry (lstat only:
    nothing is followed)."""
    listing = InboxListing()
    folder = paths.inbox_for(source_id)
    for level in (paths.inbox, folder):
        try:
            mode = os.lstat(level).st_mode
        except FileNotFoundError:
            return listing
        if not stat.S_ISDIR(mode):
            listing.odd.append(
                OddEntry(level, _kind(mode), "not followed; nothing is taken from it")
            )
            return listing
    blocked = False
    files: list[tuple[int, str, Path]] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if _ignored(entry.name):
                continue
            mode = entry.stat(follow_symlinks=False).st_mode
            path = Path(entry.path)
            if entry.name in ARCHIVE_FOLDERS:
                if not stat.S_ISDIR(mode):
                    blocked = True
                    listing.odd.append(
                        OddEntry(
                            path,
                            f"{_kind(mode)} where the folder for {entry.name} deliveries belongs",
                            "skipped; the inbox's files wait until it is removed or renamed",
                        )
                    )
                continue
            if stat.S_ISREG(mode):
                files.append((entry.stat(follow_symlinks=False).st_mtime_ns, entry.name, path))
            else:
                consequence = (
                    "not followed, skipped" if stat.S_ISLNK(mode) else "not a delivery, skipped"
                )
                listing.odd.append(OddEntry(path, _kind(mode), consequence))
    ordered = [path for _, _, path in sorted(files)]
    if blocked:
        listing.waiting = ordered
    else:
        listing.files = ordered
    listing.odd.sort(key=lambda odd: odd.path.name)
    return listing


def read_regular_file(path: Path) -> bytes | None:
    """The bytes of `path` if it is (still) a regular file; None if it was replaced by a link,
    a fifo … after the listing (never follows a link, never blocks on a fifo)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOENT, errno.ENXIO):
            return None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read()
    finally:
        os.close(fd)
