"""The GENESIS client against real recordings, replayed over HTTP on 127.0.0.1.

Every test talks real HTTP to `tests/genesis_replay.GenesisReplayServer`, which serves the
answers recorded from Regionalstatistik and Destatis (`../shared/data/genesis-recordings`) and
injects faults where a test asks for them. Delays are tiny so that the file runs in seconds.
"""

from __future__ import annotations

import csv
import io
import pickle
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest

from sources.clients import (
    FetchError,
    GenesisClient,
    GenesisCredentials,
    GenesisError,
    GenesisSettings,
    RetryPolicy,
    TableFile,
    mask,
    parse_updated,
)
from sources.clients.http import Deadline, parse_retry_after
from tests.genesis_replay import (
    Fault,
    GenesisReplayServer,
    Interaction,
    load_cassette,
    status_json,
)

USER = "bm-user-7f3a"
SECRET = "bm-secret-91c2"
CREDENTIALS = GenesisCredentials(USER, SECRET)
FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, jitter=0.3)
JOB = "12531-0043_175879554"


class Progress(list[str]):
    """Collects progress messages."""

    def __call__(self, message: str) -> None:
        self.append(message)

    def text(self) -> str:
        return "\n".join(self)


@pytest.fixture
def serve() -> Iterator[Callable[..., GenesisReplayServer]]:
    servers: list[GenesisReplayServer] = []

    def start(recording: str | list[Interaction], **kwargs: str) -> GenesisReplayServer:
        server = GenesisReplayServer(recording, username=USER, password=SECRET, **kwargs)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def client_for(
    server: GenesisReplayServer,
    progress: Progress | None = None,
    credentials: GenesisCredentials = CREDENTIALS,
    **settings: object,
) -> GenesisClient:
    options: dict[str, object] = {"retry": FAST, "timeout_seconds": 5.0}
    options.update(settings)
    return GenesisClient(
        GenesisSettings(server.base_url, **options),  # type: ignore[arg-type]
        credentials,
        progress if progress is not None else Progress(),
    )


def csv_rows(table: TableFile) -> list[dict[str, str]]:
    text = table.csv().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


# --------------------------------------------------------------------------------------------
# Real tables
# --------------------------------------------------------------------------------------------


def test_small_table_loads_from_its_zip(serve: Callable[..., GenesisReplayServer]) -> None:
    server = serve("11111-02-01-4")
    progress = Progress()
    table = client_for(server, progress).fetch_table("11111-02-01-4", {"compress": "false"})

    assert table.name == "11111-02-01-4"
    assert table.updated == "21.11.2023 13:47:55h"
    assert table.job is None
    assert table.bytes == len(table.payload) == 7230
    assert table.requests == 2  # metadata/table, data/tablefile
    assert table.payload.startswith(b"PK\x03\x04")
    with zipfile.ZipFile(io.BytesIO(table.payload)) as archive:
        assert archive.namelist() == ["11111-02-01-4_1773174974558_de_flat.csv"]
    assert table.csv_name == "11111-02-01-4_1773174974558_de_flat.csv"

    rows = csv_rows(table)
    assert len(rows) == 489
    olpe = [r for r in rows if r["1_variable_attribute_code"] == "05966"]
    assert len(olpe) == 1
    assert olpe[0]["1_variable_attribute_label"] == "Olpe, Kreis"
    assert olpe[0]["value"] == "7"
    assert olpe[0]["time"] == "2024-12-31"
    dortmund = next(r for r in rows if r["1_variable_attribute_code"] == "05913")
    assert (dortmund["1_variable_attribute_label"], dortmund["value"]) == (
        "Dortmund, kreisfreie Stadt",
        "1",
    )

    data = server.calls("data/tablefile")
    assert len(data) == 1
    assert data[0].fields == {
        "name": "11111-02-01-4",
        "area": "all",
        "format": "ffcsv",
        "language": "de",
        "compress": "false",
        "job": "false",
    }
    assert progress[-1] == "11111-02-01-4: 7.2 kB zip in " + progress[-1].split(" in ")[1]
    assert "(2 requests)" in progress[-1]


