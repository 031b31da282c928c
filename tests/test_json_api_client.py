"""The paginated JSON API client against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from sources.clients import FetchError, JsonApiClient, JsonApiSettings, RetryPolicy
from tests.genesis_replay import Fault, PagedJsonServer

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)
TOKEN = "tok-secret-5e1d"
RECORDS = [{"id": i, "school": f"S{i:05d}", "pupils": (i * 37) % 900} for i in range(1234)]


class Progress(list[str]):
    def __call__(self, message: str) -> None:
        self.append(message)


@pytest.fixture
def serve() -> Iterator[Callable[..., PagedJsonServer]]:
    servers: list[PagedJsonServer] = []

    def start(records: list[dict[str, Any]] = RECORDS, **kwargs: Any) -> PagedJsonServer:
        server = PagedJsonServer(records, **kwargs)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def settings_for(server: PagedJsonServer, **kwargs: Any) -> JsonApiSettings:
    options: dict[str, Any] = {"retry": FAST, "timeout_seconds": 5}
    options.update(kwargs)
    return JsonApiSettings(server.url, **options)


def test_three_pages_load_completely_in_order(serve: Callable[..., PagedJsonServer]) -> None:
    server = serve()
    progress = Progress()
    result = JsonApiClient(settings_for(server), progress).fetch_all()

    assert result.records == RECORDS
    assert (result.pages, result.count) == (3, 1234)
    assert result.seconds > 0
    assert [r.query for r in server.requests] == [
        {"page_size": "500"},
        {"page": "2", "page_size": "500"},
        {"page": "3", "page_size": "500"},
    ]
    assert all(r.headers["accept"] == "application/json" for r in server.requests)
    assert progress[0].startswith(
        f"127.0.0.1:{server.port}/api/items/: page 1, 500 of 1234 records"
    )
    assert progress[-1].startswith(f"127.0.0.1:{server.port}/api/items/: 1234 records in 3 pages")
    assert repr(result).startswith("JsonApiResult(records=<1234 records>, pages=3, count=1234")


@pytest.mark.parametrize("style", ["root", "query"])
def test_relative_next_links(serve: Callable[..., PagedJsonServer], style: str) -> None:
    server = serve(next_style=style)
    result = JsonApiClient(settings_for(server, page_size=300)).fetch_all()
    assert result.records == RECORDS
    assert result.pages == 5
    assert [r.path for r in server.requests] == ["/api/items/"] * 5


def test_existing_query_and_other_page_size_parameter(
    serve: Callable[..., PagedJsonServer],
) -> None:
    server = serve(page_size_param="limit")
    settings = JsonApiSettings(
        f"{server.url}?limit=7&kreis=05562", page_size=1000, page_size_param="limit", retry=FAST
    )
    result = JsonApiClient(settings).fetch_all()
    assert result.pages == 2
    assert server.requests[0].query == {"kreis": "05562", "limit": "1000"}


def test_count_mismatch_is_an_error(serve: Callable[..., PagedJsonServer]) -> None:
    server = serve(count=1300)
    with pytest.raises(FetchError) as caught:
        JsonApiClient(settings_for(server)).fetch_all()
    assert str(caught.value) == (
        f"127.0.0.1:{server.port}/api/items/: expected 1300 records, got 1234 (in 3 pages)"
    )
    assert caught.value.kind == "protocol"


def test_next_loop_is_detected(serve: Callable[..., PagedJsonServer]) -> None:
    server = serve(loop_at_page=3, records=RECORDS * 3)
    with pytest.raises(FetchError, match=r"the 'next' link of page 3 leads back to an earlier"):
        JsonApiClient(settings_for(server)).fetch_all()
    assert len(server.requests) == 3


def test_max_pages(serve: Callable[..., PagedJsonServer]) -> None:
    server = serve()
    with pytest.raises(FetchError, match=r"more than 2 pages \(max_pages\); 1000 records so far"):
        JsonApiClient(settings_for(server, max_pages=2)).fetch_all()


def test_page_that_is_not_json(serve: Callable[..., PagedJsonServer]) -> None:
    server = serve(not_json_page=2)
    with pytest.raises(FetchError) as caught:
        JsonApiClient(settings_for(server)).fetch_all()
    message = str(caught.value)
    assert message.startswith(
        f"127.0.0.1:{server.port}/api/items/: page 2 (http://127.0.0.1:{server.port}"
        "/api/items/?page=2&page_size=500) is not JSON: got text/html: GENESIS-Online "
        "Wartungsarbeiten"
    )
    assert "<" not in message


def test_page_without_results_key(serve: Callable[..., PagedJsonServer]) -> None:
    server = serve()
    with pytest.raises(FetchError, match=r"page 1 \(.*\) has no list 'items' \(keys: count, next"):
        JsonApiClient(settings_for(server, results_key="items")).fetch_all()


def test_server_error_then_success(serve: Callable[..., PagedJsonServer]) -> None:
    server = serve()
    server.faults.append(Fault.http_error(500, path="/api/items/"))
    progress = Progress()
    result = JsonApiClient(settings_for(server), progress).fetch_all()
    assert result.records == RECORDS
    assert len(server.requests) == 4
    assert progress[0].startswith(
        f"127.0.0.1:{server.port}/api/items/: GET page 1 attempt 1/3 failed (HTTP 500"
    )


def test_server_errors_until_attempts_are_exhausted(
    serve: Callable[..., PagedJsonServer],
) -> None:
    server = serve()
    server.faults.append(Fault.http_error(502, path="/api/items/", times=5))
    with pytest.raises(FetchError) as caught:
        JsonApiClient(settings_for(server)).fetch_all()
    assert str(caught.value).startswith(
        f"127.0.0.1:{server.port}/api/items/: GET page 1 failed after 3 attempts: HTTP 502"
    )
    assert caught.value.status == 502


def test_token_is_sent_and_masked(serve: Callable[..., PagedJsonServer]) -> None:
    server = serve(token=TOKEN, count=2000)
    progress = Progress()
    settings = settings_for(server, token=TOKEN)
    client = JsonApiClient(settings, progress)
    with pytest.raises(FetchError) as caught:  # the count lies: an error after all pages
        client.fetch_all()
    assert "expected 2000 records, got 1234" in str(caught.value)
    assert [r.headers["authorization"] for r in server.requests] == [f"Token {TOKEN}"] * 3
    assert all(TOKEN not in r.path and TOKEN not in str(r.query) for r in server.requests)

    assert "token='***'" in repr(settings)
    everything = "\n".join(
        [repr(settings), str(settings), repr(client), str(caught.value), *progress]
    )
    assert TOKEN not in everything

    wrong = JsonApiClient(settings_for(server, token="tok-wrong-0000"))
    with pytest.raises(FetchError) as rejected:
        wrong.fetch_all()
    assert rejected.value.kind == "credentials"
    assert str(rejected.value) == (
        f"127.0.0.1:{server.port}/api/items/: GET page 1: credentials rejected (HTTP 401); "
        "the token was sent as the header 'Authorization: Token …' (api.auth scheme token) — "
        "check the token and the scheme the API expects (token, bearer, header, query)"
    )


def test_the_token_in_a_header_of_its_own(serve: Callable[..., PagedJsonServer]) -> None:
    server = serve(token=TOKEN, token_header="X-Api-Key", token_prefix="")
    settings = settings_for(server, token=TOKEN, auth_scheme="header", auth_name="X-Api-Key")
    assert JsonApiClient(settings).fetch_all().pages == 3
    assert server.requests[0].headers["x-api-key"] == TOKEN
    assert "authorization" not in server.requests[0].headers


def test_a_bearer_token_and_what_a_401_says_about_the_scheme(
    serve: Callable[..., PagedJsonServer],
) -> None:
    """An API in the style of the Urban Institute's Education Data Portal wants Bearer."""
    server = serve(token=TOKEN, token_prefix="Bearer ")
    bearer = settings_for(server, token=TOKEN, auth_scheme="bearer")
    assert JsonApiClient(bearer).fetch_all().records == RECORDS
    assert {r.headers["authorization"] for r in server.requests} == {f"Bearer {TOKEN}"}
    with pytest.raises(FetchError) as rejected:  # the scheme of old: Token
        JsonApiClient(settings_for(server, token=TOKEN)).fetch_all()
    assert "the token was sent as the header 'Authorization: Token …'" in str(rejected.value)
    # as docs/sources.md quotes it
    from tests.conftest import REPO

    docs = " ".join((REPO / "docs/sources.md").read_text().split())
    assert str(rejected.value).split(": ", 1)[1] in docs
    with pytest.raises(FetchError) as none:
        JsonApiClient(settings_for(server)).fetch_all()
    assert "no token was sent (token_env is not set in the YAML)" in str(none.value)


def test_the_token_as_a_query_parameter_never_in_a_message(
    serve: Callable[..., PagedJsonServer],
) -> None:
    token = "k/ey+with=odd&chars"  # travels URL-encoded
    server = serve(token=token, token_param="api_key", next_style="query")
    progress = Progress()
    settings = settings_for(server, token=token, auth_scheme="query", auth_name="api_key")
    assert JsonApiClient(settings, progress).fetch_all().pages == 3
    assert all(r.query["api_key"] == token for r in server.requests)
    wrong = settings_for(server, token=token + "x", auth_scheme="query", auth_name="api_key")
    with pytest.raises(FetchError) as rejected:
        JsonApiClient(wrong, progress).fetch_all()
    message = str(rejected.value)
    assert "the query parameter 'api_key=…'" in message
    for form in (token, quote(token), quote_plus(token), quote(token + "x")):
        assert form not in "\n".join([message, *progress])


def test_settings_repr_without_token() -> None:
    settings = JsonApiSettings("https://example.org/api/items/")
    assert "token=None" in repr(settings)
    with pytest.raises(ValueError, match="http"):
        JsonApiSettings("ftp://example.org/items")
