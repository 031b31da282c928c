"""Headless Chromium (Debian package `chromium`) for the tests of pages people look at."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
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


# --- a page under watch: Chromium driven over the DevTools protocol ---------------------------

OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND"  # no host name resolves: nothing leaves


@dataclass
class Visit:
    """What one page load did: every request, what failed, what the console said."""

    url: str
    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # console errors, uncaught exceptions

    def external(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(("file:", "data:", "blob:"))]


class Browser:
    """One headless Chromium for many pages, driven over --remote-debugging-pipe (no port):
    every request, failed load and console error of a page is recorded."""

    def __init__(self, width: int = 1400, height: int = 1000, loopback: bool = False) -> None:
        # loopback: pages of a server on 127.0.0.1 load; every other host still resolves nowhere
        offline = OFFLINE + (", EXCLUDE 127.0.0.1" if loopback else "")
        self._profile = tempfile.TemporaryDirectory()
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        # Chromium reads commands on fd 3 and writes answers on fd 4; the child's ends are
        # first moved above both, so that placing one cannot overwrite the other
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_chrome_r, from_chrome_w)]
        for fd in (to_chrome_r, from_chrome_w):
            os.close(fd)
        self._process = subprocess.Popen(
            [chromium(), *FLAGS, offline, f"--user-data-dir={self._profile.name}",
             f"--window-size={width},{height}", "--remote-debugging-pipe", "about:blank"],
            pass_fds=(3, 4),
            preexec_fn=lambda: (os.dup2(high[0], 3), os.dup2(high[1], 4)),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for fd in high:
            os.close(fd)
        self._buffer = b""
        self._id = 0
        self._events: list[dict] = []
        targets = self.send("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self._session = self.send("Target.attachToTarget", targetId=page["targetId"],
                                  flatten=True)["sessionId"]  # fmt: skip
        for domain in ("Page", "Network", "Runtime", "Log"):
            self.send(f"{domain}.enable", session=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.send("Browser.close")
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=10)
        if self._process.poll() is None:
            self._process.kill()
        for fd in (self._to_chrome, self._from_chrome):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._profile.cleanup()

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("Chromium did not answer")
            ready, _, _ = select.select([self._from_chrome], [], [], 0.5)
            if ready:
                chunk = os.read(self._from_chrome, 1 << 20)
                if not chunk:
                    raise RuntimeError("Chromium closed the DevTools pipe")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, session: bool = False, timeout: float = 60, **params) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = self._session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._read(deadline)
            if answer.get("id") == self._id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self._events.append(answer)

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", session=True, expression=expression,
                           returnByValue=True)  # fmt: skip
        return result["result"].get("value")

    def visit(
        self, url: str, ready: str = "document.readyState === 'complete'", timeout: float = 30
    ) -> Visit:
        """Load `url` and wait until the JavaScript expression `ready` is true."""
        self._events.clear()
        self.send("Page.navigate", session=True, url=url)
        deadline = time.monotonic() + timeout
        while not self._settled(f"document.URL === {json.dumps(url)} && ({ready})"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url}: not ready ({ready}) after {timeout} s")
            time.sleep(0.02)
        self.evaluate("1")  # a round trip: events sent before it have arrived
        visit = Visit(url)
        urls: dict[str, str] = {}
        for event in self._events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Network.requestWillBeSent":
                visit.requests.append(params["request"]["url"])
                urls[params["requestId"]] = params["request"]["url"]
            elif method == "Network.loadingFailed":
                failed = urls.get(params.get("requestId"), "?")
                visit.failed.append(f"{failed}: {params.get('errorText')}")
            elif method == "Runtime.exceptionThrown":
                visit.errors.append(json.dumps(params["exceptionDetails"])[:500])
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                visit.errors.append(json.dumps(params.get("args"))[:500])
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                visit.errors.append(params["entry"].get("text", "")[:500])
        return visit

    def screenshot(self, path: Path) -> None:
        """The whole page, not only the window."""
        shot = self.send("Page.captureScreenshot", session=True, format="png",
                         captureBeyondViewport=True)  # fmt: skip
        path.write_bytes(base64.b64decode(shot["data"]))

    def wait_for(self, expression: str, timeout: float = 30) -> None:
        """Wait until the JavaScript expression is true (after a click that loads a page)."""
        deadline = time.monotonic() + timeout
        while not self._settled(f"document.readyState === 'complete' && ({expression})"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"not true after {timeout} s: {expression}")
            time.sleep(0.05)

    def _settled(self, expression: str):
        """The expression's value; False while the page is being replaced by the next one."""
        try:
            return self.evaluate(expression)
        except RuntimeError as exc:
            if "navigated or closed" in str(exc) or "context was destroyed" in str(exc):
                return False
            raise

    def set_files(self, selector: str, *files: Path) -> None:
        """Choose files in an <input type=file>, as a person does in the file dialog."""
        root = self.send("DOM.getDocument", session=True)["root"]["nodeId"]
        node = self.send("DOM.querySelector", session=True, nodeId=root, selector=selector)
        self.send("DOM.setFileInputFiles", session=True, nodeId=node["nodeId"],
                  files=[str(f) for f in files])  # fmt: skip