def test_table_updated_and_metadata(serve: Callable[..., GenesisReplayServer]) -> None:
    server = serve("11111-02-01-4")
    client = client_for(server)

    updated = client.table_updated("11111-02-01-4")
    assert updated == "21.11.2023 13:47:55h"
    assert parse_updated(updated) == datetime(2023, 11, 21, 13, 47, 55)

    metadata = client.table_metadata("11111-02-01-4")
    assert metadata["Code"] == "11111-02-01-4"
    assert metadata["Time"] == {"From": "31.12.1995", "To": "31.12.2024"}
    assert [c["Code"] for c in metadata["Structure"]["Columns"]] == ["GEM001"]

    calls = server.calls("metadata/table")
    assert [c.fields for c in calls] == [
        {"name": "11111-02-01-4", "area": "all", "language": "de"}
    ] * 2


def test_gemeinde_table_streams_280_kb(serve: Callable[..., GenesisReplayServer]) -> None:
    server = serve("AI-N-01-2-5")
    progress = Progress()
    table = client_for(server, progress).fetch_table(
        "AI-N-01-2-5", {"compress": "false"}, ask_updated=False
    )

    assert table.bytes == 280226
    assert table.updated is None
    assert table.requests == 1
    assert len(table.csv()) == 4237311
    rows = csv_rows(table)
    gelsenkirchen = {
        r["value_variable_code"]: r["value"]
        for r in rows
        if r["1_variable_attribute_code"] == "05513000" and r["time"] == "2023"
    }
    assert gelsenkirchen == {"AI0111": "71,4", "AI0112": "-0,4"}
    assert any(r["1_variable_attribute_label"] == "Dortmund, kreisfreie Stadt" for r in rows)
    assert "AI-N-01-2-5: 280.2 kB received in" in progress.text()


def test_large_table_goes_through_a_job(serve: Callable[..., GenesisReplayServer]) -> None:
    server = serve("12531-0043")
    progress = Progress()
    client = client_for(server, progress, poll_interval_seconds=0.001)
    table = client.fetch_table("12531-0043", {"compress": "true"})

    assert table.job == JOB
    assert table.bytes == 1806335
    assert table.updated == "28.12.2022 17:16:03h"
    # metadata, tablefile (98), tablefile job=true (99), 406 polls, resultfile
    assert table.requests == 1 + 2 + 406 + 1
    with zipfile.ZipFile(io.BytesIO(table.payload)) as archive:
        (info,) = archive.infolist()
    assert info.filename == f"{JOB}_flat.csv"
    assert info.file_size == len(table.csv()) == 33542142

    tablefile = server.calls("data/tablefile")
    assert [c.fields["job"] for c in tablefile] == ["false", "true"]
    polls = server.calls("catalogue/results")
    assert len(polls) == 406
    assert polls[0].fields == {
        "selection": JOB,
        "area": "user",
        "pagelength": "1",
        "language": "de",
    }
    (result,) = server.calls("data/resultfile")
    assert result.fields["name"] == JOB
    assert result.fields["job"] == "false"
    assert result.fields["compress"] == "true"
    assert not server.unmatched

    text = progress.text()
    assert "12531-0043: table too large for a direct download (GENESIS status 98)" in text
    assert f"12531-0043: job {JOB} started" in text
    assert f"job {JOB} not ready yet (poll 1," in text
    assert f"12531-0043: job {JOB} ready after 406 polls" in text
    assert "12531-0043: 1.8 MB received in" in text


def test_status_minus_one_names_table_and_service_message(
    serve: Callable[..., GenesisReplayServer],
) -> None:
    server = serve("61111-0021")
    with pytest.raises(GenesisError) as caught:
        client_for(server).fetch_table("61111-0021", {"compress": "false"}, ask_updated=False)
    error = caught.value
    assert error.code == -1
    assert error.kind == "service"
    assert error.resource == "61111-0021"
    message = str(error)
    assert message.startswith(
        "61111-0021: GENESIS status -1 (Fehler): Für die Teiltabelle mit der "
        "Metadatenkombination: Verbraucherpreisindex für Deutschland (61111)"
    )
    assert "wurde kein Datenquader gefunden! (Keine Datenquader oder Zeitscheibe nach PTable)" in (
        message
    )
    assert error.service_message is not None
    assert error.service_message.startswith("Für die Teiltabelle mit der Metadatenkombination:\n")
    assert len(server.calls("data/tablefile")) == 1  # a service error is not retried


