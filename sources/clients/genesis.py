"""Client of the GENESIS-Online REST service, version 2020.

The same software runs at Destatis (https://www-genesis.destatis.de/genesisWS/rest/2020),
Regionalstatistik (https://www.regionalstatistik.de/genesisws/rest/2020), the Landesdatenbank
NRW (https://www.landesdatenbank.nrw.de/ldbnrwws/rest/2020) and Bildungsmonitoring.de
(https://www.bildungsmonitoring.de/bildungws/rest/2020). What the client relies on, as seen in
real recordings of the service:

- every call is a POST with form-encoded parameters; the credentials travel in the HTTP
  headers `username` and `password` (a token is sent as `username` with an empty password);
  the service echoes them masked in its JSON (`"username": "****"`);
- `data/tablefile` answers a table either as the file itself (`application/zip` holding one
  `…_flat.csv` for `format=ffcsv`; Regionalstatistik zips even with `compress=false`) or as
  JSON with a status: `{"Status": {"Code": …, "Content": …, "Type": …}, "Object": …}`;
- status 0 is success, 22 success with adjusted parameters, 98 "table too large" (repeat with
  `job=true`), 99 "job created" (the job's name, `<table>_<digits>`, is at the end of the
  message), 104 "no objects for this selection", 90 "table not found", 50 "no newer data"
  (with `stand`), -1 any error (e.g. no data cube for a part of the table);
- a job is ready when `catalogue/results` (selection=<job>, area=user, pagelength=1) answers
  status 0 with the job in `List`; until then it answers 104. The result is downloaded with
  `data/resultfile` name=<job> and the table's parameters. A job of table 12531-0043 (33 MB
  CSV) took about six minutes;
- `metadata/table` gives the table's `Object.Updated`, e.g. "21.11.2023 13:47:55h".
"""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sources.clients.http import (
    MASK,
    REDIRECT_STATUS,
    FetchError,
    HttpResponse,
    HttpTransport,
    ProgressCallback,
    RetryPolicy,
    TransientError,
    excerpt,
    format_bytes,
    format_seconds,
    mask,
    no_progress,
)
from sources.clients.http import Fetch as _Fetch

BASE_PATH_SUFFIX = "/rest/2020"
SUCCESS_CODES = frozenset({0, 22})
CODE_LARGE_TABLE = 98
CODE_JOB_CREATED = 99
CODE_NO_OBJECTS = 104
HINTS = {
    50: "no data newer than the given 'stand'",
    90: "the table does not exist in this database",
    104: "no objects for this selection (is the table in this database, are the parameters right?)",
}
RESERVED_PARAMETERS = frozenset({"name", "job", "username", "password"})
POLL_REPORT_SECONDS = 30.0
CREDENTIAL_WORDS = re.compile(
    r"passwor|kennwort|anmeld|login|nutzername|benutzerkennung|token|unauthori|"
    r"nicht berechtigt|not authori",
    re.IGNORECASE,
)
ZIP_MAGIC = b"PK\x03\x04"
ZIP_TYPES = frozenset({"application/zip", "application/x-zip-compressed", "application/x-zip"})


class GenesisError(FetchError):
    """A GENESIS request failed. `code` is the service's status code (None for HTTP/network
    failures), `service_message` its own message (masked)."""

    def __init__(
        self,
        resource: str,
        detail: str,
        *,
        kind: str = "error",
        status: int | None = None,
        code: int | None = None,
        service_message: str | None = None,
        secrets: tuple[str, ...] | list[str] = (),
    ) -> None:
        super().__init__(resource, detail, kind=kind, status=status, secrets=secrets)
        self.code = code
        self.service_message = (
            mask(service_message, secrets) if service_message is not None else None
        )


