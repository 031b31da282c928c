"""The office's side of the portal: docs/portal.md's worked example (the partners YAML, what its
mistakes say, issuing and revoking a token, the service command line), safe stored names, and
the partners' letters linking to the portal."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from portal.partners import load_partners
from portal.tokens import TokenStore
from schemas.yamlmodel import YamlError
from sources.registry import load_registry
from tests.conftest import REPO
from warehouse.inbox_delivery import safe_name


def blocks(language: str) -> list[str]:
    text = (REPO / "docs" / "portal.md").read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def test_the_docs_partners_yaml_and_what_its_mistakes_say(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # the messages name the file as given
    partners_yaml = blocks("yaml")[0]
    registry = load_registry()
    Path("partners.yaml").write_text(partners_yaml, encoding="utf-8")
    partners = load_partners(Path("partners.yaml"), registry)
    assert partners["landesjugendaemter"].sources == ["kita_betreuung"]

    first, second = [b for b in blocks("text") if b.startswith("partners.yaml")]
    mistaken = partners_yaml.replace("[kita_betreuung]", "[kita_betreung]")
    for text, shown in ((mistaken.replace("    email: kita", "    emial: kita"), first),
                        (mistaken, second)):  # fmt: skip
        Path("partners.yaml").write_text(text, encoding="utf-8")
        with pytest.raises(YamlError) as exc:
            load_partners(Path("partners.yaml"), registry)
        assert str(exc.value) == shown.strip()


def test_the_bundled_partners_are_valid() -> None:
    from portal.partners import DEFAULT_FILE

    partners = load_partners(DEFAULT_FILE, load_registry())
    assert sorted(partners) == [
        "bildungsbueros_ruhr",
        "itnrw_bevoelkerung",
        "landesjugendaemter",
        "lernpaten_ruhr",
    ]


PARTNER = "partners:\n  {id}:\n    name: x\n    email: {email}\n    sources: {sources}\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (PARTNER.format(id="Stadt Essen", email="a@b.de", sources="[kita_betreuung]"),
         "line 2, key 'partners[\"Stadt Essen\"]': 'Stadt Essen' is not a partner id"),
        (PARTNER.format(id="essen", email="keine-adresse", sources="[kita_betreuung]"),
         "line 4, key 'partners.essen.email': 'keine-adresse' is not an e-mail address"),
        (PARTNER.format(id="essen", email="a@b.de", sources="[]"),
         "line 5, key 'partners.essen.sources'"),
        ("- essen\n", "line 1: expected a mapping of keys at the top"),
    ],
)  # fmt: skip
def test_a_mistake_in_the_partners_yaml_names_line_and_key(tmp_path: Path, text, message) -> None:
    path = tmp_path / "partners.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(YamlError) as exc:
        load_partners(path, load_registry())
    assert message in str(exc.value)
    assert str(exc.value).startswith(str(path))


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\x.csv", "x.csv"),
        ("C:\\Users\\amt\\Lieferung März 2025.csv", "Lieferung_März_2025.csv"),
        (".hidden.csv", "hidden.csv"),
        ("abgaenger.csv.part", "abgaenger.csv_part"),
        ("x.csv.delivery.json", "x.csv_delivery_json"),
        ("", "lieferung.csv"),
        ("processed", "processed_lieferung"),
        ("../Rejected", "Rejected_lieferung"),
        ("../", "lieferung.csv"),
        ("a" * 300 + ".csv", "a" * 116 + ".csv"),
    ],
)
def test_stored_names_are_names_never_paths(sent: str, stored: str) -> None:
    assert safe_name(sent) == stored


def test_tokens_are_stored_only_as_hashes_and_revoked(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    first, second = store.issue("essen"), store.issue("essen")
    text = store.path.read_text(encoding="utf-8")
    for issued in (first, second):  # bmp_<id>_<secret>: the secret may hold '_' itself
        assert issued.token.split("_", 2)[2] not in text
    assert json.loads(text)["tokens"][0]["hash"].startswith("$argon2id$")
    assert store.verify(first.token).partner == "essen"
    assert store.revoke("essen", first.token_id) == [first.token_id]
    assert store.verify(first.token) is None and store.verify(second.token) is not None
    assert store.revoke("essen") == [second.token_id]
    assert store.verify(second.token) is None
    assert store.revoke("essen") == []


def test_a_partners_letter_links_to_the_portal_when_it_has_an_address() -> None:
    from alerts.messages import partner_letter

    source = load_registry()["kita_betreuung"]
    received = dt.datetime(2026, 11, 28, 1, 5)
    with_portal = partner_letter(source, "kita.csv", received, None, "Bericht",
                                 "https://lieferung.example.org/")  # fmt: skip
    assert "Den Stand Ihrer Lieferungen sehen Sie im Lieferportal:\n\n" in with_portal
    assert "    https://lieferung.example.org/lieferungen\n" in with_portal
    assert "bildungsmonitor screen" not in with_portal
    without = partner_letter(source, "kita.csv", received, None, "Bericht")
    assert "Lieferportal" not in without and "bildungsmonitor screen DATEI" in without


def test_operations_yaml_takes_the_portal_address(tmp_path: Path, monkeypatch) -> None:
    from schemas.operations import load_operations

    path = tmp_path / "operations.yaml"
    monkeypatch.setenv("BILDUNGSMONITOR_OPERATIONS", str(path))
    base = ("alerts:\n  email:\n    host: smtp.example.org\n    sender: bm@example.org\n"
            "    to: [team@example.org]\n")  # fmt: skip
    path.write_text(base + "    portal_url: https://lieferung.example.org\n", encoding="utf-8")
    assert load_operations(tmp_path).alerts.email.portal_url == "https://lieferung.example.org"
    path.write_text(base + "    portal_url: lieferung.example.org\n", encoding="utf-8")
    with pytest.raises(YamlError) as exc:
        load_operations(tmp_path)
    assert "line 6, key 'alerts.email.portal_url': 'lieferung.example.org' is not an http://" in (
        str(exc.value)
    )


@pytest.mark.slow
def test_the_docs_commands_issue_revoke_and_serve(tmp_path: Path, capsys) -> None:
    """`bildungsmonitor portal add-partner` / `revoke` as docs/portal.md shows them, and the
    service's command line (deploy/bildungsmonitor-portal.service) serving a partner."""
    from pipelines.cli import main

    partners = tmp_path / "partners.yaml"
    partners.write_text(blocks("yaml")[0], encoding="utf-8")
    common = ["--data-dir", str(tmp_path / "data"), "--partners", str(partners)]
    assert main(["portal", "add-partner", "bildungsbueros_ruhr", *common]) == 0
    printed = capsys.readouterr().out
    shown = next(b for b in blocks("text") if b.startswith("Access token"))
    assert printed.splitlines()[0].startswith(shown.splitlines()[0].rsplit(" ", 1)[0])
    token = re.search(r"^    (bmp_\S+)$", printed, re.M).group(1)
    token_id = token.split("_")[1]
    assert f"`bildungsmonitor portal revoke bildungsbueros_ruhr --token {token_id}`" in printed
    assert main(["portal", "add-partner", "niemand", *common]) == 2
    assert "unknown partner 'niemand'" in capsys.readouterr().err

    unit = (REPO / "deploy" / "bildungsmonitor-portal.service").read_text(encoding="utf-8")
    command = re.search(r"^ExecStart=\S+/bildungsmonitor (portal .*)$", unit, re.M).group(1)
    port = _free_port()
    arguments = command.replace("--port 8040", f"--port {port}").split()
    server = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", *arguments, "--insecure-cookies", *common],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_up(url, server)
        with httpx.Client(base_url=url) as client:
            csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/anmelden").text)[1]
            answer = client.post("/anmelden", data={"csrf": csrf, "token": token})
            assert answer.status_code == 303
            assert "Kommunale Bildungsbüros der Ruhr" in client.get("/").text
            assert main(["portal", "revoke", "bildungsbueros_ruhr", *common]) == 0
            assert capsys.readouterr().out.startswith(
                f"revoked 1 token(s) of bildungsbueros_ruhr: {token_id}"
            )
            assert client.get("/").status_code == 401  # signed out at the next request
    finally:
        server.terminate()
        server.wait(timeout=30)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_up(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert server.poll() is None, server.stderr.read().decode()
        try:
            if httpx.get(f"{url}/gesund").text == "ok":
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise TimeoutError(f"{url}: the portal did not start")