def test_status_104_no_objects(serve: Callable[..., GenesisReplayServer]) -> None:
    server = serve("63121-0001")
    progress = Progress()
    with pytest.raises(GenesisError) as caught:
        # with ask_updated: metadata/table is not in the recording (HTTP 404), not fatal
        client_for(server, progress).fetch_table("63121-0001", {"compress": "false"})
    assert caught.value.code == 104
    assert str(caught.value).startswith(
        "63121-0001: GENESIS status 104 (Information): "
        "Es gibt keine Objekte zum angegebenen Selektionskriterium — no objects"
    )
    assert "63121-0001: no update stamp from metadata/table (POST metadata/table: HTTP 404" in (
        progress.text()
    )


def test_language_is_sent(serve: Callable[..., GenesisReplayServer]) -> None:
    server = serve("63121-0001")
    with pytest.raises(GenesisError, match="There are no objects matching your selection"):
        client_for(server, language="en").fetch_table("63121-0001", ask_updated=False)
    assert server.calls("data/tablefile")[0].fields["language"] == "en"


# --------------------------------------------------------------------------------------------
# Credentials
# --------------------------------------------------------------------------------------------


def test_credentials_travel_only_in_headers(serve: Callable[..., GenesisReplayServer]) -> None:
    server = serve("11111-02-01-4")
    client_for(server).fetch_table("11111-02-01-4", {"compress": "false"})
    assert len(server.requests) == 2
    for request in server.requests:
        assert request.method == "POST"
        assert request.headers["username"] == USER
        assert request.headers["password"] == SECRET
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        assert request.query == {}
        assert "username" not in request.fields and "password" not in request.fields
        assert USER not in request.body and SECRET not in request.body


def test_token_is_sent_as_username_with_empty_password() -> None:
    server = GenesisReplayServer("11111-02-01-4", username="tok-0a9b8c7d6e", password="")
    with server:
        token = GenesisCredentials.token("tok-0a9b8c7d6e")
        assert repr(token) == "GenesisCredentials(username='***', password='')"
        client_for(server, credentials=token).table_updated("11111-02-01-4")
        assert server.requests[0].headers["username"] == "tok-0a9b8c7d6e"
        assert server.requests[0].headers["password"] == ""


def test_wrong_credentials_are_rejected(serve: Callable[..., GenesisReplayServer]) -> None:
    server = serve("11111-02-01-4")
    client = client_for(server, credentials=GenesisCredentials("someone-else", "wrong-pass"))
    with pytest.raises(GenesisError) as caught:
        client.fetch_table("11111-02-01-4")
    error = caught.value
    assert error.kind == "credentials"
    assert str(error).startswith(
        f"11111-02-01-4: credentials rejected by {server.base_url} "
        "(HTTP 401 on POST metadata/table)"
    )
    assert len(server.requests) == 1  # not retried
    # table_updated is an optimisation, but wrong credentials are an error there too
    with pytest.raises(GenesisError, match="credentials rejected"):
        client.table_updated("11111-02-01-4")


# --------------------------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------------------------


def test_server_error_then_success(serve: Callable[..., GenesisReplayServer]) -> None:
    server = serve("11111-02-01-4")
    server.faults.append(Fault.http_error(500, path="data/tablefile"))
    progress = Progress()
    table = client_for(server, progress).fetch_table(
        "11111-02-01-4", {"compress": "false"}, ask_updated=False
    )
    assert table.bytes == 7230
    assert table.requests == 2
    assert len(server.calls("data/tablefile")) == 2
    assert progress[0].startswith(
        "11111-02-01-4: POST data/tablefile attempt 1/3 failed "
        "(HTTP 500 (Internal Server Error): 500 Fehler 500); retrying in 0.0"
    )


