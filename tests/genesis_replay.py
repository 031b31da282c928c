"""Loopback HTTP servers for the client tests: a GENESIS replay and a paginated JSON API.

`GenesisReplayServer` replays a real recording of the GENESIS-Online REST service (a vcrpy
cassette of the pystatis test suite, `../shared/data/genesis-recordings/<name>.yaml`) on
127.0.0.1 over real HTTP:

    with GenesisReplayServer("11111-02-01-4", username="u", password="p") as server:
        client = GenesisClient(GenesisSettings(server.base_url), GenesisCredentials("u", "p"))
        client.fetch_table("11111-02-01-4", {"compress": "false"})
        server.requests  # every request received: path, form fields, headers

- each POST is matched by its path after the base path (`data/tablefile`) and its form fields:
  a field empty or absent on either side is ignored, but `name`, `selection` and `job` must
  agree (absent counts as empty); `username`/`password` in a body are never matched;
- repeated requests matching the same recordings consume them in order; after the last one,
  the last repeats (so the ~400 polls of the 12531-0043 job replay as recorded);
- the recorded status, content type (and Content-Disposition) and body are served with a
  correct Content-Length;
- the credential headers `username` and `password` must equal the configured ones, else HTTP
  401 with a JSON status body;
- an unmatched request gets HTTP 404 with a JSON status body and is listed in `unmatched`;
- `faults` (a list of `Fault`) replace the answer to the next matching request(s): an HTTP
  status (500, 429 with Retry-After, …), a hang, a truncated body, a zip without a CSV, an
  HTML page; a fault does not consume the recording, so a retry gets the recorded answer;
- `response_delay` delays every answer; `max_in_flight` is the largest number of requests the
  server was handling at the same time.

`PagedJsonServer` serves `{count, next, results}` pages of a list of records (with the same
faults, request log and token check).
"""

from __future__ import annotations

import abc
import csv
import functools
import io
import json
import threading
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit

import pytest
import yaml

RECORDINGS = Path(__file__).resolve().parents[2] / "shared/data/genesis-recordings"
STRICT_FIELDS = ("name", "selection", "job")
IGNORED_FIELDS = frozenset({"username", "password"})
BASE_MARKER = "/rest/2020/"
Answer = Callable[[], None] | None  # sends the answer (outside the in-flight count)
HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>GENESIS-Online</title>"
    b"<style>body{color:red}</style></head><body><h1>Wartungsarbeiten</h1>"
    b"<p>Die Datenbank ist wegen Wartungsarbeiten voruebergehend nicht erreichbar.</p>"
    b"</body></html>"
)


# --------------------------------------------------------------------------------------------
# Recordings
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interaction:
    index: int
    method: str
    base_path: str  # "/genesisws/rest/2020/"
    path: str  # "data/tablefile"
    fields: dict[str, str]
    status: int
    reason: str
    content_type: str
    disposition: str | None
    body: bytes


def recording_path(name: str) -> Path:
    path = RECORDINGS / f"{name}.yaml"
    if not path.exists():
        pytest.skip(f"GENESIS recording {path} is not available (needs ../shared/data)")
    return path


