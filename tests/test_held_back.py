"""A bad delivery holds back only its own source (issue 10, part 4).

Two nights through the CLI on a copy of the demo's data directory:

1. two partners send structurally broken files (the leavers' file with commas for semicolons,
   the day-care file without a column), a third a good one (the tutoring programme's new school
   year): the night publishes — exit code 4, "published, with sources held back" — with the
   programme's new data and the last good data of the two broken sources;
2. the leavers' partner sends a corrected file, the day-care partner nothing: the leavers are
   healthy again, day care is still failing since the first night, and its checks are "not
   evaluated", never passed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from pipelines.exitcodes import EXIT_HELD_BACK
from tests.alert_servers import Hook, Mail, smtp_server, webhook_receiver
from tests.conftest import REPO, CliRun, DemoRuns, copy_data_dir, run_cli
from tests.nights import cli_env
from tests.test_bad_deliveries import bad_rows_delivery, demo_leaver_lines, leavers_file

pytestmark = pytest.mark.slow

LEAVERS = "schulabgaenger_abschlussart"
KITA = "kita_betreuung"
TUTORING = "lernfoerderung"
KITA_BROKEN = (
    "\ufeffStichtag;Gemeindeschlüssel;Gemeindename;Kinder unter 3 Jahren in Tagesbetreuung\n"
    "01.03.2025;05513000;Gelsenkirchen;1720\n"
)
KITA_REASON = (
    "kita_2025.csv, line 1, column 'Kinder von 3 bis unter 6 Jahren in Tagesbetreuung': "
    "missing column 'Kinder von 3 bis unter 6 Jahren in Tagesbetreuung' (did you mean 'Kinder "
    "unter 3 Jahren in Tagesbetreuung'?) (expected the columns named in the source's mapping; "
    "found 4 column(s): 'Stichtag'; 'Gemeindeschlüssel'; 'Gemeindename'; 'Kinder unter 3 Jahren "
    "in Tagesbetreuung')"
)
KITA_KEPT = "SYNTHETISCH_kindertagesbetreuung_berichtigung_2024.csv"


def source_digest(published: Path, source_id: str) -> tuple:
    """The source's published measure values: their count and an order-independent digest."""
    with duckdb.connect(str(published), read_only=True) as conn:
        digest = conn.execute(
            "SELECT count(*), sum(hash(v)::HUGEINT) FROM (SELECT * EXCLUDE (revisions) "
            "FROM marts.measure_values WHERE source_id = ?) v",
            [source_id],
        ).fetchone()
    assert digest[0], source_id
    return digest


@dataclass
class HeldBackNights:
    data: Path
    before: dict[str, tuple]  # source -> digest of its published values before the first night
    after_first: dict[str, tuple]
    first: CliRun
    second: CliRun
    first_publication: str  # sha256 of the file the first night published
    health_first: dict[str, tuple]
    health_second: dict[str, tuple]

    @property
    def published(self) -> Path:
        return self.data / "published" / "bildungsmonitor.duckdb"


HEALTH = (
    "SELECT source_id, latest_outcome, latest_run_id, failing_since, consecutive_failed_runs, "
    "latest_failing_checks, last_good_file, last_rejected_file FROM quality.source_health"
)


def health(published: Path) -> dict[str, tuple]:
    with duckdb.connect(str(published), read_only=True) as conn:
        return {row[0]: row[1:] for row in conn.execute(HEALTH).fetchall()}


def deliver_broken_night(inbox: Path) -> None:
    for source_id in (LEAVERS, KITA, TUTORING):
        (inbox / source_id).mkdir(parents=True, exist_ok=True)
    comma = leavers_file(demo_leaver_lines(20)).decode("cp1252").replace(";", ",")
    (inbox / LEAVERS / "abgaenger_2025.csv").write_bytes(comma.encode("cp1252"))
    (inbox / KITA / "kita_2025.csv").write_bytes(KITA_BROKEN.encode())
    (inbox / TUTORING / "lernpaten_2025-26.csv").write_text(
        "schulnummer,schuljahr,schulname,teilnehmende_schueler,foerderstunden\n"
        "118928,2025/26,GG Marschallstr.,41,505.0\n",
        encoding="utf-8",
    )