def test_429_waits_for_retry_after(serve: Callable[..., GenesisReplayServer]) -> None:
    server = serve("11111-02-01-4")
    server.faults.append(Fault.too_many_requests("0.2", path="data/tablefile", times=2))
    progress = Progress()
    retry = RetryPolicy(attempts=4, base_delay=0.001, max_delay=5.0)
    started = time.monotonic()
    table = client_for(server, progress, retry=retry).fetch_table(
        "11111-02-01-4", {"compress": "false"}, ask_updated=False
    )
    assert time.monotonic() - started >= 0.4
    assert table.requests == 3
    assert [m.split(" failed ")[0] for m in progress[:2]] == [
        "11111-02-01-4: POST data/tablefile attempt 1/4",
        "11111-02-01-4: POST data/tablefile attempt 2/4",
    ]
    assert "(HTTP 429 (Too Many Requests), Retry-After 0.20 s" in progress[0]
    assert progress[0].endswith("retrying in 0.20 s")


def test_retry_after_is_capped_by_max_delay(serve: Callable[..., GenesisReplayServer]) -> None:
    server = serve("11111-02-01-4")
    server.faults.append(Fault.too_many_requests("3600", path="data/tablefile"))
    started = time.monotonic()
    client_for(server).fetch_table("11111-02-01-4", {"compress": "false"}, ask_updated=False)
    assert time.monotonic() - started < 30  # not the hour the server asked for


def test_429_until_attempts_are_exhausted(serve: Callable[..., GenesisReplayServer]) -> None:
    server = serve("11111-02-01-4")
    server.faults.append(Fault.too_many_requests("0.01", path="data/tablefile", times=10))
    with pytest.raises(GenesisError) as caught:
        client_for(server).fetch_table("11111-02-01-4", ask_updated=False)
    assert caught.value.kind == "http"
    assert caught.value.status == 429
    assert str(caught.value).startswith(
        "11111-02-01-4: POST data/tablefile failed after 3 attempts: "
        "HTTP 429 (Too Many Requests), Retry-After 0.01 s"
    )
    assert len(server.calls("data/tablefile")) == 3


def test_hanging_answer_times_out_after_the_retries(
    serve: Callable[..., GenesisReplayServer],
) -> None:
    server = serve("AI-N-01-2-5")
    server.faults.append(Fault.hang(3.0, path="data/tablefile", times=5))
    progress = Progress()
    client = client_for(server, progress, timeout_seconds=0.2, retry=FAST)
    started = time.monotonic()
    with pytest.raises(GenesisError) as caught:
        client.fetch_table("AI-N-01-2-5", ask_updated=False)
    assert time.monotonic() - started < 8  # three 0.2 s timeouts, not three 3 s hangs
    assert caught.value.kind == "timeout"
    assert str(caught.value) == (
        "AI-N-01-2-5: POST data/tablefile failed after 3 attempts: "
        "no answer within 0.20 s (read timeout)"
    )
    assert len(server.calls("data/tablefile")) == 3
    assert "attempt 2/3 failed (no answer within 0.20 s (read timeout))" in progress.text()


def test_one_hang_then_the_table(serve: Callable[..., GenesisReplayServer]) -> None:
    server = serve("AI-N-01-2-5")
    server.faults.append(Fault.hang(3.0, path="data/tablefile"))
    table = client_for(server, timeout_seconds=0.2).fetch_table(
        "AI-N-01-2-5", {"compress": "false"}, ask_updated=False
    )
    assert table.bytes == 280226
    assert table.requests == 2


def test_connection_cut_mid_zip_is_retried(serve: Callable[..., GenesisReplayServer]) -> None:
    server = serve("AI-N-01-2-5")
    server.faults.append(Fault.truncated(path="data/tablefile"))
    progress = Progress()
    table = client_for(server, progress).fetch_table(
        "AI-N-01-2-5", {"compress": "false"}, ask_updated=False
    )
    assert table.bytes == 280226
    assert len(server.calls("data/tablefile")) == 2
    assert "attempt 1/3 failed (incomplete body: the connection ended after" in progress.text()


def test_cut_zip_with_matching_length_is_retried(
    serve: Callable[..., GenesisReplayServer],
) -> None:
    server = serve("AI-N-01-2-5")
    server.faults.append(Fault.truncated(path="data/tablefile", keep_length=True))
    progress = Progress()
    table = client_for(server, progress).fetch_table(
        "AI-N-01-2-5", {"compress": "false"}, ask_updated=False
    )
    assert table.bytes == 280226
    assert "attempt 1/3 failed (the zip (140.1 kB) is incomplete or damaged (BadZipFile" in (
        progress.text()
    )


