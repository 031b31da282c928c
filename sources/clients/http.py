"""Shared HTTP machinery of the clients: retries, time budget, masking, concurrency, progress.

One `HttpTransport` per client. Every request belongs to a `Fetch` (one logical download: a
table, a paginated API), which carries the resource name used in every message, the overall
time budget and the number of requests made. The transport

- retries timeouts (connect and read), connection errors, HTTP 5xx and 429, and incomplete
  bodies (Content-Length mismatch, or whatever the caller's `validate` rejects as transient,
  e.g. a zip that does not open) with exponential backoff and jitter, honouring `Retry-After`
  on 429/503 (capped by `RetryPolicy.max_delay`); each retry is reported through the progress
  callback with the attempt number and the delay;
- starts no attempt once the fetch's time budget is spent, and says so;
- keeps at most `max_parallel` requests in flight per host (scheme://host:port) across all
  threads of the process (`host_semaphore`), because services such as GENESIS-Online end
  sessions beyond about ten parallel requests;
- streams bodies and reports the bytes received every ~1 MB or 2 s and once at the end (for
  requests marked as downloads);
- passes every exception message and every progress message through `mask`, so that the
  secrets it was given (passwords, tokens, user names) never appear in logs or errors;
- follows no redirect that leaves the origin (credentials travel in headers and must not be
  sent to another host); redirects are followed only for GET within the same origin.

Only the standard library and `requests` are used.
"""

from __future__ import annotations

import email.utils
import html
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote, quote_plus, urljoin, urlsplit

import requests

ProgressCallback = Callable[[str], None]

MASK = "***"
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504}) | frozenset(range(505, 600))
REDIRECT_STATUS = frozenset({301, 302, 303, 307, 308})
PROGRESS_BYTES = 1_000_000  # report a running download at most every ~1 MB …
PROGRESS_SECONDS = 2.0  # … or every 2 s
CHUNK_SIZE = 64 * 1024
MAX_REDIRECTS = 5
USER_AGENT = f"bildungsmonitor/0.1 python-requests/{requests.__version__}"


def no_progress(message: str) -> None:
    """The default progress callback: ignore."""


# --------------------------------------------------------------------------------------------
# Masking
# --------------------------------------------------------------------------------------------


def mask(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every secret (of at least 3 characters) replaced by `***`.

    Also replaces the URL-encoded forms of a secret, in case it travelled in a URL or body.
    Longer secrets are replaced first, so that a secret containing another is masked whole.
    """
    text = str(text)
    variants: set[str] = set()
    for secret in secrets:
        if not secret or len(secret) < 3:
            continue
        variants.update({secret, quote(secret, safe=""), quote_plus(secret)})
    for variant in sorted(variants, key=len, reverse=True):
        if len(variant) >= 3:
            text = text.replace(variant, MASK)
    return text


def excerpt(body: bytes | str, limit: int = 120) -> str:
    """A short, single-line, tag-free excerpt of a body, for error messages."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", " ", text)
    text = re.sub(r"(?s)<!--.*?-->", " ", text)
    text = re.sub(r"(?s)<[^>]*>", " ", text)
    text = html.unescape(text)
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text or "(empty body)"