@dataclass(frozen=True)
class GenesisCredentials:
    """User name and password, or a token (as `username`, with an empty password).

    The repr never shows them. They are sent only in the HTTP headers of each request.
    """

    username: str = field(repr=False)
    password: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.username, str) or not self.username.strip():
            raise ValueError("GenesisCredentials: the username (or token) is empty")
        if not isinstance(self.password, str):
            raise ValueError("GenesisCredentials: the password must be a string")
        for value in (self.username, self.password):
            if any(ch in value for ch in "\r\n\0"):
                raise ValueError("GenesisCredentials: line breaks are not allowed")

    @classmethod
    def token(cls, token: str) -> GenesisCredentials:
        return cls(token, "")

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.username, self.password) if s)

    def headers(self) -> dict[str, str | bytes]:
        return {"username": _header_value(self.username), "password": _header_value(self.password)}

    def __repr__(self) -> str:
        password = f"'{MASK}'" if self.password else "''"
        return f"GenesisCredentials(username='{MASK}', password={password})"

    __str__ = __repr__


def _header_value(value: str) -> str | bytes:
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")
    return value


@dataclass(frozen=True)
class GenesisSettings:
    """Where and how to talk to one GENESIS service. `base_url` ends with `/rest/2020`."""

    base_url: str
    timeout_seconds: float = 60.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_parallel: int = 5
    poll_interval_seconds: float = 10.0
    time_budget_seconds: float = 1800.0
    language: str = "de"

    def __post_init__(self) -> None:
        url = self.base_url.strip().rstrip("/")
        parts = urlsplit(url)
        if parts.username or parts.password or "@" in parts.netloc:
            raise ValueError(
                "GenesisSettings.base_url must not contain credentials; "
                "use GenesisCredentials (they are sent in headers)"
            )
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"GenesisSettings.base_url must be an http(s) URL, got {url!r}")
        if parts.query or parts.fragment or not parts.path.endswith(BASE_PATH_SUFFIX):
            raise ValueError(
                f"GenesisSettings.base_url must end with {BASE_PATH_SUFFIX!r}, e.g. "
                f"https://www.regionalstatistik.de/genesisws/rest/2020; got {url!r}"
            )
        object.__setattr__(self, "base_url", url)
        if self.timeout_seconds <= 0 or self.time_budget_seconds <= 0:
            raise ValueError("GenesisSettings: timeout and time budget must be positive")
        if self.poll_interval_seconds < 0:
            raise ValueError("GenesisSettings.poll_interval_seconds must not be negative")
        if self.max_parallel < 1:
            raise ValueError("GenesisSettings.max_parallel must be at least 1")
        if self.language not in ("de", "en"):
            raise ValueError(
                f"GenesisSettings.language must be 'de' or 'en', got {self.language!r}"
            )


@dataclass(frozen=True)
class TableFile:
    """A table as received: `payload` is the zip (or CSV) exactly as the service sent it."""

    name: str
    payload: bytes = field(repr=False)
    updated: str | None
    job: str | None
    bytes: int
    seconds: float
    requests: int

    @property
    def is_zip(self) -> bool:
        return self.payload.startswith(ZIP_MAGIC)

    @property
    def csv_name(self) -> str | None:
        """The name of the CSV inside the zip (None for a plain CSV payload)."""
        if not self.is_zip:
            return None
        with zipfile.ZipFile(io.BytesIO(self.payload)) as archive:
            return _csv_members(archive)[0]

    def csv(self) -> bytes:
        """The CSV bytes: unzipped if the payload is a zip."""
        if not self.is_zip:
            return self.payload
        with zipfile.ZipFile(io.BytesIO(self.payload)) as archive:
            return archive.read(_csv_members(archive)[0])


def parse_updated(value: str | None) -> datetime | None:
    """`Object.Updated` ("21.11.2023 13:47:55h") as a naive datetime (German local time)."""
    if not value:
        return None
    text = value.strip().removesuffix("h").strip()
    for pattern in ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    return None


@dataclass(frozen=True)
class _Status:
    code: int | None
    type: str
    content: str
    answer: dict[str, Any]