def test_zip_truncated_every_time_is_an_error(serve: Callable[..., GenesisReplayServer]) -> None:
    server = serve("11111-02-01-4")
    server.faults.append(Fault.truncated(path="data/tablefile", keep_length=True, times=10))
    with pytest.raises(GenesisError) as caught:
        client_for(server).fetch_table("11111-02-01-4", ask_updated=False)
    assert caught.value.kind == "truncated"
    assert str(caught.value).startswith(
        "11111-02-01-4: POST data/tablefile failed after 3 attempts: "
        "the zip (3.6 kB) is incomplete or damaged"
    )


def test_zip_without_csv(serve: Callable[..., GenesisReplayServer]) -> None:
    server = serve("11111-02-01-4")
    server.faults.append(Fault.zip_without_csv(path="data/tablefile"))
    with pytest.raises(GenesisError) as caught:
        client_for(server).fetch_table("11111-02-01-4", ask_updated=False)
    assert str(caught.value) == (
        "11111-02-01-4: the zip from POST data/tablefile holds 0 CSV files, expected exactly "
        "one (members: readme.txt, meta.xml)"
    )
    assert len(server.calls("data/tablefile")) == 1


def test_zip_with_two_csv(serve: Callable[..., GenesisReplayServer]) -> None:
    server = serve("11111-02-01-4")
    server.faults.append(Fault.zip_with_two_csv(path="data/tablefile"))
    with pytest.raises(GenesisError, match=r"holds 2 CSV files, expected exactly one"):
        client_for(server).fetch_table("11111-02-01-4", ask_updated=False)


def test_html_instead_of_json(serve: Callable[..., GenesisReplayServer]) -> None:
    server = serve("61111-0021")
    server.faults.append(Fault.html(path="data/tablefile"))
    with pytest.raises(GenesisError) as caught:
        client_for(server).fetch_table("61111-0021", ask_updated=False)
    assert caught.value.kind == "protocol"
    message = str(caught.value)
    assert message.startswith(
        "61111-0021: POST data/tablefile: expected a JSON answer, got text/html (218 B): "
        "GENESIS-Online Wartungsarbeiten Die Datenbank ist wegen Wartungsarbeiten"
    )
    assert "<" not in message and "color:red" not in message
    assert len(message) < 260


def test_html_metadata_is_not_fatal_for_table_updated(
    serve: Callable[..., GenesisReplayServer],
) -> None:
    server = serve("11111-02-01-4")
    server.faults.append(Fault.html(path="metadata/table"))
    progress = Progress()
    assert client_for(server, progress).table_updated("11111-02-01-4") is None
    assert progress[0].startswith(
        "11111-02-01-4: no update stamp from metadata/table (POST metadata/table: expected a "
        "JSON answer, got text/html"
    )


# --------------------------------------------------------------------------------------------
# Time budget and concurrency
# --------------------------------------------------------------------------------------------


def test_budget_runs_out_while_polling(serve: Callable[..., GenesisReplayServer]) -> None:
    server = serve("12531-0043")
    progress = Progress()
    client = client_for(server, progress, poll_interval_seconds=0.02, time_budget_seconds=0.5)
    started = time.monotonic()
    with pytest.raises(GenesisError) as caught:
        client.fetch_table("12531-0043", {"compress": "true"}, ask_updated=False)
    assert time.monotonic() - started < 10  # stops at the budget, not after 406 polls
    error = caught.value
    assert error.kind == "budget"
    message = str(error)
    assert message.startswith("12531-0043: time budget of 0.5 s exhausted after ")
    assert f"job {JOB} not ready after " in message
    assert f"fetch it later with data/resultfile name={JOB}" in message
    assert not server.calls("data/resultfile")
    # it polled (how often depends on the machine's load: 2 polls were seen in CI)
    assert 1 <= len(server.calls("catalogue/results")) < 406