def play_nights(demo_runs: DemoRuns, tmp: Path, setup=None) -> HeldBackNights:
    """The two nights; `setup(data_dir)` prepares the data directory first (alert settings)."""
    data = copy_data_dir(demo_runs, tmp / "data")
    if setup is not None:
        setup(data)
    published = data / "published" / "bildungsmonitor.duckdb"
    before = {s: source_digest(published, s) for s in (LEAVERS, KITA, TUTORING)}
    deliver_broken_night(data / "inbox")
    first = run_cli(data)
    first_publication = hashlib.sha256(published.read_bytes()).hexdigest()
    after_first = {s: source_digest(published, s) for s in (LEAVERS, KITA, TUTORING)}
    health_first = health(published)
    payload, _ = bad_rows_delivery()
    (data / "inbox" / LEAVERS / "abgaenger_2025_neu.csv").write_bytes(payload)
    second = run_cli(data)
    return HeldBackNights(
        data, before, after_first, first, second, first_publication, health_first,
        health(published),
    )  # fmt: skip


OPERATIONS = """\
alerts:
  email:
    host: 127.0.0.1
    port: {smtp_port}
    security: none
    sender: bildungsmonitor@example.org
    to: [datenteam@example.org]
    partners:
      kita_betreuung: [kita-statistik@example.org]
  webhook:
    url: {webhook}
    token_env: BM_TEST_WEBHOOK_TOKEN
retention:
  publications: 3
"""


@dataclass
class Told:
    mails: list[Mail]
    hooks: list[Hook]
    log: str


@pytest.fixture(scope="module")
def held_back(
    demo_runs: DemoRuns, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[HeldBackNights, Told]]:
    """The two nights, with alerts going to a loopback SMTP server and webhook receiver."""
    with smtp_server() as smtp, webhook_receiver() as (url, hooks):

        def configure(data: Path) -> None:
            text = OPERATIONS.format(smtp_port=smtp.port, webhook=url)
            (data / "operations.yaml").write_text(text, encoding="utf-8")

        os.environ["BM_TEST_WEBHOOK_TOKEN"] = "s3cret-token"
        try:
            nights = play_nights(demo_runs, tmp_path_factory.mktemp("held_back"), configure)
        finally:
            del os.environ["BM_TEST_WEBHOOK_TOKEN"]
        log = (nights.data / "logs" / "alerts.log").read_text(encoding="utf-8")
        yield nights, Told(list(smtp.mails), list(hooks), log)


def test_a_broken_delivery_holds_back_only_its_source(held_back) -> None:
    held_back, _ = held_back
    first = held_back.first
    assert first.returncode == EXIT_HELD_BACK, first.output
    assert f"Run {first.run_id} — success, published, with sources held back (" in first.output
    assert (
        "Sources held back: 2 (a delivery was rejected; their last good data is published, "
        "the partner has to send a corrected file)" in first.output
    )
    assert (
        f"\n  HELD BACK {KITA} — kita_2025.csv rejected: {KITA_REASON} (kept {KITA_KEPT})\n"
        in first.output
    )
    assert (
        f"\n  HELD BACK {LEAVERS} — abgaenger_2025.csv rejected: abgaenger_2025.csv, line 1: only "
        "one column found (expected columns separated by ';'; found ',' — wrong delimiter?) (kept "
        "SYNTHETISCH_schulabgaenger_abschlussart_nrw_2012-2023.csv)\n" in first.output
    )
    assert f"FAIL staging/{KITA}:structure — {KITA_REASON}" in first.output
    assert "2 failed (delivery rejected)" in first.output
    # every other source's new data is published, the broken sources' last good data stays
    assert held_back.after_first[LEAVERS] == held_back.before[LEAVERS]
    assert held_back.after_first[KITA] == held_back.before[KITA]
    assert held_back.after_first[TUTORING] != held_back.before[TUTORING]
    with duckdb.connect(str(held_back.published), read_only=True) as conn:
        reached = conn.execute(
            "SELECT count(*) FROM marts.measure_values WHERE school_year = '2025/26' "
            "AND measure = 'programme_schools_reached'"
        ).fetchone()[0]
        assert reached == 53
        # the publication's quality tables hold that night's results
        outcomes = dict(
            conn.execute(
                "SELECT source_id, string_agg(DISTINCT outcome, ',' ORDER BY outcome) "
                "FROM quality.check_results WHERE run_id = ? AND check_name = 'structure' "
                "GROUP BY 1",
                [first.run_id],
            ).fetchall()
        )
    assert outcomes[KITA] == outcomes[LEAVERS] == "FAIL"
    assert outcomes[TUTORING] == "PASS"


def test_the_partner_reads_why_beside_the_rejected_file(held_back) -> None:
    """The `.error.txt` beside a rejected file: German for the partner first, the English for
    the backbone office below it."""
    held_back, _ = held_back
    rejected = sorted(p.name for p in (held_back.data / "inbox" / KITA / "rejected").iterdir())
    assert rejected[0].endswith("_kita_2025.csv") and rejected[1].endswith(".error.txt")
    german, english = (
        (held_back.data / "inbox" / KITA / "rejected" / rejected[1])
        .read_text(encoding="utf-8")
        .split("--- English (for the backbone office) ---")
    )
    assert german.startswith("Die Lieferung kita_2025.csv wurde abgelehnt") and "Zeile" in german
    assert "The delivery kita_2025.csv was rejected" in english