@functools.lru_cache(maxsize=8)
def load_cassette(name: str) -> tuple[Interaction, ...]:
    """The interactions of recording `name` (parsed once per test session)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    cassette = yaml.load(recording_path(name).read_bytes(), Loader=loader)
    interactions = []
    for index, item in enumerate(cassette["interactions"]):
        request, response = item["request"], item["response"]
        url = urlsplit(request["uri"])
        cut = url.path.index(BASE_MARKER) + len(BASE_MARKER)
        body = request.get("body") or ""
        if isinstance(body, bytes):
            body = body.decode("utf-8")
        payload = response["body"]["string"]
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        headers = {k.lower(): v[0] for k, v in response["headers"].items()}
        interactions.append(
            Interaction(
                index=index,
                method=request["method"].upper(),
                base_path=url.path[:cut],
                path=url.path[cut:],
                fields=dict(parse_qsl(body, keep_blank_values=True)),
                status=int(response["status"]["code"]),
                reason=response["status"].get("message") or "",
                content_type=headers.get("content-type", "application/octet-stream"),
                disposition=headers.get("content-disposition"),
                body=payload,
            )
        )
    return tuple(interactions)


def recorded_zip(name: str, path: str = "data/tablefile") -> bytes:
    """The first zip body recorded for `path` in recording `name`."""
    for interaction in load_cassette(name):
        if interaction.path == path and interaction.body.startswith(b"PK\x03\x04"):
            return interaction.body
    raise AssertionError(f"no zip answer to {path} in recording {name}")


def flat_rows(body: bytes) -> list[dict[str, str]]:
    """The lines of a recorded flat file: a zip holding one ffcsv (UTF-8 with BOM, ';')."""
    archive = zipfile.ZipFile(io.BytesIO(body))
    text = archive.read(archive.namelist()[0]).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


# the symbols of the statistical offices as the recordings write them (Zeichenerklärung):
# the value and status a cell holding one has
SYMBOLS = {"-": (0.0, "ok"), ".": (None, "suppressed"), "...": (None, "not_available"),
           "/": (None, "unreliable"), "x": (None, "not_applicable")}  # fmt: skip


def fields_match(recorded: dict[str, str], sent: dict[str, str]) -> bool:
    """Fields empty or absent on either side are ignored; `name`, `selection` and `job` must
    agree (absent = empty; for `job`, absent = "false", the service's default)."""
    for key in STRICT_FIELDS:
        default = "false" if key == "job" else ""
        if (recorded.get(key) or default) != (sent.get(key) or default):
            return False
    for key in (set(recorded) | set(sent)) - set(STRICT_FIELDS) - IGNORED_FIELDS:
        mine, theirs = recorded.get(key, ""), sent.get(key, "")
        if mine and theirs and mine != theirs:
            return False
    return True


# --------------------------------------------------------------------------------------------
# Faults and the request log
# --------------------------------------------------------------------------------------------


@dataclass
class Fault:
    """Replaces the answer to the next `times` requests whose path matches `path`.

    `path` is the path after the base path for the GENESIS replay (`data/tablefile`), the URL
    path for the JSON server; None matches every request. Build with the class methods.
    """

    action: str  # status | hang | truncate | zip_without_csv | html
    path: str | None = None
    times: int = 1
    status: int = 500
    retry_after: str | None = None
    seconds: float = 5.0
    keep_length: bool = False
    body: bytes | None = None
    served: int = 0

    @classmethod
    def http_error(
        cls, status: int = 500, *, path: str | None = None, times: int = 1,
        retry_after: str | None = None,
    ) -> Fault:  # fmt: skip
        return cls("status", path, times, status=status, retry_after=retry_after)

    @classmethod
    def too_many_requests(
        cls, retry_after: str = "0.05", *, path: str | None = None, times: int = 1
    ) -> Fault:
        return cls("status", path, times, status=429, retry_after=retry_after)

    @classmethod
    def hang(cls, seconds: float = 2.0, *, path: str | None = None, times: int = 1) -> Fault:
        """Answer nothing for `seconds` (longer than the client's timeout), then hang up."""
        return cls("hang", path, times, seconds=seconds)

    @classmethod
    def truncated(
        cls, *, path: str | None = None, times: int = 1, keep_length: bool = False
    ) -> Fault:
        """The recorded body cut in half: announced with its full Content-Length and the
        connection closed early, or (`keep_length`) with a matching Content-Length, so that
        only the zip fails to open."""
        return cls("truncate", path, times, keep_length=keep_length)

    @classmethod
    def zip_without_csv(cls, *, path: str | None = None, times: int = 1) -> Fault:
        return cls("zip_without_csv", path, times)

    @classmethod
    def zip_with_two_csv(cls, *, path: str | None = None, times: int = 1) -> Fault:
        return cls("zip_with_two_csv", path, times)

    @classmethod
    def html(cls, body: bytes | None = None, *, path: str | None = None, times: int = 1) -> Fault:
        """An HTML page with status 200 where JSON or a zip was expected."""
        return cls("html", path, times, body=body if body is not None else HTML_PAGE)

    def applies(self, path: str) -> bool:
        return self.served < self.times and (self.path is None or self.path == path)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # after the base path (GENESIS) or the URL path (JSON server)
    query: dict[str, str]
    fields: dict[str, str]
    headers: dict[str, str]
    body: str
    at: float = field(default_factory=time.monotonic)


def make_zip(members: dict[str, bytes]) -> bytes:
    """A zip of `members` (fixed timestamps: the same bytes every time)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, payload in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2024, 6, 1, 0, 0, 0)), payload)
    return buffer.getvalue()


def status_json(code: int, content: str, kind: str = "Fehler") -> bytes:
    return json.dumps(
        {
            "Ident": {"Service": "replay", "Method": "replay"},
            "Status": {"Code": code, "Content": content, "Type": kind},
            "Parameter": None,
            "Object": None,
            "Copyright": "replay server of the Bildungsmonitor tests",
        },
        ensure_ascii=False,
    ).encode("utf-8")


# --------------------------------------------------------------------------------------------
# The server machinery
# --------------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else every answer waits ~40 ms for a delayed ACK
    owner: _LoopbackServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.owner._dispatch(self, "GET")

    def do_POST(self) -> None:
        self.owner._dispatch(self, "POST")

    def send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
        *,
        declared_length: int | None = None,
        close: bool = False,
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header(
                "Content-Length", str(len(body) if declared_length is None else declared_length)
            )
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class _LoopbackServer(abc.ABC):
    """A ThreadingHTTPServer on 127.0.0.1 (ephemeral port) in a daemon thread; a subclass
    decides what each request is answered with."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.faults: list[Fault] = []
        self.response_delay = 0.0
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> _LoopbackServer:
        handler = type("Handler", (_Handler,), {"owner": self})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> _LoopbackServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return self._server.server_address[1]

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- request handling -------------------------------------------------------------------

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.applies(path):
                    fault.served += 1
                    return fault
        return None

    def _dispatch(self, handler: _Handler, method: str) -> None:
        url = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        text = raw.decode("utf-8", "replace")
        content_type = handler.headers.get("Content-Type") or ""
        form = (
            dict(parse_qsl(text, keep_blank_values=True))
            if "x-www-form-urlencoded" in content_type
            else {}
        )
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.response_delay:
                self._stop.wait(self.response_delay)
            path = self._relative_path(url.path)
            self.requests.append(
                RecordedRequest(
                    method=method,
                    path=path if path is not None else url.path,
                    query=dict(parse_qsl(url.query, keep_blank_values=True)),
                    fields=form,
                    headers={k.lower(): v for k, v in handler.headers.items()},
                    body=text,
                )
            )
            answer = self._answer(handler, method, url, path, form)
        finally:
            with self._lock:
                self.in_flight -= 1
        if answer is not None:
            answer()

    def _relative_path(self, path: str) -> str | None:
        return path

    @abc.abstractmethod
    def _answer(
        self, handler: _Handler, method: str, url: SplitResult, path: str | None,
        form: dict[str, str],
    ) -> Answer:  # fmt: skip
        """A callable that sends the response to this request (None: already answered)."""

    def _fault_answer(
        self, handler: _Handler, fault: Fault, recorded: bytes | None, ctype: str
    ) -> Answer:
        """A callable that sends the fault's answer (None: let the caller answer normally)."""
        if fault.action == "status":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            body = (
                f"<html><body><h1>{fault.status}</h1><p>Fehler {fault.status}</p></body></html>"
            ).encode()
            return lambda: handler.send(fault.status, body, "text/html", headers)
        if fault.action == "hang":

            def hang() -> None:
                self._stop.wait(fault.seconds)
                handler.close_connection = True

            return hang
        if fault.action == "html":
            body = fault.body or HTML_PAGE
            return lambda: handler.send(200, body, "text/html;charset=UTF-8")
        if fault.action == "zip_without_csv":
            body = make_zip({"readme.txt": b"no table here\n", "meta.xml": b"<x/>"})
            return lambda: handler.send(200, body, "application/zip")
        if fault.action == "zip_with_two_csv":
            body = make_zip({"a_flat.csv": b"a;b\n1;2\n", "b_flat.csv": b"a;b\n3;4\n"})
            return lambda: handler.send(200, body, "application/zip")
        if fault.action == "truncate":
            assert recorded is not None, "a truncate fault needs a recorded body"
            cut = recorded[: max(len(recorded) // 2, 1)]
            if fault.keep_length:
                return lambda: handler.send(200, cut, ctype, close=True)
            return lambda: handler.send(200, cut, ctype, declared_length=len(recorded), close=True)
        raise AssertionError(f"unknown fault action {fault.action!r}")


class GenesisReplayServer(_LoopbackServer):
    """Replays a GENESIS recording; see the module docstring."""

    def __init__(
        self,
        recording: str | Sequence[Interaction],
        *,
        username: str = "bm-user-7f3a",
        password: str = "bm-secret-91c2",
    ) -> None:
        super().__init__()
        self.interactions = (
            load_cassette(recording) if isinstance(recording, str) else tuple(recording)
        )
        if not self.interactions:
            raise ValueError("no interactions to replay")
        self.base_path = self.interactions[0].base_path
        self.username = username
        self.password = password
        self.unmatched: list[RecordedRequest] = []
        self._consumed: set[int] = set()

    def __enter__(self) -> GenesisReplayServer:
        self.start()
        return self

    @property
    def base_url(self) -> str:
        return f"{self.origin}{self.base_path.rstrip('/')}"

    def calls(self, path: str) -> list[RecordedRequest]:
        return [request for request in self.requests if request.path == path]

    def _relative_path(self, path: str) -> str | None:
        return path[len(self.base_path) :] if path.startswith(self.base_path) else None

    def _match(
        self, method: str, path: str, form: dict[str, str], consume: bool
    ) -> Interaction | None:
        candidates = [
            i
            for i in self.interactions
            if i.method == method and i.path == path and fields_match(i.fields, form)
        ]
        if not candidates:
            return None
        with self._lock:
            for interaction in candidates:
                if interaction.index not in self._consumed:
                    if consume:
                        self._consumed.add(interaction.index)
                    return interaction
        return candidates[-1]

    def _answer(
        self, handler: _Handler, method: str, url: SplitResult, path: str | None,
        form: dict[str, str],
    ) -> Answer:  # fmt: skip
        if path is None:
            self.unmatched.append(self.requests[-1])
            body = status_json(-1, f"replay: {url.path} is not under {self.base_path}")
            return lambda: handler.send(404, body, "application/json")
        if (
            handler.headers.get("username") != self.username
            or handler.headers.get("password") != self.password
        ):
            body = status_json(
                -1, "Anmeldung fehlgeschlagen (replay server: wrong or missing credentials)"
            )
            return lambda: handler.send(401, body, "application/json;charset=UTF-8")
        fault = self._take_fault(path)
        if fault is not None:
            recorded = None
            ctype = "application/octet-stream"
            if fault.action == "truncate":
                interaction = self._match(method, path, form, consume=False)
                assert interaction is not None, f"no recording for {path} {form}"
                recorded, ctype = interaction.body, interaction.content_type
            return self._fault_answer(handler, fault, recorded, ctype)
        interaction = self._match(method, path, form, consume=True)
        if interaction is None:
            self.unmatched.append(self.requests[-1])
            shown = "&".join(f"{k}={v}" for k, v in form.items() if v and k not in IGNORED_FIELDS)
            body = status_json(-1, f"replay: no recorded answer for {method} {path} {shown}")
            return lambda: handler.send(404, body, "application/json")
        headers = (
            {"Content-Disposition": interaction.disposition} if interaction.disposition else {}
        )
        return lambda: handler.send(
            interaction.status, interaction.body, interaction.content_type, headers
        )


class PagedJsonServer(_LoopbackServer):
    """Serves `records` as `{count, next, results}` pages at `path`.

    `?page_size=N&page=K` selects the page (defaults: `default_page_size`, 1).
    `next_style`: "absolute" (http://127.0.0.1:…/api/items/?…), "root" (/api/items/?…) or
    "query" (?…). `count` overrides the count reported (to lie about it); `loop_at_page=k`
    makes page k's `next` point back to page 2; `not_json_page=k` answers page k with HTML.
    With `token`, requests need the header `token_header: token_prefix + token`, or with
    `token_param` the query parameter `token_param=token` (else 401).
    """

    def __init__(
        self,
        records: Sequence[dict[str, Any]],
        *,
        path: str = "/api/items/",
        page_size_param: str = "page_size",
        default_page_size: int = 100,
        next_style: str = "absolute",
        count: int | None = None,
        loop_at_page: int | None = None,
        not_json_page: int | None = None,
        token: str | None = None,
        token_header: str = "Authorization",
        token_prefix: str = "Token ",
        token_param: str | None = None,
    ) -> None:
        super().__init__()
        self.records = list(records)
        self.path = path
        self.page_size_param = page_size_param
        self.default_page_size = default_page_size
        self.next_style = next_style
        self.count = count
        self.loop_at_page = loop_at_page
        self.not_json_page = not_json_page
        self.token = token
        self.token_header = token_header
        self.token_prefix = token_prefix
        self.token_param = token_param  # the token in this query parameter instead of a header

    def __enter__(self) -> PagedJsonServer:
        self.start()
        return self

    @property
    def url(self) -> str:
        return f"{self.origin}{self.path}"

    def _page_url(self, page: int, size: int) -> str:
        query = urlencode({"page": page, self.page_size_param: size})
        if self.next_style == "absolute":
            return f"{self.url}?{query}"
        if self.next_style == "root":
            return f"{self.path}?{query}"
        return f"?{query}"

    def _answer(
        self, handler: _Handler, method: str, url: SplitResult, path: str | None,
        form: dict[str, str],
    ) -> Answer:  # fmt: skip
        if method != "GET" or url.path != self.path:
            body = json.dumps({"detail": "Not found."}).encode()
            return lambda: handler.send(404, body, "application/json")
        if self.token_param is not None:
            sent = dict(parse_qsl(url.query)).get(self.token_param)
        else:
            sent = handler.headers.get(self.token_header)
            sent = (
                sent[len(self.token_prefix) :]
                if sent and sent.startswith(self.token_prefix)
                else None
            )
        if self.token is not None and sent != self.token:
            body = json.dumps({"detail": "Invalid token."}).encode()
            return lambda: handler.send(401, body, "application/json")
        fault = self._take_fault(url.path)
        if fault is not None:
            return self._fault_answer(handler, fault, None, "application/json")
        query = dict(parse_qsl(url.query))
        size = int(query.get(self.page_size_param, self.default_page_size))
        page = int(query.get("page", 1))
        if page == self.not_json_page:
            return lambda: handler.send(200, HTML_PAGE, "text/html")
        start = (page - 1) * size
        results = self.records[start : start + size]
        more = start + size < len(self.records)
        next_url = self._page_url(page + 1, size) if more else None
        if self.loop_at_page is not None and page == self.loop_at_page:
            next_url = self._page_url(2, size)
        body = json.dumps(
            {
                "count": len(self.records) if self.count is None else self.count,
                "next": next_url,
                "previous": None,
                "results": results,
            }
        ).encode()
        return lambda: handler.send(200, body, "application/json")