def test_budget_running_out_during_a_poll_still_names_the_job(
    serve: Callable[..., GenesisReplayServer],
) -> None:
    server = serve("12531-0043")
    server.response_delay = 0.3  # every answer: the budget ends while a poll waits for one
    client = client_for(server, Progress(), poll_interval_seconds=0.0, time_budget_seconds=1.0)
    with pytest.raises(GenesisError) as caught:
        client.fetch_table("12531-0043", {"compress": "true"}, ask_updated=False)
    message = str(caught.value)
    assert caught.value.kind == "budget"
    assert message.startswith("12531-0043: time budget of 1 s exhausted after ")
    assert "POST catalogue/results (poll " in message  # where it ran out
    assert f"; job {JOB} not ready after " in message
    assert message.endswith(f"fetch it later with data/resultfile name={JOB}")


def test_budget_stops_retries(serve: Callable[..., GenesisReplayServer]) -> None:
    server = serve("11111-02-01-4")
    server.faults.append(Fault.http_error(503, path="data/tablefile", times=10))
    slow = RetryPolicy(attempts=5, base_delay=1.0, max_delay=10.0, jitter=0.0)
    with pytest.raises(GenesisError) as caught:
        client_for(server, retry=slow, time_budget_seconds=0.3).fetch_table(
            "11111-02-01-4", ask_updated=False
        )
    assert caught.value.kind == "budget"
    assert str(caught.value).startswith("11111-02-01-4: time budget of 0.3 s exhausted after")
    assert "POST data/tablefile not retried (attempt 1/5 failed: HTTP 503" in str(caught.value)
    assert len(server.calls("data/tablefile")) == 1


def test_at_most_max_parallel_requests_per_host(
    serve: Callable[..., GenesisReplayServer],
) -> None:
    server = serve("11111-02-01-4")
    server.response_delay = 0.05
    # two clients of the same service share the bound of the host
    first = client_for(server, max_parallel=2)
    second = client_for(server, max_parallel=2)
    results: list[str | None] = []
    errors: list[BaseException] = []

    def work(client: GenesisClient) -> None:
        try:
            results.append(client.table_updated("11111-02-01-4"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(c,)) for c in [first, second] * 3]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not errors
    assert results == ["21.11.2023 13:47:55h"] * 6
    assert len(server.requests) == 6
    assert server.max_in_flight == 2


# --------------------------------------------------------------------------------------------
# Secrets never leak
# --------------------------------------------------------------------------------------------


def leaky_interactions() -> list[Interaction]:
    """A recorded tablefile answer whose service message echoes the credentials."""
    base = load_cassette("61111-0021")[0]
    body = status_json(-1, f"Benutzer {USER} mit Passwort {SECRET} unbekannt")
    return [
        Interaction(
            index=0,
            method="POST",
            base_path=base.base_path,
            path="data/tablefile",
            fields={"name": "61111-0021"},
            status=200,
            reason="OK",
            content_type="application/json",
            disposition=None,
            body=body,
        )
    ]


def test_credentials_appear_nowhere(serve: Callable[..., GenesisReplayServer]) -> None:
    progress = Progress()
    texts: list[str] = []

    def failing(call: Callable[[], object]) -> FetchError:
        with pytest.raises(FetchError) as caught:
            call()
        error = caught.value
        texts.extend([str(error), repr(error), error.detail, error.resource])
        if isinstance(error, GenesisError) and error.service_message:
            texts.append(error.service_message)
        return error

    server = serve("11111-02-01-4")
    client = client_for(server, progress, timeout_seconds=0.2)
    server.faults.extend(
        [
            Fault.http_error(500, path="data/tablefile"),
            Fault.truncated(path="data/tablefile"),
        ]
    )
    table = client.fetch_table("11111-02-01-4", {"compress": "false"})
    texts.extend([repr(table), str(table), repr(client), repr(client.settings), str(client)])
    texts.extend([repr(CREDENTIALS), str(CREDENTIALS), repr(client._transport)])

    leaky_html = f"<html><body>Angemeldet als {USER} / {SECRET}</body></html>".encode()
    server.faults.append(Fault.html(leaky_html, path="data/tablefile"))
    failing(lambda: client.fetch_table("11111-02-01-4", ask_updated=False))
    server.faults.append(Fault.hang(2.0, path="data/tablefile", times=3))
    failing(lambda: client.fetch_table("11111-02-01-4", ask_updated=False))
    wrong = client_for(server, progress, credentials=GenesisCredentials(USER, "not-" + SECRET))
    failing(lambda: wrong.fetch_table("11111-02-01-4"))

    leaky = serve(leaky_interactions())
    error = failing(
        lambda: client_for(leaky, progress).fetch_table("61111-0021", ask_updated=False)
    )
    assert isinstance(error, GenesisError)
    assert error.service_message == "Benutzer *** mit Passwort *** unbekannt"
    assert error.kind == "credentials"  # the message speaks of a password

    everything = "\n".join(texts + list(progress))
    assert "***" in everything
    assert "attempt 1/3 failed" in everything
    assert USER not in everything
    assert SECRET not in everything
    assert "bm-user" not in everything and "91c2" not in everything


