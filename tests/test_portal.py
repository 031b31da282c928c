"""The partner portal (issue 13): a real uvicorn on loopback per test (its own data directory),
driven by httpx clients and by headless Chromium; the inbox sensor and the warehouse's own
ingest and staging pick up what it delivered."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import httpx
import pytest
import uvicorn

from portal.app import PortalSettings, build_app
from portal.partners import load_partners
from portal.store import PortalStore
from portal.tokens import TokenStore
from sources.registry import load_registry
from tests.browser import Browser
from tests.conftest import REPO
from warehouse.db import DataPaths
from warehouse.inbox_delivery import DeliveryNote, note_path

pytestmark = pytest.mark.slow  # every test starts a server

ARTIFACTS = REPO / "tests" / "artifacts" / "portal"
LIMIT = 64 * 1024  # the upload limit of the test server
PARTNERS_YAML = """\
partners:
  bildungsbueros_ruhr:
    name: Kommunale Bildungsbüros der Ruhr
    email: bildungsbuero@example.org
    sources: [schulabgaenger_abschlussart]
  bildungsbuero_essen:
    name: Bildungsbüro Essen
    email: bildungsbuero@essen.example.org
    sources: [schulabgaenger_abschlussart]
  landesjugendaemter:
    name: Landesjugendämter LVR/LWL
    email: kita-statistik@example.org
    sources: [kita_betreuung]
  lernpaten_ruhr:
    name: Lernpaten Ruhr
    email: daten@lernpaten.example.org
    sources: [lernfoerderung]
  itnrw_bevoelkerung:
    name: IT.NRW Bevölkerungsstatistik
    email: bevoelkerung@example.org
    sources: [bevoelkerung_kinder]
"""
SCREENING_EXAMPLE = re.findall(
    r"```csv\n(.*?)```", (REPO / "docs" / "screening.md").read_text(encoding="utf-8"), re.S
)[0]
WARNING_FILE = SCREENING_EXAMPLE.encode("cp1252")  # WARNUNG: -3 and an unknown key
# the first line repeated at the end: FEHLER, naming line 2 and its columns
BROKEN_FILE = (SCREENING_EXAMPLE + SCREENING_EXAMPLE.splitlines()[1] + "\n").encode("cp1252")
DEMO = REPO / "sources" / "demo" / "deliveries"


def small_delivery(source_id: str) -> bytes:
    """A few lines of the demo delivery of each source: each passes the screener (no FEHLER)."""
    if source_id == "kita_betreuung":
        return (DEMO / "kita_betreuung" / "SYNTHETISCH_kindertagesbetreuung_berichtigung_2024.csv"
                ).read_bytes()  # fmt: skip
    folder = {"schulabgaenger_abschlussart": "schulabgaenger", "lernfoerderung": "lernfoerderung",
              "bevoelkerung_kinder": "bevoelkerung_kinder"}[source_id]  # fmt: skip
    (path,) = (DEMO / folder).glob("*.csv")
    return b"".join(path.read_bytes().splitlines(keepends=True)[:25])


@dataclass
class Running:
    url: str
    paths: DataPaths
    tokens: dict[str, str]  # partner id -> its access token
    revoked: str  # a revoked token of lernpaten_ruhr
    token_store: TokenStore
    store: PortalStore

    def client(self, forwarded_for: str | None = None) -> httpx.Client:
        headers = {"x-forwarded-for": forwarded_for} if forwarded_for else {}
        return httpx.Client(base_url=self.url, follow_redirects=False, timeout=120,
                            headers=headers)  # fmt: skip

    def signed_in(self, partner: str) -> httpx.Client:
        client = self.client()
        answer = sign_in(client, self.tokens[partner])
        assert answer.status_code == 303, answer.text
        return client

    def written(self) -> dict[str, str]:
        """Every file under the inbox and the portal's uploads, and the deliveries list."""
        found = {}
        for folder in (self.paths.inbox, self.paths.root / "portal" / "uploads"):
            for path in sorted(folder.rglob("*")) if folder.exists() else []:
                if path.is_file():
                    found[str(path.relative_to(self.paths.root))] = _sha(path.read_bytes())
        if self.store.ledger.exists():
            found["portal/deliveries.jsonl"] = _sha(self.store.ledger.read_bytes())
        return found


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def sign_in(client: httpx.Client, token: str) -> httpx.Response:
    csrf = csrf_of(client.get("/anmelden").text)
    return client.post("/anmelden", data={"csrf": csrf, "token": token})