def format_seconds(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"


def format_bytes(count: int) -> str:
    if count < 1000:
        return f"{count} B"
    if count < 1_000_000:
        return f"{count / 1000:.1f} kB"
    return f"{count / 1_000_000:.1f} MB"


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class FetchError(Exception):
    """A fetch failed. The message always starts with the resource (table or URL name).

    `kind` says what went wrong, for callers that react differently: `timeout`, `connection`,
    `http` (an HTTP status, see `status`), `truncated`, `credentials`, `budget`, `protocol`
    (an answer of the wrong shape), `service` (the service reported an error), `config`.
    """

    def __init__(
        self,
        resource: str,
        detail: str,
        *,
        kind: str = "error",
        status: int | None = None,
        secrets: Iterable[str | None] = (),
    ) -> None:
        secrets = tuple(secrets)
        self.resource = mask(resource, secrets)
        self.detail = mask(detail, secrets)
        self.kind = kind
        self.status = status
        super().__init__(f"{self.resource}: {self.detail}")

    def __reduce__(self) -> tuple[object, ...]:
        # picklable (e.g. across processes) although __init__ takes keyword arguments
        return (_rebuild_error, (type(self), str(self), dict(self.__dict__)))


def _rebuild_error(cls: type[FetchError], message: str, state: dict[str, object]) -> FetchError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class TransientError(FetchError):
    """A failure worth another attempt (raised inside the retry loop, e.g. by `validate`)."""

    def __init__(
        self,
        resource: str,
        detail: str,
        *,
        kind: str = "truncated",
        status: int | None = None,
        retry_after: float | None = None,
        secrets: Iterable[str | None] = (),
    ) -> None:
        super().__init__(resource, detail, kind=kind, status=status, secrets=secrets)
        self.retry_after = retry_after


# --------------------------------------------------------------------------------------------
# Retry policy, time budget, concurrency bound
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with random jitter.

    `attempts` is the total number of attempts (1 = no retry). The delay after failed attempt
    n is `base_delay * 2**(n-1)`, at most `max_delay`, multiplied by a random factor in
    `1 ± jitter`. A `Retry-After` from the service (429/503) replaces it, capped by
    `max_delay`.
    """

    attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0
    jitter: float = 0.3

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"RetryPolicy.attempts must be at least 1, got {self.attempts}")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("RetryPolicy delays must not be negative")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"RetryPolicy.jitter must be within 0..1, got {self.jitter}")

    def delay(
        self,
        attempt: int,
        retry_after: float | None = None,
        rng: Callable[[], float] = random.random,
    ) -> float:
        """Seconds to wait after failed attempt `attempt` (1-based)."""
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_delay))
        base = min(self.base_delay * 2 ** max(attempt - 1, 0), self.max_delay)
        factor = 1 + self.jitter * (2 * rng() - 1)
        return max(0.0, min(base * factor, self.max_delay))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` as seconds: delta-seconds or an HTTP date; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


class Deadline:
    """The overall time budget of one fetch."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = float(seconds)
        self._clock = clock
        self.started = clock()

    def elapsed(self) -> float:
        return self._clock() - self.started

    def remaining(self) -> float:
        return self.seconds - self.elapsed()

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0

    def exhausted_message(self, what: str) -> str:
        return (
            f"time budget of {self.seconds:g} s exhausted after "
            f"{format_seconds(self.elapsed())}; {what}"
        )


@dataclass
class Fetch:
    """One logical fetch: its resource name (first word of every message), budget, counters."""

    resource: str
    deadline: Deadline
    requests: int = 0
    bytes_received: int = 0

    @classmethod
    def start(cls, resource: str, budget_seconds: float) -> Fetch:
        return cls(resource, Deadline(budget_seconds))


_HOST_SEMAPHORES: dict[str, tuple[int, threading.BoundedSemaphore]] = {}
_HOST_LOCK = threading.Lock()


def host_key(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{(parts.netloc or '').lower()}"


def host_semaphore(url: str, max_parallel: int) -> threading.BoundedSemaphore:
    """The process-wide semaphore bounding parallel requests to the host of `url`.

    Keyed by scheme://host[:port]. The first client registering a host fixes its bound for
    the life of the process (a semaphore cannot be resized while requests hold it); later
    clients with another `max_parallel` share the first bound.
    """
    if max_parallel < 1:
        raise ValueError(f"max_parallel must be at least 1, got {max_parallel}")
    key = host_key(url)
    with _HOST_LOCK:
        entry = _HOST_SEMAPHORES.get(key)
        if entry is None:
            entry = (max_parallel, threading.BoundedSemaphore(max_parallel))
            _HOST_SEMAPHORES[key] = entry
        return entry[1]


# --------------------------------------------------------------------------------------------
# The transport
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpResponse:
    """A complete answer (body read to the end)."""

    url: str
    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes
    seconds: float
    attempts: int = 1

    @property
    def content_type(self) -> str:
        """The media type in lower case, without parameters (`application/json`)."""
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()

    def excerpt(self, limit: int = 120) -> str:
        return excerpt(self.body, limit)


@dataclass
class HttpTransport:
    """Requests with retries, budget, concurrency bound, masking and progress (thread-safe)."""

    timeout: float
    retry: RetryPolicy
    max_parallel: int
    secrets: Sequence[str] = ()
    progress: ProgressCallback = no_progress
    error_type: type[FetchError] = FetchError
    sleep: Callable[[float], None] = time.sleep
    _local: threading.local = field(default_factory=threading.local, repr=False)
    _sessions: list[requests.Session] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __repr__(self) -> str:
        return (
            f"HttpTransport(timeout={self.timeout!r}, retry={self.retry!r}, "
            f"max_parallel={self.max_parallel!r}, secrets={MASK if self.secrets else '()'})"
        )

    # -- helpers ------------------------------------------------------------------------------

    def report(self, message: str) -> None:
        self.progress(mask(message, self.secrets))

    def error(self, fetch: Fetch, detail: str, **kwargs: object) -> FetchError:
        return self.error_type(fetch.resource, detail, secrets=self.secrets, **kwargs)  # type: ignore[arg-type]

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["User-Agent"] = USER_AGENT
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def close(self) -> None:
        with self._lock:
            sessions, self._sessions[:] = list(self._sessions), []
        for session in sessions:
            session.close()

    # -- the request --------------------------------------------------------------------------

    def request(
        self,
        fetch: Fetch,
        method: str,
        url: str,
        *,
        label: str,
        data: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str | bytes] | None = None,
        download: bool = False,
        follow_redirects: bool = False,
        validate: Callable[[HttpResponse], None] | None = None,
    ) -> HttpResponse:
        """One request with retries. Returns the answer for every status but 429/5xx.

        `label` names the request in messages (`POST data/tablefile`). `validate` may raise
        `TransientError` to have a complete answer retried (e.g. a zip that does not open) or
        `FetchError` to stop. Raises `error_type` when the attempts or the budget run out.
        """
        policy = self.retry
        last: TransientError | None = None
        for attempt in range(1, policy.attempts + 1):
            if fetch.deadline.expired:
                what = f"{label} not started" if last is None else f"{label} not retried"
                if last is not None:
                    what += f" (last failure: {last.detail})"
                raise self.error(fetch, fetch.deadline.exhausted_message(what), kind="budget")
            try:
                response = self._attempt(
                    fetch, method, url, label, data, params, headers, download, follow_redirects
                )
                if validate is not None:
                    validate(response)
                return HttpResponse(
                    response.url,
                    response.status,
                    response.reason,
                    response.headers,
                    response.body,
                    response.seconds,
                    attempt,
                )
            except TransientError as exc:
                last = exc
            if attempt == policy.attempts:
                break
            delay = policy.delay(attempt, last.retry_after)
            remaining = fetch.deadline.remaining()
            if delay >= remaining:
                raise self.error(
                    fetch,
                    fetch.deadline.exhausted_message(
                        f"{label} not retried (attempt {attempt}/{policy.attempts} failed: "
                        f"{last.detail}; next attempt would start in {format_seconds(delay)})"
                    ),
                    kind="budget",
                    status=last.status,
                )
            self.report(
                f"{fetch.resource}: {label} attempt {attempt}/{policy.attempts} failed "
                f"({last.detail}); retrying in {format_seconds(delay)}"
            )
            self.sleep(delay)
        assert last is not None
        raise self.error(
            fetch,
            f"{label} failed after {policy.attempts} attempt"
            f"{'s' if policy.attempts != 1 else ''}: {last.detail}",
            kind=last.kind,
            status=last.status,
        )

    def _attempt(
        self,
        fetch: Fetch,
        method: str,
        url: str,
        label: str,
        data: Mapping[str, str] | None,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str | bytes] | None,
        download: bool,
        follow_redirects: bool,
    ) -> HttpResponse:
        """One attempt (plus same-origin redirects); raises TransientError for retryable cases."""
        started = time.monotonic()
        current_url, current_params = url, params
        for _ in range(MAX_REDIRECTS + 1):
            response = self._send(
                fetch, method, current_url, label, data, current_params, headers, download
            )
            if response.status not in REDIRECT_STATUS:
                return HttpResponse(
                    response.url,
                    response.status,
                    response.reason,
                    response.headers,
                    response.body,
                    time.monotonic() - started,
                )
            location = response.headers.get("Location")
            target = urljoin(current_url, location) if location else None
            if not (follow_redirects and method == "GET" and target):
                return response
            if host_key(target) != host_key(current_url):
                raise self.error(
                    fetch,
                    f"{label}: HTTP {response.status} redirect to another host "
                    f"({host_key(target)}); not followed, so that no credentials leave "
                    f"{host_key(current_url)}",
                    kind="http",
                    status=response.status,
                )
            current_url, current_params = target, None
        raise self.error(fetch, f"{label}: more than {MAX_REDIRECTS} redirects", kind="http")

    def _send(
        self,
        fetch: Fetch,
        method: str,
        url: str,
        label: str,
        data: Mapping[str, str] | None,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str | bytes] | None,
        download: bool,
    ) -> HttpResponse:
        semaphore = host_semaphore(url, self.max_parallel)
        wait = max(fetch.deadline.remaining(), 0.0)
        if not semaphore.acquire(timeout=wait):
            raise self.error(
                fetch,
                fetch.deadline.exhausted_message(
                    f"{label} not started: still waiting for one of the "
                    f"{self.max_parallel} connection slots to {host_key(url)}"
                ),
                kind="budget",
            )
        started = time.monotonic()
        timeout = max(min(self.timeout, fetch.deadline.remaining()), 0.001)
        try:
            fetch.requests += 1
            try:
                response = self._session().request(
                    method,
                    url,
                    data=data,
                    params=params,
                    headers=dict(headers or {}),
                    timeout=(timeout, timeout),
                    stream=True,
                    allow_redirects=False,
                )
            except requests.exceptions.ConnectTimeout as exc:
                raise TransientError(
                    fetch.resource,
                    f"no connection within {format_seconds(timeout)} (connect timeout)",
                    kind="timeout",
                    secrets=self.secrets,
                ) from exc
            except requests.exceptions.ReadTimeout as exc:
                raise TransientError(
                    fetch.resource,
                    f"no answer within {format_seconds(timeout)} (read timeout)",
                    kind="timeout",
                    secrets=self.secrets,
                ) from exc
            except requests.exceptions.ConnectionError as exc:
                raise TransientError(
                    fetch.resource,
                    f"connection failed ({_connection_reason(exc)})",
                    kind="connection",
                    secrets=self.secrets,
                ) from exc
            except requests.exceptions.RequestException as exc:
                raise self.error(
                    fetch, f"{label}: request failed ({type(exc).__name__})", kind="connection"
                ) from exc
            try:
                status = response.status_code
                if status in RETRYABLE_STATUS:
                    body = self._read(fetch, response, label, timeout, False, limit=4096)
                    retry_after = (
                        parse_retry_after(response.headers.get("Retry-After"))
                        if status in (429, 503)
                        else None
                    )
                    detail = f"HTTP {status}"
                    if response.reason:
                        detail += f" ({response.reason})"
                    if retry_after is not None:
                        detail += f", Retry-After {format_seconds(retry_after)}"
                    text = excerpt(body, 80) if body.strip() else ""
                    if text and response.reason and text.lower() != response.reason.lower():
                        detail += f": {text}"
                    raise TransientError(
                        fetch.resource,
                        detail,
                        kind="http",
                        status=status,
                        retry_after=retry_after,
                        secrets=self.secrets,
                    )
                body = self._read(fetch, response, label, timeout, download)
                return HttpResponse(
                    response.url,
                    status,
                    response.reason or "",
                    response.headers,
                    body,
                    time.monotonic() - started,
                )
            finally:
                response.close()
        finally:
            semaphore.release()

    def _read(
        self,
        fetch: Fetch,
        response: requests.Response,
        label: str,
        timeout: float,
        download: bool,
        limit: int | None = None,
    ) -> bytes:
        """The body, streamed; progress for downloads; incomplete bodies are transient."""
        chunks: list[bytes] = []
        received = 0
        started = time.monotonic()
        reported_bytes, reported_at = 0, started
        try:
            for chunk in response.iter_content(CHUNK_SIZE):
                chunks.append(chunk)
                received += len(chunk)
                fetch.bytes_received += len(chunk)
                if limit is not None and received >= limit:
                    break
                now = time.monotonic()
                if download and (
                    received - reported_bytes >= PROGRESS_BYTES
                    or now - reported_at >= PROGRESS_SECONDS
                ):
                    self.report(
                        f"{fetch.resource}: {format_bytes(received)} received "
                        f"({format_seconds(now - started)})"
                    )
                    reported_bytes, reported_at = received, now
        except (
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ) as exc:
            raise TransientError(
                fetch.resource,
                f"incomplete body: the connection ended after {format_bytes(received)}",
                kind="truncated",
                secrets=self.secrets,
            ) from exc
        except requests.exceptions.ConnectionError as exc:
            reason = _connection_reason(exc)
            timed_out = "timed out" in str(exc).lower()
            raise TransientError(
                fetch.resource,
                (
                    f"body stalled for {format_seconds(timeout)} after "
                    f"{format_bytes(received)} (read timeout)"
                    if timed_out
                    else f"connection failed after {format_bytes(received)} ({reason})"
                ),
                kind="timeout" if timed_out else "connection",
                secrets=self.secrets,
            ) from exc
        body = b"".join(chunks)
        if limit is None:
            expected = _content_length(response)
            if expected is not None and expected != len(body):
                raise TransientError(
                    fetch.resource,
                    f"incomplete body: {len(body)} of {expected} bytes (Content-Length)",
                    kind="truncated",
                    secrets=self.secrets,
                )
            if download and (reported_bytes or received >= CHUNK_SIZE):
                self.report(
                    f"{fetch.resource}: {format_bytes(received)} received in "
                    f"{format_seconds(time.monotonic() - started)} ({label})"
                )
        return body


def _content_length(response: requests.Response) -> int | None:
    """The declared length of the body as decoded (None if encoded or undeclared)."""
    encoding = (response.headers.get("Content-Encoding") or "identity").strip().lower()
    if encoding != "identity":
        return None
    try:
        return int(response.headers["Content-Length"])
    except (KeyError, ValueError):
        return None


def _connection_reason(exc: BaseException) -> str:
    """A short reason for a connection error, without the URL dump of urllib3."""
    text = str(exc)
    match = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if match:
        return match.group(1).strip()
    for marker in ("RemoteDisconnected", "Connection aborted", "Connection reset", "timed out"):
        if marker.lower() in text.lower():
            return marker.lower() if marker == "timed out" else marker
    return type(exc).__name__