def test_source_health_says_failing_since_that_night_until_a_good_delivery(held_back) -> None:
    held_back, _ = held_back
    first, second = held_back.first, held_back.second
    kita = held_back.health_first[KITA]
    assert kita[:2] == ("FAIL", first.run_id)
    since = kita[2]
    assert isinstance(since, dt.datetime)
    assert kita[3:] == (1, "structure", KITA_KEPT, "kita_2025.csv")
    assert held_back.health_first[LEAVERS][:2] == ("FAIL", first.run_id)
    assert held_back.health_first[TUTORING][0] == "PASS"

    # the next night without a fix: still failing, since the same night; a good delivery clears
    assert second.returncode == EXIT_HELD_BACK, second.output
    assert held_back.health_second[KITA] == kita
    assert held_back.health_second[LEAVERS][:4] == ("WARNING", second.run_id, None, 0)
    assert (
        f"  HELD BACK {KITA} — held back since {since:%Y-%m-%d %H:%M} UTC (run "
        f"{first.run_id[:8]}…), no new delivery since: kita_2025.csv rejected: {KITA_REASON} "
        f"(kept {KITA_KEPT})\n" in second.output
    )
    assert "Sources held back: 1 " in second.output
    assert held_back.after_first[LEAVERS] != source_digest(held_back.published, LEAVERS)


def test_checks_with_nothing_new_to_check_are_not_reported_as_passed(held_back) -> None:
    held_back, _ = held_back
    second = held_back.second
    with duckdb.connect(str(held_back.published), read_only=True) as conn:
        rows = conn.execute(
            "SELECT DISTINCT passed, outcome, message FROM quality.check_results "
            "WHERE run_id = ? AND source_id = ? AND asset_key = ?",
            [second.run_id, KITA, f"staging/{KITA}"],
        ).fetchall()
    assert rows == [
        (
            None,
            "NOT_EVALUATED",
            f"not evaluated: no new delivery; current data from {KITA_KEPT}",
        )
    ]
    assert "not evaluated (nothing new to check)" in second.output


# --- someone is told (issue 10, part 8) ----------------------------------------------------


def test_alerts_arrive_by_mail_and_webhook_with_run_id_source_and_reason(held_back) -> None:
    nights, told = held_back
    first, second = nights.first, nights.second
    rejected = (
        f"delivery_rejected run={first.run_id} source={KITA}: {KITA} — kita_2025.csv rejected: "
        f"{KITA_REASON} (kept {KITA_KEPT})"
    )
    operators = [m for m in told.mails if m.recipients == ["datenteam@example.org"]]
    assert [m.subject for m in operators] == [
        f"Bildungsmonitor run {first.run_id[:8]}: success, published, with sources held back "
        "(2 deliveries rejected)",
        f"Bildungsmonitor run {second.run_id[:8]}: success, published, with sources held back "
        "(1 source stale)",
    ]
    assert rejected in operators[0].body.splitlines()
    assert f"source_stale run={second.run_id} source={KITA}: {KITA} — held back since " in (
        operators[1].body
    )
    assert [h.payload["run_id"] for h in told.hooks] == [first.run_id, second.run_id]
    hook = told.hooks[0]
    assert hook.path == "/hooks/bildungsmonitor"
    assert hook.headers["Authorization"] == "Bearer s3cret-token"
    assert hook.payload["exit_code"] == EXIT_HELD_BACK
    kita = next(a for a in hook.payload["alerts"] if a["source_id"] == KITA)
    assert kita["kind"] == "delivery_rejected" and kita["file_name"] == "kita_2025.csv"
    assert kita["reason"].startswith(f"{KITA} — kita_2025.csv rejected: {KITA_REASON}")
    # the log file has every alert, always
    assert rejected in told.log
    assert f"partner_mailed run={first.run_id} source={KITA}: screener report sent to " in told.log
    assert f"Alerts: 2 ({nights.data}/logs/alerts.log; e-mail to datenteam@example.org; " in (
        first.output
    )


