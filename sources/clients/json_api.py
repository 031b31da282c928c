"""Client of paginated JSON APIs in the `{count, next, results}` style (Django REST framework
and many open-data portals).

The first page is requested with the page-size parameter; then `next` (absolute, or relative
to the page it came from) is followed until it is null. Every page must be a JSON object with
a list of records under `results_key`. When the API gives a `count`, the number of records
received must equal it at the end, and it must not change between pages (paging through data
that changes returns duplicates or misses records).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urljoin, urlsplit, urlunsplit

from sources.clients.http import (
    MASK,
    Fetch,
    FetchError,
    HttpResponse,
    HttpTransport,
    ProgressCallback,
    RetryPolicy,
    format_bytes,
    format_seconds,
    host_key,
    no_progress,
)


@dataclass(frozen=True)
class JsonApiSettings:
    """Where and how to page through one API. The repr never shows the token."""

    url: str
    page_size: int = 500
    page_size_param: str = "page_size"
    results_key: str = "results"
    next_key: str = "next"
    count_key: str = "count"
    timeout_seconds: float = 60
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    time_budget_seconds: float = 600
    max_pages: int = 10000
    token: str | None = field(default=None, repr=False)
    # how the token is sent: token / bearer (`Authorization: Token|Bearer …`), header (a header
    # named auth_name), query (a query parameter named auth_name)
    auth_scheme: str = "token"
    auth_name: str | None = None
    max_parallel: int = 5

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("JsonApiSettings.url must be an http(s) URL")
        if self.page_size < 1 or self.max_pages < 1:
            raise ValueError("JsonApiSettings: page_size and max_pages must be at least 1")
        if self.timeout_seconds <= 0 or self.time_budget_seconds <= 0:
            raise ValueError("JsonApiSettings: timeout and time budget must be positive")
        if self.token is not None and any(ch in self.token for ch in "\r\n\0"):
            raise ValueError("JsonApiSettings: line breaks are not allowed in the token")
        if self.auth_scheme not in ("token", "bearer", "header", "query"):
            raise ValueError(f"JsonApiSettings: unknown auth scheme {self.auth_scheme!r}")
        if self.auth_scheme in ("header", "query") and not self.auth_name:
            raise ValueError(f"JsonApiSettings: auth scheme {self.auth_scheme} needs auth_name")

    @property
    def sent_as(self) -> str:
        """How the token is sent, for messages (never the token itself)."""
        if self.auth_scheme in ("token", "bearer"):
            return f"the header 'Authorization: {self.auth_scheme.title()} …'"
        if self.auth_scheme == "header":
            return f"the header '{self.auth_name}: …'"
        return f"the query parameter '{self.auth_name}=…'"

    def __repr__(self) -> str:
        inner = ", ".join(
            f"{name}={(MASK if self.token else None) if name == 'token' else getattr(self, name)!r}"
            for name in self.__dataclass_fields__
        )
        return f"JsonApiSettings({inner})"

    __str__ = __repr__

    @property
    def secrets(self) -> tuple[str, ...]:
        if not self.token:
            return ()
        # in a query parameter the token travels URL-encoded: mask that form too
        return tuple(dict.fromkeys((self.token, quote_plus(self.token), quote(self.token))))


@dataclass(frozen=True)
class JsonApiResult:
    records: list[dict[str, Any]] = field(repr=False)
    pages: int
    count: int | None
    seconds: float

    def __repr__(self) -> str:
        return (
            f"JsonApiResult(records=<{len(self.records)} records>, pages={self.pages}, "
            f"count={self.count}, seconds={self.seconds:.2f})"
        )


class JsonApiClient:
    """Fetch every record of a paginated JSON API."""

    def __init__(self, settings: JsonApiSettings, progress: ProgressCallback = no_progress) -> None:
        self.settings = settings
        self._transport = HttpTransport(
            timeout=settings.timeout_seconds,
            retry=settings.retry,
            max_parallel=settings.max_parallel,
            secrets=settings.secrets,
            progress=progress,
        )
        self.resource = _resource_name(settings.url)

    def __repr__(self) -> str:
        return f"JsonApiClient({self.settings!r})"

    def __enter__(self) -> JsonApiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._transport.close()

    def _headers(self) -> dict[str, str | bytes]:
        headers: dict[str, str | bytes] = {"Accept": "application/json"}
        settings = self.settings
        if settings.token and settings.auth_scheme in ("token", "bearer"):
            headers["Authorization"] = f"{settings.auth_scheme.title()} {settings.token}"
        elif settings.token and settings.auth_scheme == "header":
            headers[settings.auth_name or ""] = settings.token
        return headers

    def _authorised(self, url: str) -> str:
        """The URL as requested: with the token as its query parameter, if that is the scheme."""
        settings = self.settings
        if settings.token and settings.auth_scheme == "query":
            return _with_param(url, settings.auth_name or "", settings.token)
        return url

    def _error(self, detail: str, **kwargs: Any) -> FetchError:
        return FetchError(self.resource, detail, secrets=self.settings.secrets, **kwargs)

    def fetch_all(self) -> JsonApiResult:
        settings = self.settings
        fetch = Fetch.start(self.resource, settings.time_budget_seconds)
        url = _with_param(settings.url, settings.page_size_param, str(settings.page_size))
        origin = host_key(url)
        seen: set[str] = set()
        records: list[dict[str, Any]] = []
        count: int | None = None
        pages = 0
        while url is not None:
            if url in seen:
                raise self._error(
                    f"the 'next' link of page {pages} leads back to an earlier page "
                    f"({_short(url)}); stopping a loop",
                    kind="protocol",
                )
            if pages >= settings.max_pages:
                raise self._error(
                    f"more than {settings.max_pages} pages (max_pages); "
                    f"{len(records)} records so far",
                    kind="protocol",
                )
            if settings.token and host_key(url) != origin:
                raise self._error(
                    f"the 'next' link of page {pages} leaves {origin} ({host_key(url)}); "
                    "not following it with the token",
                    kind="protocol",
                )
            seen.add(url)
            pages += 1
            page = self._page(fetch, url, pages)
            results = page[settings.results_key]
            for index, record in enumerate(results):
                if not isinstance(record, dict):
                    raise self._error(
                        f"page {pages}: record {index + 1} is a {type(record).__name__}, "
                        "not an object",
                        kind="protocol",
                    )
            records.extend(results)
            page_count = page.get(settings.count_key)
            if page_count is not None:
                if isinstance(page_count, bool) or not isinstance(page_count, int):
                    raise self._error(
                        f"page {pages}: {settings.count_key!r} is not a number: {page_count!r}",
                        kind="protocol",
                    )
                if count is None and pages == 1:
                    count = page_count
                elif count is not None and page_count != count:
                    raise self._error(
                        f"page {pages}: {settings.count_key!r} changed from {count} to "
                        f"{page_count} while paging (the data changed); try again",
                        kind="protocol",
                    )
            total = f" of {count}" if count is not None else ""
            self._transport.report(
                f"{self.resource}: page {pages}, {len(records)}{total} records "
                f"({format_seconds(fetch.deadline.elapsed())})"
            )
            next_url = page.get(settings.next_key)
            if next_url in (None, ""):
                url = None
            elif isinstance(next_url, str):
                url = urljoin(url, next_url)
            else:
                raise self._error(
                    f"page {pages}: {settings.next_key!r} is not a URL: {next_url!r}",
                    kind="protocol",
                )
        if count is not None and count != len(records):
            raise self._error(
                f"expected {count} records, got {len(records)} (in {pages} pages)",
                kind="protocol",
            )
        seconds = fetch.deadline.elapsed()
        self._transport.report(
            f"{self.resource}: {len(records)} records in {pages} page"
            f"{'s' if pages != 1 else ''}, {format_bytes(fetch.bytes_received)} in "
            f"{format_seconds(seconds)}"
        )
        return JsonApiResult(records=records, pages=pages, count=count, seconds=seconds)

    def _page(self, fetch: Fetch, url: str, number: int) -> dict[str, Any]:
        label = f"GET page {number}"
        response = self._transport.request(
            fetch,
            "GET",
            self._authorised(url),
            label=label,
            headers=self._headers(),
            follow_redirects=True,
        )
        if response.status in (401, 403):
            sent = (
                f"the token was sent as {self.settings.sent_as} (api.auth scheme "
                f"{self.settings.auth_scheme})"
                if self.settings.token
                else "no token was sent (token_env is not set in the YAML)"
            )
            raise self._error(
                f"{label}: credentials rejected (HTTP {response.status}); {sent} — check the "
                "token and the scheme the API expects (token, bearer, header, query)",
                kind="credentials",
                status=response.status,
            )
        if not 200 <= response.status < 300:
            raise self._error(
                f"{label}: HTTP {response.status} {response.reason}".rstrip()
                + f": {response.excerpt()}",
                kind="http",
                status=response.status,
            )
        page = _parse(response)
        if not isinstance(page, dict):
            what = (
                "not JSON" if page is _NOT_JSON else f"a JSON {type(page).__name__}, not an object"
            )
            raise self._error(
                f"page {number} ({_short(url)}) is {what}: got "
                f"{response.content_type or 'no content type'}: {response.excerpt()}",
                kind="protocol",
            )
        if not isinstance(page.get(self.settings.results_key), list):
            present = ", ".join(sorted(map(str, page))[:8]) or "none"
            raise self._error(
                f"page {number} ({_short(url)}) has no list {self.settings.results_key!r} "
                f"(keys: {present})",
                kind="protocol",
            )
        return page


_NOT_JSON = object()


def _parse(response: HttpResponse) -> Any:
    try:
        return json.loads(response.body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        return _NOT_JSON


def _with_param(url: str, key: str, value: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != key]
    query.append((key, value))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _resource_name(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.netloc}{parts.path}"


def _short(url: str, limit: int = 100) -> str:
    return url if len(url) <= limit else url[: limit - 1] + "…"