def upload(client: httpx.Client, source: str, name: str, data: bytes, csrf: str | None = None):
    csrf = csrf if csrf is not None else csrf_of(client.get("/").text)
    fields = {"csrf": csrf, "quelle": source} if csrf else {"quelle": source}
    return client.post("/hochladen", data=fields, files={"datei": (name, data, "text/csv")})


def deliver(client: httpx.Client, upload_id: str) -> httpx.Response:
    csrf = csrf_of(client.get("/").text)
    return client.post(f"/hochladen/{upload_id}/liefern", data={"csrf": csrf})


def upload_id_of(html: str) -> str:
    return re.search(r'action="/hochladen/([0-9a-f]{32})/liefern"', html).group(1)


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Running]:
    paths = DataPaths(tmp_path / "data")
    (tmp_path / "partners.yaml").write_text(PARTNERS_YAML, encoding="utf-8")
    registry = load_registry()
    partners = load_partners(tmp_path / "partners.yaml", registry)
    token_store = TokenStore(paths.root / "portal")
    tokens = {partner: token_store.issue(partner).token for partner in partners}
    revoked = token_store.issue("lernpaten_ruhr")
    token_store.revoke("lernpaten_ruhr", revoked.token_id)
    settings = PortalSettings(paths, registry, partners, max_upload=LIMIT,
                              secure_cookies=False, session_secret="test")  # fmt: skip
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(
            build_app(settings),
            proxy_headers=True,
            forwarded_allow_ips="127.0.0.1",
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the portal did not start"
        time.sleep(0.02)
    host, port = listening.getsockname()
    yield Running(f"http://{host}:{port}", paths, tokens, revoked.token, token_store,
                  PortalStore(paths.root / "portal"))  # fmt: skip
    server.should_exit = True
    thread.join(timeout=15)
    listening.close()


# --- in Chromium: sign in, upload, screen, deliver, follow -------------------------------------


def test_a_partner_screens_and_delivers_in_the_browser(portal: Running, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    good, broken = tmp_path / "abgaenger_2024-25.csv", tmp_path / "abgaenger_doppelt.csv"
    good.write_bytes(WARNING_FILE)
    broken.write_bytes(BROKEN_FILE)
    with Browser(loopback=True) as browser:
        visit = browser.visit(f"{portal.url}/anmelden")
        token = json.dumps(portal.tokens["bildungsbueros_ruhr"])
        browser.evaluate(
            f"document.querySelector('#token').value = {token};"
            "document.querySelector('#anmelden').click()"
        )
        browser.wait_for("document.querySelector('#datei') !== null")
        assert "Kommunale Bildungsbüros der Ruhr" in browser.evaluate("document.body.innerText")

        browser.set_files("#datei", good)
        browser.evaluate("document.querySelector('#pruefen').click()")
        browser.wait_for("document.querySelector('#urteil') !== null")
        browser.screenshot(ARTIFACTS / "befund_warnung.png")
        text = browser.evaluate("document.body.innerText")
        assert "Prüfbericht für abgaenger_2024-25.csv" in text
        assert browser.evaluate("document.querySelector('#urteil').innerText") == (
            "Ergebnis: WARNUNG"
        )
        assert "05999999" in text  # the unknown key, named with its line
        browser.evaluate("document.querySelector('#liefern').click()")
        browser.wait_for("document.querySelector('#stand') !== null")
        browser.screenshot(ARTIFACTS / "lieferung_eingegangen.png")
        assert browser.evaluate("document.querySelector('#stand').innerText") == (
            "Eingegangen – wartet auf den nächsten Lauf"
        )
        assert "Ihre Datei ist geliefert" in browser.evaluate("document.body.innerText")
        browser.visit(f"{portal.url}/lieferungen")
        browser.screenshot(ARTIFACTS / "lieferungen.png")
        rows = browser.evaluate("document.querySelectorAll('#lieferungen tbody tr').length")
        assert rows == 1

        browser.visit(f"{portal.url}/")
        browser.set_files("#datei", broken)
        browser.evaluate("document.querySelector('#pruefen').click()")
        browser.wait_for("document.querySelector('#urteil') !== null")
        browser.screenshot(ARTIFACTS / "befund_fehler.png")
        text = browser.evaluate("document.body.innerText")
        assert browser.evaluate("document.querySelector('#urteil').innerText") == (
            "Ergebnis: FEHLER"
        )
        assert "Zeile 2, Spalte 'Abgänger/-innen insgesamt' für 05513000, 2022/23" in text
        # 14 values of 2 lines: the headline counts the lines (it once said '14 Zeilen')
        assert (
            "14 Werte (15 %) verletzen diese Prüfung – mehr, als eine Lieferung haben darf; "
            "die Datei würde abgelehnt: 2 Zeilen"
        ) in text
        assert browser.evaluate("document.querySelector('#liefern') === null")
        assert "kann so nicht geliefert werden" in text
        # sending the deliver form anyway (as a crafted request would): refused
        (failed,) = [p for p in portal.store.uploads.glob("*.json")
                     if json.loads(p.read_text())["verdict"] == "FAIL"]  # fmt: skip
        csrf = browser.evaluate("document.querySelector('input[name=csrf]').value")
        browser.evaluate(
            "const f = document.createElement('form'); f.method = 'post';"
            f"f.action = '/hochladen/{failed.stem}/liefern';"
            f"f.innerHTML = '<input name=csrf value={csrf}>'; document.body.append(f); f.submit()"
        )
        browser.wait_for("document.querySelector('#meldung') !== null")
        assert "kann so nicht geliefert werden" in browser.evaluate("document.body.innerText")
        # nothing from another host (no CDN), nothing failed, no console error
        assert all(url.startswith(portal.url + "/") for url in visit.requests), visit.requests
        assert not visit.failed and not visit.errors

    inbox = portal.paths.inbox_for("schulabgaenger_abschlussart")
    assert sorted(p.name for p in inbox.iterdir()) == [
        ".abgaenger_2024-25.csv.delivery.json", "abgaenger_2024-25.csv"]  # fmt: skip
    assert (inbox / "abgaenger_2024-25.csv").read_bytes() == WARNING_FILE
    note = DeliveryNote.model_validate_json(note_path(inbox / "abgaenger_2024-25.csv").read_text())
    assert (note.delivered_by, note.original_name) == ("bildungsbueros_ruhr", good.name)


# --- security ---------------------------------------------------------------------------------


def test_no_token_a_wrong_token_or_a_revoked_one_is_401(portal: Running) -> None:
    before = portal.written()
    client = portal.client()
    for path in ("/", "/lieferungen", "/lieferungen/" + "0" * 32):
        answer = client.get(path)
        assert answer.status_code == 401, path
        assert "Bitte melden Sie sich mit Ihrem Zugangsschlüssel an." in answer.text
    csrf = csrf_of(client.get("/anmelden").text)
    answer = client.post("/hochladen", data={"csrf": csrf, "quelle": "kita_betreuung"},
                         files={"datei": ("k.csv", b"x;y\n1;2\n")})  # fmt: skip
    assert answer.status_code == 401
    for token in (portal.tokens["lernpaten_ruhr"] + "x", "bmp_nope_nope", "", portal.revoked):
        answer = sign_in(client, token)
        assert answer.status_code == 401, token
        assert "Der Zugangsschlüssel ist nicht gültig oder wurde widerrufen." in answer.text
        assert "set-cookie" not in answer.headers or "partner" not in answer.headers["set-cookie"]
    # a session whose token is revoked afterwards ends at its next request
    signed = portal.signed_in("landesjugendaemter")
    assert signed.get("/").status_code == 200
    portal.token_store.revoke("landesjugendaemter")
    assert signed.get("/").status_code == 401
    assert signed.get("/lieferungen").status_code == 401
    assert portal.written() == before


def test_another_partners_source_or_delivery_is_404(portal: Running) -> None:
    ruhr, kita = portal.signed_in("bildungsbueros_ruhr"), portal.signed_in("landesjugendaemter")
    before = portal.written()
    answer = upload(ruhr, "kita_betreuung", "kita.csv", small_delivery("kita_betreuung"))
    assert answer.status_code == 404
    assert "Diese Quelle gibt es nicht, oder Sie liefern sie nicht." in answer.text
    assert upload(ruhr, "gibt_es_nicht", "x.csv", b"a;b\n").status_code == 404
    assert portal.written() == before

    screened = upload(kita, "kita_betreuung", "kita_2026.csv", small_delivery("kita_betreuung"))
    kita_upload = upload_id_of(screened.text)
    assert deliver(ruhr, kita_upload).status_code == 404  # the other partner's upload
    assert deliver(kita, kita_upload).status_code == 303
    assert deliver(kita, kita_upload).status_code == 303  # a second click: delivered once
    assert deliver(ruhr, kita_upload).status_code == 404
    assert len(list(portal.paths.inbox_for("kita_betreuung").glob("*.csv"))) == 1
    for path in (f"/lieferungen/{kita_upload}", "/lieferungen/../../etc/passwd"):
        answer = ruhr.get(path)
        assert answer.status_code == 404, path
    mine = ruhr.get("/lieferungen")
    assert mine.status_code == 200 and "kita_2026.csv" not in mine.text
    assert "Landesjugendämter" not in mine.text and "Kindertagesbetreuung" not in mine.text
    start = ruhr.get("/").text
    assert "kita_betreuung" not in start and "Tagesbetreuung" not in start
    assert "kita_2026.csv" in kita.get("/lieferungen").text


def test_an_upload_one_byte_over_the_limit_is_413(portal: Running) -> None:
    client = portal.signed_in("bildungsbueros_ruhr")
    before = portal.written()
    line = SCREENING_EXAMPLE.splitlines()[1] + "\n"
    body = (SCREENING_EXAMPLE * (LIMIT // len(SCREENING_EXAMPLE) + 1)).encode("cp1252")
    answer = upload(client, "schulabgaenger_abschlussart", "gross.csv", body[: LIMIT + 1])
    assert answer.status_code == 413
    assert "Die Datei ist größer als erlaubt (höchstens 64 KB); nichts wurde gespeichert." in (
        answer.text
    )
    assert portal.written() == before
    # a Content-Length far past the limit is refused before the body is read
    huge = upload(client, "schulabgaenger_abschlussart", "riesig.csv", body * 3)
    assert huge.status_code == 413 and portal.written() == before
    # exactly the limit is taken (and screened)
    exact = upload(client, "schulabgaenger_abschlussart", "genau.csv", body[:LIMIT])
    assert exact.status_code == 200 and "Prüfbericht für genau.csv" in exact.text
    assert line  # the example has lines


def test_a_missing_or_wrong_csrf_token_is_403(portal: Running) -> None:
    before = portal.written()
    client = portal.client()
    client.get("/anmelden")
    token = portal.tokens["bildungsbueros_ruhr"]
    for data in ({"token": token}, {"token": token, "csrf": "falsch"}):
        answer = client.post("/anmelden", data=data)
        assert answer.status_code == 403
        assert "Das Formular ist abgelaufen oder stammt nicht von dieser Seite." in answer.text
    signed = portal.signed_in("bildungsbueros_ruhr")
    screened = upload(signed, "schulabgaenger_abschlussart", "a.csv", WARNING_FILE)
    before = portal.written()  # the screened upload waits for its delivery
    for csrf in ("", "falsch"):
        answer = upload(signed, "schulabgaenger_abschlussart", "b.csv", WARNING_FILE, csrf=csrf)
        assert answer.status_code == 403, csrf
        answer = signed.post(f"/hochladen/{upload_id_of(screened.text)}/liefern",
                             data={"csrf": csrf} if csrf else {})  # fmt: skip
        assert answer.status_code == 403, csrf
        assert signed.post("/abmelden", data={"csrf": csrf}).status_code == 403
    # a session cookie of another client does not carry this client's form token
    other = portal.signed_in("bildungsbueros_ruhr")
    foreign = csrf_of(other.get("/").text)
    answer = upload(signed, "schulabgaenger_abschlussart", "c.csv", WARNING_FILE, csrf=foreign)
    assert answer.status_code == 403
    assert portal.written() == before
    assert signed.get("/").status_code == 200  # still signed in


def test_file_names_with_paths_are_stored_under_safe_names(portal: Running) -> None:
    client = portal.signed_in("bildungsbueros_ruhr")
    for name in ("../../etc/passwd", "..\\x.csv", "..\\..\\x.csv", ".hidden.part"):
        screened = upload(client, "schulabgaenger_abschlussart", name, WARNING_FILE)
        assert screened.status_code == 200
        assert deliver(client, upload_id_of(screened.text)).status_code == 303
    inbox = portal.paths.inbox_for("schulabgaenger_abschlussart")
    stored = sorted(p.name for p in inbox.iterdir() if not p.name.startswith("."))
    assert stored == ["hidden_part", "passwd", "x-2.csv", "x.csv"]
    originals = sorted(
        DeliveryNote.model_validate_json(note_path(inbox / name).read_text()).original_name
        for name in stored
    )
    assert originals == sorted(["../../etc/passwd", "..\\x.csv", "..\\..\\x.csv", ".hidden.part"])
    inside = {p.resolve() for p in portal.paths.root.rglob("*")}
    assert not any(p.name in ("passwd", "x.csv") and inbox not in p.parents for p in inside)


def test_twenty_failed_sign_ins_are_rate_limited(portal: Running) -> None:
    before = portal.written()
    client = portal.client(forwarded_for="203.0.113.9")  # as the TLS proxy passes it on
    codes = [sign_in(client, f"bmp_x_falsch{n}").status_code for n in range(20)]
    assert codes == [401] * 10 + [429] * 10
    limited = sign_in(client, portal.tokens["bildungsbueros_ruhr"])
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    assert "Zu viele fehlgeschlagene Anmeldeversuche." in limited.text
    assert client.get("/").status_code == 401  # the right token did not sign in
    elsewhere = portal.client(forwarded_for="198.51.100.4")
    assert sign_in(elsewhere, portal.tokens["bildungsbueros_ruhr"]).status_code == 303
    assert portal.written() == before


def test_every_answer_has_the_security_headers(portal: Running) -> None:
    client = portal.client()
    for path in ("/anmelden", "/", "/static/portal.css", "/gibt-es-nicht"):
        headers = client.get(path).headers
        assert "default-src 'none'" in headers["content-security-policy"], path
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
    cookie = portal.client().get("/anmelden").headers["set-cookie"].lower()
    assert cookie.startswith("bm_portal=") and "httponly" in cookie and "samesite=lax" in cookie


# --- many at once -----------------------------------------------------------------------------


def test_fifty_concurrent_uploads_from_five_partners(portal: Running) -> None:
    partners = load_partners_sources()
    clients = {partner: portal.signed_in(partner) for partner in partners}

    def one(job: tuple[str, int]) -> tuple[str, str, str]:
        partner, _ = job
        source = partners[partner]
        client = clients[partner]
        screened = upload(client, source, "lieferung.csv", small_delivery(source))
        assert screened.status_code == 200, screened.text
        upload_id = upload_id_of(screened.text)
        delivered = deliver(client, upload_id)
        assert delivered.status_code == 303, delivered.text
        return partner, source, upload_id

    jobs = [(partner, n) for n in range(10) for partner in partners]
    with ThreadPoolExecutor(max_workers=50) as pool:
        done = list(pool.map(one, jobs))
    assert len({upload_id for *_, upload_id in done}) == 50

    arrived: dict[str, tuple[str, str, str]] = {}
    for source in set(partners.values()):
        inbox = portal.paths.inbox_for(source)
        files = [p for p in inbox.iterdir() if not p.name.startswith(".")]
        for path in files:
            note = DeliveryNote.model_validate_json(note_path(path).read_text())
            assert note.sha256 == _sha(path.read_bytes()) == _sha(small_delivery(source))
            assert note.upload_id not in arrived  # once
            arrived[note.upload_id] = (note.delivered_by, source, path.name)
    assert {u: (p, s) for u, (p, s, _) in arrived.items()} == {
        upload_id: (partner, source) for partner, source, upload_id in done
    }
    assert len({(s, name) for _, s, name in arrived.values()}) == 50
    assert sorted(n for _, s, n in arrived.values() if s == "kita_betreuung") == (
        ["lieferung-10.csv"] + [f"lieferung-{n}.csv" for n in range(2, 10)] + ["lieferung.csv"]
    )
    for partner, client in clients.items():  # each sees its own ten, and only those
        page = client.get("/lieferungen").text
        assert page.count('href="/lieferungen/') == 10, partner
    assert len(portal.store.ledger.read_text().splitlines()) == 50
    assert not list(portal.store.uploads.iterdir())  # nothing left waiting


def load_partners_sources() -> dict[str, str]:
    import yaml

    return {p: spec["sources"][0] for p, spec in yaml.safe_load(PARTNERS_YAML)["partners"].items()}


# --- through the pipeline -----------------------------------------------------------------------


def test_a_delivered_file_goes_through_the_sensor_and_the_nightly_steps(portal: Running) -> None:
    import dagster as dg

    from pipelines.jobs import build_inbox_sensor
    from sources.archive import move_out_of_inbox
    from warehouse.db import init_schema
    from warehouse.ingest import ingest_source
    from warehouse.staging import stage_source

    client = portal.signed_in("bildungsbueros_ruhr")
    screened = upload(client, "schulabgaenger_abschlussart", "abgaenger_2024-25.csv", WARNING_FILE)
    upload_id = upload_id_of(screened.text)
    assert deliver(client, upload_id).status_code == 303

    registry = load_registry()
    sensor = build_inbox_sensor(portal.paths, list(registry))
    with dg.instance_for_test() as instance:
        request = sensor(dg.build_sensor_context(instance=instance))
    assert isinstance(request, dg.RunRequest)
    assert request.tags == {"trigger": "inbox", "sources": "schulabgaenger_abschlussart"}

    # what the run's ingest and staging steps do with it
    source = registry["schulabgaenger_abschlussart"].model_copy(update={"location": ()})
    portal.paths.work_db.parent.mkdir(parents=True)
    with duckdb.connect(str(portal.paths.work_db)) as conn:
        init_schema(conn)
        assert ingest_source(conn, source, portal.paths, "run-1").new == ["abgaenger_2024-25.csv"]
        (detail,) = conn.execute(
            "SELECT detail FROM meta.delivery_log WHERE action = 'archived'"
        ).fetchone()
        assert "; delivered by bildungsbueros_ruhr at " in detail
        (state,) = [d.state for d in stage_source(conn, source, portal.paths, "run-1").deliveries]
        assert state == "loaded_with_quarantine"
    manifest = json.loads((portal.paths.raw / "manifest.jsonl").read_text().splitlines()[0])
    assert manifest["delivered_by"] == "bildungsbueros_ruhr"
    assert manifest["sha256"] == _sha(WARNING_FILE)
    processed = portal.paths.inbox_for(source.id) / "processed"
    assert sorted(p.name.split("_", 1)[1] for p in processed.iterdir()) == [
        "abgaenger_2024-25.csv", "abgaenger_2024-25.csv.delivery.json"]  # fmt: skip
    page = client.get(f"/lieferungen/{upload_id}").text
    assert "Verarbeitet – noch nicht veröffentlicht" in page
    # a second delivery, still in the inbox (rejected further down)
    again = upload(client, "schulabgaenger_abschlussart", "zweite.csv", small_delivery(source.id))
    second = upload_id_of(again.text)
    assert deliver(client, second).status_code == 303

    # published: the publication says what was loaded and which lines were held back
    portal.paths.published_db.parent.mkdir(parents=True)
    shutil.copyfile(portal.paths.work_db, portal.paths.published_db)
    with duckdb.connect(str(portal.paths.published_db)) as conn:
        conn.execute("CREATE TABLE meta.publication AS SELECT 'run-1' AS run_id, "
                     "TIMESTAMP '2026-11-28 01:14:00' AS published_at")  # fmt: skip
    page = client.get(f"/lieferungen/{upload_id}").text
    assert "Übernommen, einzelne Zeilen zurückgestellt" in page
    assert "in der Veröffentlichung vom 28.11.2026, 02:14 Uhr" in page
    assert re.search(r'<td class="zahl">10</td><td>[^<]*</td><td>-3</td>', page), page
    assert "Die Anzahl korrigieren" in page

    # rejected: the German reason the pipeline wrote beside it
    move_out_of_inbox(portal.paths.inbox_for(source.id) / "zweite.csv", "rejected",
                      "the header does not fit", "die Kopfzeile passt nicht")  # fmt: skip
    page = client.get(f"/lieferungen/{second}").text
    assert "Abgelehnt" in page and "die Kopfzeile passt nicht" in page