class GenesisClient:
    """Fetch tables from one GENESIS service (thread-safe; share one per service)."""

    def __init__(
        self,
        settings: GenesisSettings,
        credentials: GenesisCredentials,
        progress: ProgressCallback = no_progress,
    ) -> None:
        if not isinstance(credentials, GenesisCredentials):
            raise TypeError("GenesisClient: credentials must be GenesisCredentials")
        self.settings = settings
        self._credentials = credentials
        self._secrets = credentials.secrets
        self._transport = HttpTransport(
            timeout=settings.timeout_seconds,
            retry=settings.retry,
            max_parallel=settings.max_parallel,
            secrets=self._secrets,
            progress=progress,
            error_type=GenesisError,
        )

    def __repr__(self) -> str:
        return (
            f"GenesisClient(base_url={self.settings.base_url!r}, credentials={self._credentials!r})"
        )

    def __enter__(self) -> GenesisClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._transport.close()

    # -- public API ---------------------------------------------------------------------------

    def table_updated(self, name: str, *, area: str = "all") -> str | None:
        """`Object.Updated` of the table's metadata, or None if the service gives no usable
        answer (never fatal, except for rejected credentials)."""
        fetch = _Fetch.start(name, self.settings.time_budget_seconds)
        return self._updated(fetch, name, area)

    def table_metadata(self, name: str, *, area: str = "all") -> dict[str, Any]:
        """The parsed `Object` of metadata/table."""
        fetch = _Fetch.start(name, self.settings.time_budget_seconds)
        return self._metadata(fetch, name, area)

    def find_tables(self, selection: str, *, area: str = "all") -> list[tuple[str, str]]:
        """(code, title) of the tables whose code fits `selection` (`*` is a wildcard), from
        catalogue/tables; none if the service knows none."""
        fetch = _Fetch.start(selection, self.settings.time_budget_seconds)
        form = {"selection": selection, "area": area, "pagelength": "100",
                "language": self.settings.language}  # fmt: skip
        label = "POST catalogue/tables"
        status = self._json(fetch, self._post(fetch, "catalogue/tables", form), label)
        if status.code not in SUCCESS_CODES:
            return []
        listed = status.answer.get("List")
        return [
            (str(entry.get("Code")), " ".join(str(entry.get("Content") or "").split()))
            for entry in (listed if isinstance(listed, list) else [])
            if isinstance(entry, dict) and entry.get("Code")
        ]

    def fetch_table(
        self,
        name: str,
        parameters: Mapping[str, str | int | bool | None] | None = None,
        *,
        ask_updated: bool = True,
    ) -> TableFile:
        """Download table `name` as ffcsv via data/tablefile, through a job if it is large.

        `parameters` are further form fields (area, compress, startyear, endyear,
        regionalvariable, regionalkey, classifyingvariable1, …, quality, stand, timeslices,
        language, format). With `ask_updated` the table's update stamp is asked first
        (metadata/table; not fatal) and returned in `TableFile.updated`.
        """
        form = self._data_form(name, parameters)
        fetch = _Fetch.start(name, self.settings.time_budget_seconds)
        updated = self._updated(fetch, name, form.get("area", "all")) if ask_updated else None

        answer = self._data(fetch, "data/tablefile", form)
        job: str | None = None
        if isinstance(answer, _Status):
            if answer.code == CODE_LARGE_TABLE:
                self._report(
                    f"{name}: table too large for a direct download (GENESIS status 98); "
                    "starting a job"
                )
                answer = self._data(fetch, "data/tablefile", {**form, "job": "true"})
            if isinstance(answer, _Status):
                if answer.code != CODE_JOB_CREATED:
                    raise self._status_error(fetch, answer, "POST data/tablefile (job=true)")
                job = self._job_name(fetch, answer)
                self._report(f"{name}: job {job} started")
                self._wait_for_job(fetch, job)
                answer = self._data(
                    fetch, "data/resultfile", {**form, "name": job, "job": "false"}, job=job
                )
                if isinstance(answer, _Status):
                    raise self._status_error(fetch, answer, "POST data/resultfile", job=job)
        payload = answer
        seconds = fetch.deadline.elapsed()
        self._report(
            f"{name}: {format_bytes(len(payload))} {'zip' if payload[:4] == ZIP_MAGIC else 'CSV'}"
            f" in {format_seconds(seconds)} ({fetch.requests} request"
            f"{'s' if fetch.requests != 1 else ''}{f', job {job}' if job else ''})"
        )
        return TableFile(
            name=name,
            payload=payload,
            updated=updated,
            job=job,
            bytes=len(payload),
            seconds=seconds,
            requests=fetch.requests,
        )

    # -- requests -----------------------------------------------------------------------------

    def _report(self, message: str) -> None:
        self._transport.report(message)

    def _error(self, fetch: _Fetch, detail: str, **kwargs: Any) -> GenesisError:
        return GenesisError(fetch.resource, detail, secrets=self._secrets, **kwargs)

    def _post(
        self,
        fetch: _Fetch,
        method: str,
        form: Mapping[str, str],
        *,
        label: str | None = None,
        download: bool = False,
        validate: Callable[[HttpResponse], None] | None = None,
    ) -> HttpResponse:
        label = label or f"POST {method}"
        response = self._transport.request(
            fetch,
            "POST",
            f"{self.settings.base_url}/{method}",
            label=label,
            data=dict(form),
            headers=self._credentials.headers(),
            download=download,
            validate=validate,
        )
        status = response.status
        if status in (401, 403):
            raise self._error(
                fetch,
                f"credentials rejected by {self.settings.base_url} (HTTP {status} on {label}); "
                "check the user name/token and password",
                kind="credentials",
                status=status,
            )
        if status in REDIRECT_STATUS:
            raise self._error(
                fetch,
                f"{label}: HTTP {status} redirect to "
                f"{response.headers.get('Location') or '(no location)'}; not followed "
                "(check the base URL)",
                kind="http",
                status=status,
            )
        if not 200 <= status < 300:
            raise self._error(
                fetch,
                f"{label}: HTTP {status} {response.reason}".rstrip() + f": {_explain(response)}",
                kind="http",
                status=status,
            )
        return response

    def _json(self, fetch: _Fetch, response: HttpResponse, label: str) -> _Status:
        """The JSON status of an answer; an error if the answer is not GENESIS JSON."""
        try:
            answer = json.loads(_decode(response))
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise self._error(
                fetch,
                f"{label}: expected a JSON answer, got "
                f"{response.content_type or 'no content type'} "
                f"({format_bytes(len(response.body))}): {response.excerpt()}",
                kind="protocol",
            )
        status = answer.get("Status")
        if not isinstance(status, dict):
            raise self._error(
                fetch,
                f"{label}: JSON answer without a GENESIS status: {excerpt(json.dumps(answer))}",
                kind="protocol",
            )
        code = status.get("Code")
        try:
            code = int(code) if code is not None else None
        except (TypeError, ValueError):
            code = None
        return _Status(
            code, str(status.get("Type") or ""), str(status.get("Content") or ""), answer
        )

    def _status_error(
        self, fetch: _Fetch, status: _Status, label: str, *, job: str | None = None
    ) -> GenesisError:
        message = " ".join(status.content.split()) or "(no message)"
        hint = HINTS.get(status.code) if status.code is not None else None
        prefix = f"job {job}: " if job else ""
        credentials = status.code not in SUCCESS_CODES and bool(
            CREDENTIAL_WORDS.search(status.content)
        )
        detail = (
            f"{prefix}{'credentials rejected: ' if credentials else ''}"
            f"GENESIS status {status.code} ({status.type or 'no type'}): {message}"
        )
        if hint:
            detail += f" — {hint}"
        if label:
            detail += f" [{label}]"
        return self._error(
            fetch,
            detail,
            kind="credentials" if credentials else "service",
            code=status.code,
            service_message=status.content,
        )

    def _metadata(self, fetch: _Fetch, name: str, area: str) -> dict[str, Any]:
        form = {"name": name, "area": area, "language": self.settings.language}
        label = "POST metadata/table"
        status = self._json(fetch, self._post(fetch, "metadata/table", form), label)
        if status.code not in SUCCESS_CODES:
            raise self._status_error(fetch, status, label)
        obj = status.answer.get("Object")
        if not isinstance(obj, dict):
            raise self._error(
                fetch, f"{label}: the answer has no Object", kind="protocol", code=status.code
            )
        return obj

    def _updated(self, fetch: _Fetch, name: str, area: str) -> str | None:
        try:
            obj = self._metadata(fetch, name, area)
        except GenesisError as exc:
            if exc.kind == "credentials":
                raise
            self._report(f"{name}: no update stamp from metadata/table ({exc.detail})")
            return None
        updated = obj.get("Updated")
        if not isinstance(updated, str) or not updated.strip() or "parent" in updated:
            self._report(f"{name}: metadata/table gives no update stamp")
            return None
        return updated.strip()

    def _data_form(
        self, name: str, parameters: Mapping[str, str | int | bool | None] | None
    ) -> dict[str, str]:
        if not isinstance(name, str) or not name.strip():
            raise ValueError("fetch_table: the table name is empty")
        form = {"name": name.strip(), "area": "all", "format": "ffcsv"}
        form["language"] = self.settings.language
        for key, value in (parameters or {}).items():
            if key in RESERVED_PARAMETERS:
                raise ValueError(
                    f"{name}: parameter {key!r} is set by the client"
                    + (
                        " (credentials go in GenesisCredentials)"
                        if "user" in key or "pass" in key
                        else ""
                    )
                )
            if value is None:
                continue
            form[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        form["job"] = "false"
        return form

    def _data(
        self, fetch: _Fetch, method: str, form: Mapping[str, str], *, job: str | None = None
    ) -> bytes | _Status:
        """A data answer: the payload (zip or CSV) or a status 98/99; other statuses raise."""
        label = f"POST {method}" + (" (job=true)" if form.get("job") == "true" else "")
        response = self._post(
            fetch, method, form, label=label, download=True, validate=self._validate(fetch)
        )
        body = response.body
        if _looks_like_zip(response):
            self._check_zip(fetch, body, label)
            return body
        if _looks_like_csv(response):
            return body
        status = self._json(fetch, response, label)
        if status.code in SUCCESS_CODES:
            if status.code == 22:
                self._report(f"{fetch.resource}: GENESIS warning 22: {status.content}")
            obj = status.answer.get("Object")
            content = obj.get("Content") if isinstance(obj, dict) else None
            if isinstance(content, str) and content.strip():
                return content.encode("utf-8")
            raise self._error(
                fetch,
                f"{'job ' + job + ': ' if job else ''}no data in the answer to {label} "
                f"(GENESIS status {status.code}: {' '.join(status.content.split())})",
                kind="protocol",
                code=status.code,
                service_message=status.content,
            )
        if status.code in (CODE_LARGE_TABLE, CODE_JOB_CREATED) and job is None:
            if status.code == CODE_LARGE_TABLE and form.get("job") == "true":
                raise self._status_error(fetch, status, label)
            return status
        raise self._status_error(fetch, status, label, job=job)

    def _validate(self, fetch: _Fetch) -> Callable[[HttpResponse], None]:
        def validate(response: HttpResponse) -> None:
            if response.status != 200 or not _looks_like_zip(response):
                return
            try:
                with zipfile.ZipFile(io.BytesIO(response.body)) as archive:
                    bad = archive.testzip()
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
                raise TransientError(
                    fetch.resource,
                    f"the zip ({format_bytes(len(response.body))}) is incomplete or damaged "
                    f"({type(exc).__name__}: {exc})",
                    kind="truncated",
                    secrets=self._secrets,
                ) from exc
            if bad is not None:
                raise TransientError(
                    fetch.resource,
                    f"the zip ({format_bytes(len(response.body))}) is damaged: CRC error in {bad}",
                    kind="truncated",
                    secrets=self._secrets,
                )

        return validate

    def _check_zip(self, fetch: _Fetch, body: bytes, label: str) -> None:
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            names = [info.filename for info in archive.infolist() if not info.is_dir()]
            csvs = [n for n in names if n.lower().endswith(".csv")]
        if len(csvs) != 1:
            listed = ", ".join(names[:5]) + (", …" if len(names) > 5 else "") or "none"
            raise self._error(
                fetch,
                f"the zip from {label} holds {len(csvs)} CSV files, expected exactly one "
                f"(members: {listed})",
                kind="protocol",
            )

    def _job_name(self, fetch: _Fetch, status: _Status) -> str:
        content = status.content
        match = re.search(re.escape(fetch.resource) + r"_\d+", content)
        if match is None:
            match = re.search(r":\s*([\w.-]+_\d+)\s*\.?\s*$", content.strip())
        if match is None:
            match = re.search(r"\b([\w.-]+_\d+)\b", content)
        if match is None:
            raise self._error(
                fetch,
                f"a job was started (GENESIS status 99) but its name is not in the message: "
                f"{' '.join(content.split())}",
                kind="protocol",
                code=status.code,
                service_message=content,
            )
        return match.group(match.lastindex or 0)

    def _wait_for_job(self, fetch: _Fetch, job: str) -> None:
        """Poll catalogue/results until the job is listed (status 0)."""
        form = {
            "selection": job,
            "area": "user",
            "pagelength": "1",
            "language": self.settings.language,
        }
        interval = self.settings.poll_interval_seconds
        started = time.monotonic()
        reported_at: float | None = None
        polls = 0

        def not_ready(polls: int) -> str:
            return (
                f"job {job} not ready after {polls} polls "
                f"({format_seconds(time.monotonic() - started)}); it may still finish: "
                f"fetch it later with data/resultfile name={job}"
            )

        while True:
            if fetch.deadline.expired:
                raise self._error(
                    fetch, fetch.deadline.exhausted_message(not_ready(polls)), kind="budget"
                )
            polls += 1
            label = f"POST catalogue/results (poll {polls} of job {job})"
            try:
                status = self._json(
                    fetch, self._post(fetch, "catalogue/results", form, label=label), label
                )
            except FetchError as exc:
                if exc.kind != "budget":
                    raise
                # the budget ran out during a poll: the job's name is still what the user needs
                raise self._error(
                    fetch, f"{exc.detail}; {not_ready(polls - 1)}", kind="budget"
                ) from exc
            listed = status.answer.get("List") or []
            codes = {item.get("Code") for item in listed if isinstance(item, dict)}
            elapsed = time.monotonic() - started
            if status.code in SUCCESS_CODES and job in codes:
                self._report(
                    f"{fetch.resource}: job {job} ready after {polls} poll"
                    f"{'s' if polls != 1 else ''} ({format_seconds(elapsed)}); "
                    "downloading data/resultfile"
                )
                return
            if status.code not in SUCCESS_CODES and status.code != CODE_NO_OBJECTS:
                raise self._status_error(fetch, status, label, job=job)
            now = time.monotonic()
            if reported_at is None or now - reported_at >= max(POLL_REPORT_SECONDS, interval):
                self._report(
                    f"{fetch.resource}: job {job} not ready yet (poll {polls}, "
                    f"{format_seconds(elapsed)}; GENESIS status {status.code})"
                )
                reported_at = now
            self._transport.sleep(max(min(interval, fetch.deadline.remaining()), 0.0))


def _explain(response: HttpResponse) -> str:
    """The service's own status message of an error answer, else an excerpt of its body."""
    try:
        answer = json.loads(_decode(response))
    except ValueError:
        answer = None
    status = answer.get("Status") if isinstance(answer, dict) else None
    if isinstance(status, dict) and status.get("Content"):
        return excerpt(f"GENESIS status {status.get('Code')}: {status['Content']}", 200)
    return response.excerpt()


def _decode(response: HttpResponse) -> str:
    content_type = response.headers.get("Content-Type") or ""
    match = re.search(r"charset=([\w.-]+)", content_type, re.IGNORECASE)
    for encoding in ([match.group(1)] if match else []) + ["utf-8-sig"]:
        try:
            return response.body.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            continue
    return response.body.decode("cp1252", "replace")


def _looks_like_zip(response: HttpResponse) -> bool:
    return response.body.startswith(ZIP_MAGIC) or response.content_type in ZIP_TYPES


def _looks_like_csv(response: HttpResponse) -> bool:
    if response.content_type in ("text/csv", "application/csv", "text/comma-separated-values"):
        return True
    head = response.body[:2000].lstrip(b"\xef\xbb\xbf")
    if not head or head[:1] in (b"{", b"[", b"<"):
        return False
    first = head.split(b"\n", 1)[0]
    return response.content_type in ("", "text/plain", "application/octet-stream") and (
        first.count(b";") >= 2 and b"<" not in first
    )


def _csv_members(archive: zipfile.ZipFile) -> list[str]:
    return [
        info.filename
        for info in archive.infolist()
        if not info.is_dir() and info.filename.lower().endswith(".csv")
    ]
