"""The screener as the portal runs it: `expectations.screening.screen_delivery`, the same call
as `bildungsmonitor screen`, so the verdicts are the same.

Two things only the server needs. At most as many screenings run at once as there are cores
(a large file's screening uses DuckDB's threads; a crowd of uploads queues instead of
thrashing). And a file sent again unchanged — the same bytes, name and source, against the
same publication — gets the report already made for it: a partner who reloads or goes back
and sends again waits once, and when the same file arrives many times at once it is screened
once while the others wait for that result.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path

import anyio
import anyio.to_thread

from expectations.screening import Report, screen_delivery
from sources.registry import Source

KEPT_REPORTS = 64


class Screener:
    def __init__(self, registry: dict[str, Source], published: Path) -> None:
        self.registry, self.published = registry, published
        self._limiter = anyio.CapacityLimiter(os.cpu_count() or 2)
        self._reports: OrderedDict[tuple, Report] = OrderedDict()
        self._running: dict[tuple, threading.Lock] = {}
        self._lock = threading.Lock()

    def _publication(self) -> tuple[Path | None, tuple[int, int] | None]:
        try:
            stat = self.published.stat()
        except FileNotFoundError:
            return None, None
        return self.published, (stat.st_ino, stat.st_mtime_ns)

    async def screen(self, path: Path, file_name: str, source: Source, sha256: str) -> Report:
        return await anyio.to_thread.run_sync(
            self._screen, path, file_name, source, sha256, limiter=self._limiter
        )

    def _screen(self, path: Path, file_name: str, source: Source, sha256: str) -> Report:
        published, stamp = self._publication()
        key = (source.id, sha256, file_name, stamp)
        with self._lock:
            running = self._running.setdefault(key, threading.Lock())
        with running:  # the same file at the same time: screened once
            with self._lock:
                if key in self._reports:
                    self._reports.move_to_end(key)
                    return self._reports[key]
            try:
                report = screen_delivery(
                    path.read_bytes(), file_name, source, self.registry, published
                )
                with self._lock:
                    self._reports[key] = report
                    while len(self._reports) > KEPT_REPORTS:
                        self._reports.popitem(last=False)
            finally:
                with self._lock:
                    self._running.pop(key, None)
        return report