def test_the_partner_gets_the_german_screener_report_of_the_rejected_delivery(held_back) -> None:
    _, told = held_back
    (letter,) = [m for m in told.mails if m.recipients == ["kita-statistik@example.org"]]
    assert (
        letter.subject == "Bildungsmonitor: Ihre Lieferung „kita_2025.csv“ wurde nicht übernommen"
    )
    body = letter.body
    assert body.startswith("Guten Tag,\n\nIhre Lieferung „kita_2025.csv“ für „")
    assert (
        f"konnte bei der Prüfung nicht übernommen werden. Bis eine berichtigte Datei eingeht, "
        f"verwenden wir weiterhin Ihre letzte gültige Lieferung „{KITA_KEPT}“." in body
    )
    assert "Prüfbericht für kita_2025.csv (Quelle: Kinder in Tagesbetreuung unter 3 und 3 " in body
    assert "Screening report" not in body  # German only
    assert f"bildungsmonitor screen DATEI --source {KITA} --language de" in body


# --- retention and rollback (issue 10, part 7) ----------------------------------------------


def marts(path: Path) -> dict[str, tuple]:
    """Every mart table: its rows and an order-independent digest of their values."""
    with duckdb.connect(str(path), read_only=True) as conn:
        tables = [t for (t,) in conn.execute(
            "SELECT schema_name || '.' || table_name FROM duckdb_tables() "
            "WHERE schema_name = 'marts' ORDER BY 1").fetchall()]  # fmt: skip
        return {
            t: conn.execute(f"SELECT count(*), sum(hash(r)::HUGEINT) FROM {t} r").fetchone()
            for t in tables
        }


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        cwd=REPO, env=cli_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_the_last_publications_are_kept_and_listed(held_back) -> None:
    nights, _ = held_back
    listed = cli("publications", "--data-dir", str(nights.data))
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0] == (
        f"Publications kept in {nights.data}/publications (newest first; * = published now):"
    )
    # retention.publications: 3 — the demo's second publication and the two nights
    assert len(lines) == 4, listed.stdout
    assert (
        lines[1].startswith("* ")
        and f"run {nights.second.run_id}  8 sources (held back: " in (lines[1])
    )
    assert (
        f"run {nights.first.run_id}  8 sources (held back: {KITA}, {LEAVERS})  checks: "
        in (lines[2])
    )
    assert re.search(r"checks: \d+ passed, 0 warnings, 2 failed, \d+ not evaluated$", lines[2])
    assert len(list((nights.data / "publications").glob("*.duckdb"))) == 3


def test_rollback_restores_an_earlier_publication_byte_for_byte(held_back) -> None:
    nights, _ = held_back
    published = nights.published
    (kept,) = (nights.data / "publications").glob(f"*_{nights.first.run_id}.duckdb")
    assert marts(published) != marts(kept)  # the second night changed the leavers' values
    done = cli("rollback", nights.first.run_id[:8], "--data-dir", str(nights.data))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(
        f"Rolled back: {published} is the publication of run {nights.first.run_id} (published "
    )
    assert hashlib.sha256(published.read_bytes()).hexdigest() == nights.first_publication
    assert marts(published) == marts(kept)
    assert oct(published.stat().st_mode & 0o777) == "0o444"
    assert [p.name for p in published.parent.iterdir()] == ["bildungsmonitor.duckdb"]
    unknown = cli("rollback", "deadbeef", "--data-dir", str(nights.data))
    assert unknown.returncode == 2
    assert unknown.stdout.startswith("No kept publication of run 'deadbeef'; these are kept:\n")


def doc_pattern(line: str) -> re.Pattern:
    """A line of docs/operations.md as a pattern: '…' stands for anything, run ids, times and
    durations for any."""
    pattern = re.escape(line).replace("…", ".*")
    pattern = re.sub(r"[0-9a-f]{8}\\-[0-9a-f]{4}\\-[0-9a-f]{4}\\-[0-9a-f]{4}\\-[0-9a-f]{12}",
                     "[0-9a-f-]{36}", pattern)  # fmt: skip
    pattern = pattern.replace("2b2dc2a5", "[0-9a-f]{8}")
    pattern = re.sub(r"\d+\\\.\d\\ s\\\)", r"[0-9.]+\\ s\\)", pattern)
    pattern = re.sub(r"2026\\-11\\-28\\ 01:00", r"\\d{4}-\\d\\d-\\d\\d\\ \\d\\d:\\d\\d", pattern)
    return re.compile(pattern)


def test_the_docs_show_what_a_night_with_sources_held_back_says(held_back) -> None:
    nights, _ = held_back
    doc = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```\n(.*?)^```", doc, re.S | re.M)
    first = next(b for b in blocks if "success, published, with sources held back" in b)
    second = next(b for b in blocks if "no new delivery since" in b)
    for block, run in ((first, nights.first), (second, nights.second)):
        output = run.output.splitlines()
        for line in block.splitlines():
            if line != "…":
                pattern = doc_pattern(line)
                assert any(pattern.fullmatch(o) for o in output), line