# --------------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------------


def test_errors_survive_pickling() -> None:
    error = GenesisError(
        "61111-0021", f"GENESIS status -1 (Fehler): {SECRET}", kind="service", code=-1,
        service_message=f"x {SECRET}", secrets=[SECRET],
    )  # fmt: skip
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is GenesisError
    assert str(copy) == "61111-0021: GENESIS status -1 (Fehler): ***"
    assert (copy.resource, copy.kind, copy.code, copy.service_message) == (
        "61111-0021",
        "service",
        -1,
        "x ***",
    )


def test_mask_replaces_every_secret() -> None:
    text = f"user={USER}&pw=bm%2Dsecret {SECRET} {SECRET.upper()} ab"
    assert mask(text, [USER, SECRET, "ab", None, ""]) == (
        f"user=***&pw=bm%2Dsecret *** {SECRET.upper()} ab"
    )
    assert mask("p=a%2Fb%26c", ["a/b&c"]) == "p=***"


def test_retry_policy_backoff() -> None:
    policy = RetryPolicy(attempts=5, base_delay=1.0, max_delay=60.0, jitter=0.3)
    assert policy.delay(1, rng=lambda: 0.5) == 1.0
    assert policy.delay(3, rng=lambda: 0.5) == 4.0
    assert policy.delay(3, rng=lambda: 0.0) == pytest.approx(2.8)
    assert policy.delay(3, rng=lambda: 1.0) == pytest.approx(5.2)
    assert policy.delay(10, rng=lambda: 1.0) == 60.0
    assert policy.delay(1, retry_after=120) == 60.0
    assert policy.delay(4, retry_after=2.5) == 2.5
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("soon") is None
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)


def test_deadline() -> None:
    now = [100.0]
    deadline = Deadline(5, clock=lambda: now[0])
    now[0] = 103.0
    assert deadline.remaining() == 2.0 and not deadline.expired
    now[0] = 105.5
    assert deadline.expired
    assert deadline.exhausted_message("poll 3 not started") == (
        "time budget of 5 s exhausted after 5.50 s; poll 3 not started"
    )


def test_settings_and_parameters_are_checked() -> None:
    settings = GenesisSettings("https://www.regionalstatistik.de/genesisws/rest/2020/")
    assert settings.base_url == "https://www.regionalstatistik.de/genesisws/rest/2020"
    assert settings.max_parallel == 5 and settings.language == "de"
    with pytest.raises(ValueError, match="must end with '/rest/2020'"):
        GenesisSettings("https://www-genesis.destatis.de/genesisWS/rest/2025")
    with pytest.raises(ValueError, match="must not contain credentials") as caught:
        GenesisSettings(f"https://{USER}:{SECRET}@www-genesis.destatis.de/genesisWS/rest/2020")
    assert SECRET not in str(caught.value)
    with pytest.raises(ValueError, match="empty"):
        GenesisCredentials("  ")
    client = GenesisClient(settings, CREDENTIALS)
    with pytest.raises(ValueError, match="'job' is set by the client"):
        client.fetch_table("11111-02-01-4", {"job": "true"})
    with pytest.raises(ValueError, match="credentials go in GenesisCredentials"):
        client.fetch_table("11111-02-01-4", {"password": SECRET})
    assert repr(CREDENTIALS) == "GenesisCredentials(username='***', password='***')"
