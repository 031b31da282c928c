"""Headless Chromium (Debian package `chromium`) for the tests of pages people look at."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Chromium is needed for this test: `./go test` installs the Debian package "
                    "'chromium' (or: apt-get install chromium)")  # fmt: skip
    return path


def render(url: str, screenshot: Path | None = None, wait_ms: int = 3000) -> str:
    """The page's DOM after its scripts ran (and a screenshot, if asked)."""
    with tempfile.TemporaryDirectory() as profile:
        args = [chromium(), *FLAGS, f"--user-data-dir={profile}", "--window-size=1400,1000",
                f"--virtual-time-budget={wait_ms}"]  # fmt: skip
        dom = subprocess.run([*args, "--dump-dom", url], capture_output=True, text=True,
                             timeout=120).stdout  # fmt: skip
        if screenshot is not None:
            subprocess.run([*args, f"--screenshot={screenshot}", url], capture_output=True,
                           timeout=120)  # fmt: skip
    return dom
