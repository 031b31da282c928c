"""The corpus of broken deliveries: exactly what happens to each one.

`tests/corpus/manifest.yaml` lists every case — the file (committed, or generated here when it
is large or binary), the source it is delivered for, what is broken, what the screener must say
and what staging must do with it. Three levels:

1. the screener (`expectations.screening.screen`): verdict, the stage it stopped at, every check it
   flags and the decisive findings with line, column and message in English and German;
2. staging: the file as the only delivery of its source in a fresh warehouse — rejected whole,
   or loaded with exactly the expected records and exactly the expected lines in quarantine;
3. end to end (slow, one run for the whole corpus): every file dropped into the inbox of a copy
   of the demo warehouse at once, the CLI run once: the broken files hold back only their
   sources, the night publishes what loaded (exit code 4).

A finding or pipeline outcome marked `known_bug` states what is right; the test xfails while the
code says something else and fails once it is fixed, so that the marker is dropped.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from expectations.screening import Finding, Report, school_directory, screen
from pipelines.exitcodes import EXIT_HELD_BACK
from schemas.catalogue import load_catalogue
from sources.registry import Source, load_registry
from tests.conftest import REPO, DemoRuns, copy_data_dir, run_cli
from tests.genesis_replay import make_zip
from tests.test_bad_deliveries import LEAVERS_DEMO

CORPUS = Path(__file__).resolve().parent / "corpus"
DIRECTORY = REPO / "sources/demo/official/nrw_schuldaten_2021.csv"
STATES = {"rejected": "rejected", "partial": "loaded_with_quarantine", "loaded": "loaded"}


# --- generated cases (large or binary: made at run time, deterministically) ---------------------


def _demo_leaver_lines() -> list[bytes]:
    return LEAVERS_DEMO.read_bytes().split(b"\r\n")


def long_line_50mb() -> bytes:
    """A leaver file whose line 11 is one 50 MB line: a runaway unquoted cell."""
    lines = _demo_leaver_lines()
    runaway = (
        b"2012/13;05111000;" + b"D" * (50 * 1024 * 1024) + b";insgesamt;insgesamt;1;1;0;0;0;0;100,0"
    )
    return b"\r\n".join([lines[0], *lines[1:10], runaway, *lines[10:19]]) + b"\r\n"


def binary_garbage() -> bytes:
    """64 KiB of pseudo-random bytes (a SHA-256 chain: the same on every platform)."""
    return b"".join(hashlib.sha256(b"bildungsmonitor corpus %d" % i).digest() for i in range(2048))


def zipped_csv() -> bytes:
    """A good leaver CSV, zipped."""
    return make_zip({"abgaenger.csv": b"\r\n".join(_demo_leaver_lines()[:28]) + b"\r\n"})


GENERATORS: dict[str, Callable[[], bytes]] = {
    "long_line_50mb": long_line_50mb,
    "binary_garbage": binary_garbage,
    "zipped_csv": zipped_csv,
}


# --- the manifest -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    source: str
    broken: str
    name: str  # the file name the partner delivers it under
    file: str | None
    generator: str | None
    screening: dict[str, Any]
    pipeline: dict[str, Any]

    def payload(self) -> bytes:
        if self.generator is not None:
            return _generated(self.generator)
        assert self.file is not None
        return (CORPUS / self.file).read_bytes()

    @property
    def outcome(self) -> str:
        return self.pipeline["outcome"]


@functools.cache
def _generated(generator: str) -> bytes:
    return GENERATORS[generator]()


def load_cases() -> list[Case]:
    manifest = yaml.safe_load((CORPUS / "manifest.yaml").read_text(encoding="utf-8"))
    cases = []
    for entry in manifest["cases"]:
        file, generator = entry.get("file"), entry.get("generator")
        name = entry.get("deliver_as") or entry.get("name") or file
        cases.append(
            Case(
                entry["id"],
                entry["source"],
                entry["broken"],
                name,
                file,
                generator,
                entry["screening"],
                entry["pipeline"],
            )
        )
    return cases


CASES = load_cases()


def test_the_manifest_lists_every_corpus_file_and_enough_cases() -> None:
    registry = load_registry()
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    assert len(CASES) >= 30
    committed = {p.name for p in CORPUS.iterdir() if p.name not in {"manifest.yaml"}}
    committed -= {".gitattributes"}
    assert committed == {c.file for c in CASES if c.file}, "every corpus file has a case"
    for case in CASES:
        assert (case.file is None) != (case.generator is None), case.id
        assert case.generator is None or case.generator in GENERATORS, case.id
        assert case.source in registry, case.id
        assert case.outcome in STATES, case.id
        assert case.screening["verdict"] in ("PASS", "WARNING", "FAIL"), case.id
        if case.file:
            assert (CORPUS / case.file).stat().st_size < 20_000, f"{case.id}: keep files small"
    # the payloads are distinct: in the end-to-end run none is skipped as already known
    digests = [hashlib.sha256(c.payload()).hexdigest() for c in CASES]
    assert len(set(digests)) == len(digests)


# --- 1. the screener ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def registry() -> dict[str, Source]:
    return load_registry()


@pytest.fixture(scope="module")
def schools(registry: dict[str, Source]) -> dict[str, str]:
    return school_directory(None, registry)


def _as_list(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _describe(f: Finding) -> str:
    return f"line {f.line}, column {f.column!r}: {f.message} / {f.message_de}"


def finding_problems(report: Report, spec: dict[str, Any]) -> list[str]:
    """What keeps `spec` from being met by the report (empty: met)."""
    key = (spec["stage"], spec["check"], spec["outcome"])
    candidates = [f for f in report.findings if (f.stage, f.check, f.outcome) == key]
    if not candidates:
        return [f"no {'/'.join(key)} finding"]
    problems = []

    def fits(f: Finding) -> bool:
        return (
            f.line == spec["line"]
            and ("column" not in spec or f.column == spec["column"])
            and all(s in f.message for s in _as_list(spec.get("en")))
            and all(s in f.message_de for s in _as_list(spec.get("de")))
        )

    if not any(fits(f) for f in candidates):
        shown = "\n    ".join(_describe(f) for f in candidates[:5])
        problems.append(
            f"no {'/'.join(key)} finding at line {spec['line']}, column "
            f"{spec.get('column', '(any)')!r} saying {_as_list(spec.get('en'))} / "
            f"{_as_list(spec.get('de'))}; found:\n    {shown}"
        )
    if "all_lines" in spec:
        lines = sorted({f.line for f in candidates if f.line is not None})
        if lines != spec["all_lines"]:
            problems.append(f"{'/'.join(key)} lines {lines}, expected {spec['all_lines']}")
    return problems


_SCREENED: dict[str, Report] = {}  # each case is screened once per session


def screen_case(case: Case, registry: dict[str, Source], schools: dict[str, str]) -> Report:
    if case.id not in _SCREENED:
        source = registry[case.source]
        by_school = source.measures is not None and source.measures.region_by == "school_number"
        _SCREENED[case.id] = screen(
            case.payload(), case.name, source, schools=schools if by_school else None
        )
    return _SCREENED[case.id]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_screening(case: Case, registry: dict[str, Source], schools: dict[str, str]) -> None:
    report = screen_case(case, registry, schools)
    expected = case.screening
    assert (report.verdict, report.stopped_at) == (expected["verdict"], expected["stopped_at"]), (
        report.render("en")
    )
    assert report.exit_code == {"PASS": 0, "WARNING": 1, "FAIL": 2}[expected["verdict"]]
    flagged: dict[str, str] = {}
    for f in report.findings:
        if f.outcome != "PASS":
            label = f"{f.stage}/{f.check}"
            flagged[label] = max(
                flagged.get(label, f.outcome), f.outcome, key=["WARNING", "FAIL"].index
            )
    assert flagged == expected["flagged"], report.render("en")
    for f in report.findings:  # every finding speaks both languages
        assert f.message and f.message_de, f
    # the file name the partner used is the one the report names
    assert report.file == case.name
    known: list[tuple[str, list[str]]] = []
    for spec in expected["findings"]:
        problems = finding_problems(report, spec)
        if spec.get("known_bug"):
            known.append((spec["known_bug"], problems))
        else:
            assert not problems, "\n".join(problems)
    if known:
        open_bugs = [" ".join(bug.split()) for bug, problems in known if problems]
        if open_bugs:
            pytest.xfail("known screener bug: " + " | ".join(open_bugs))
        pytest.fail(
            f"{case.id}: the known screener bug is fixed — drop `known_bug` in the manifest"
        )


# --- 2. staging: the file as the only delivery of its source ------------------------------------


def stage_case(case: Case, staged) -> tuple[Any, duckdb.DuckDBPyConnection]:
    if case.source == "lernfoerderung":  # places schools through the school directory
        _, conn = staged("nrw_schuldaten", DIRECTORY.read_bytes(), DIRECTORY.name)
        conn.close()
    return staged(case.source, case.payload(), case.name)


def delivery_facts(conn: duckdb.DuckDBPyConnection, delivery_id: str) -> tuple[str, str, int, list]:
    state, message = conn.execute(
        "SELECT state, message FROM meta.deliveries WHERE delivery_id = ?", [delivery_id]
    ).fetchone()
    records = conn.execute(
        "SELECT count(*) FROM staging.records WHERE delivery_id = ?", [delivery_id]
    ).fetchone()[0]
    lines = [
        line
        for (line,) in conn.execute(
            "SELECT DISTINCT source_line FROM quality.quarantine WHERE delivery_id = ? "
            "ORDER BY source_line",
            [delivery_id],
        ).fetchall()
    ]
    return state, message, records, lines


def check_pipeline_outcome(case: Case, state: str, message: str, records: int, lines: list) -> None:
    expected = case.pipeline
    known = expected.get("known_bug")
    if known and state == known["state"] and state != STATES[case.outcome]:
        assert records == 0 or case.outcome != "rejected"
        pytest.xfail(f"known pipeline bug: {known['why']}")
    assert state == STATES[case.outcome], f"{case.id}: {message}"
    assert not known, f"{case.id}: the known pipeline bug is fixed — drop `known_bug`"
    if case.outcome == "rejected":
        assert records == 0
    else:
        assert records == expected["records"], message
    assert lines == expected.get("quarantined_lines", []), message
    if "message" in expected:
        assert expected["message"] in message


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_staging(case: Case, staged) -> None:
    result, conn = stage_case(case, staged)
    (delivery,) = result.deliveries
    assert delivery.file_name == case.name
    state, message, records, lines = delivery_facts(conn, delivery.delivery_id)
    assert (state, message) == (delivery.state, delivery.message)
    if case.outcome != "rejected":
        assert delivery.records_loaded == records
    # nothing quarantined reaches staging.records: no record of a quarantined cell loads (the
    # other values of a line with one bad cell do; a bad key or year quarantines the whole line)
    leaked = conn.execute(
        """SELECT count(*) FROM staging.records r JOIN quality.quarantine q
           ON q.delivery_id = r.delivery_id AND q.source_line = r.source_line
              AND q.source_column = r.source_column"""
    ).fetchone()[0]
    assert leaked == 0
    if delivery.structure_error:  # the pipeline says what the screener says
        decisive = case.screening["findings"][0]
        assert all(s in delivery.structure_error for s in _as_list(decisive["en"]))
    check_pipeline_outcome(case, state, message, records, lines)


def test_a_quarantined_school_value_does_not_leave_a_silent_partial_sum(staged) -> None:
    """Duisburg 2024/25 without the school whose hours are quarantined would be a smaller sum
    that looks complete: it loads as not_available, naming the held-back line."""
    case = next(c for c in CASES if c.id == "lernfoerderung_decimal_comma")
    _, conn = stage_case(case, staged)
    value, status, column = conn.execute(
        "SELECT value, status, source_column FROM staging.records "
        "WHERE measure = 'programme_tutoring_hours' AND region_code = '05112000' "
        "AND school_year = '2024/25'"
    ).fetchone()
    assert (value, status) == (None, "not_available")
    assert "line(s) 13 held back in quarantine" in column
    # the school's other values are fine and still count: pupils reached is a complete sum
    rows = list(csv.reader(io.StringIO(case.payload().decode())))[1:]
    duisburg = [r for r in rows if r[2].startswith("Duisburg,") and r[1] == "2024/25"]
    pupils, schools = conn.execute(
        "SELECT max(value) FILTER (measure = 'programme_pupils_reached'), "
        "max(value) FILTER (measure = 'programme_schools_reached') FROM staging.records "
        "WHERE region_code = '05112000' AND school_year = '2024/25'"
    ).fetchone()
    assert schools == len(duisburg)
    assert pupils == sum(int(r[3]) for r in duisburg)


# --- 3. end to end: the whole corpus in one night, then the next night --------------------------


def _snapshot(root: Path, skip: Path) -> dict[str, tuple[int, str]]:
    """Every path under `root` outside `skip`: (size, sha256) — symlinks by their target text."""
    result = {}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if here == skip or skip in here.parents:
            dirnames[:] = []
            continue
        for name in [*filenames, *dirnames]:
            path = here / name
            if path == skip:
                continue
            if path.is_symlink():
                result[str(path)] = (-1, os.readlink(path))
            elif path.is_file():
                result[str(path)] = (
                    path.stat().st_size,
                    hashlib.sha256(path.read_bytes()).hexdigest(),
                )
            else:
                result[str(path)] = (0, "dir")
    return result


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_the_whole_corpus_in_one_night(demo_runs: DemoRuns, tmp_path: Path) -> None:
    data = copy_data_dir(demo_runs, tmp_path / "data")
    published = data / "published" / "bildungsmonitor.duckdb"
    before = sha256(published)
    registry = load_registry()
    inbox = data / "inbox"
    for case in CASES:
        folder = inbox / case.source
        folder.mkdir(parents=True, exist_ok=True)
        (folder / case.name).write_bytes(case.payload())
    # a symlink named like a CSV, pointing at a good delivery outside the inbox: never read
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.csv"
    secret.write_bytes(b"\r\n".join(_demo_leaver_lines()[:10]) + b"\r\n")
    link = inbox / "schulabgaenger_abschlussart" / "abgaenger_link.csv"
    link.symlink_to(secret)
    # a dot file is not a delivery: left alone
    hidden = inbox / "schulabgaenger_abschlussart" / ".abgaenger_hidden.csv"
    hidden.write_bytes(b"\r\n".join(_demo_leaver_lines()[:19]) + b"\r\n")
    around = _snapshot(tmp_path, skip=data)

    broken = run_cli(data)
    # a structurally broken file holds back only its source: the night publishes the rest
    assert broken.returncode == EXIT_HELD_BACK, broken.output
    assert "success, published, with sources held back" in broken.output
    assert sha256(published) != before

    with duckdb.connect(str(data / "warehouse" / "work.duckdb"), read_only=True) as conn:
        deliveries = {
            (source_id, file_name): (delivery_id, state)
            for source_id, file_name, delivery_id, state in conn.execute(
                "SELECT source_id, file_name, delivery_id, state FROM meta.deliveries "
                "WHERE parsed_run_id = ?",
                [broken.run_id],
            ).fetchall()
        }
        assert set(deliveries) == {(c.source, c.name) for c in CASES}
        for case in CASES:
            delivery_id, _ = deliveries[(case.source, case.name)]
            facts = delivery_facts(conn, delivery_id)
            try:
                check_pipeline_outcome(case, *facts)
            except pytest.xfail.Exception:  # a known bug: still nothing of it may load
                assert facts[2] == 0 or case.outcome != "rejected"
        # every source ran, also those without a corpus file: its checks of this run exist
        ran = {
            source_id
            for (source_id,) in conn.execute(
                "SELECT DISTINCT source_id FROM quality.check_results WHERE run_id = ? "
                "AND asset_key LIKE 'staging/%'",
                [broken.run_id],
            ).fetchall()
        }
        assert ran == set(registry), sorted(set(registry) - ran)
        without_corpus = set(registry) - {c.source for c in CASES}
        assert without_corpus  # e.g. the school directory, the population, Regionalstatistik
        # the symlink target was not read: neither its name nor its bytes were received
        names = {n for (n,) in conn.execute("SELECT file_name FROM meta.deliveries").fetchall()}
        assert not names & {link.name, secret.name, hidden.name}
        known = {d for (d,) in conn.execute("SELECT delivery_id FROM meta.deliveries").fetchall()}
        assert not known & {sha256(secret), sha256(hidden)}
    # every delivered file left the inbox (processed/ or rejected/), the symlink stays untouched
    for case in CASES:
        assert not (inbox / case.source / case.name).exists(), case.id
    rejected_dir = inbox / "schulabgaenger_abschlussart" / "rejected"
    assert any(p.name.endswith("_leavers_empty.csv") for p in rejected_dir.iterdir())
    processed_dir = inbox / "schulabgaenger_abschlussart" / "processed"
    dotdot = next(c for c in CASES if c.id == "dotdot_file_name")
    assert any(p.name.endswith("_" + dotdot.name) for p in processed_dir.iterdir())
    assert link.is_symlink() and os.readlink(link) == str(secret)
    assert hidden.is_file()  # not taken, not moved
    # nothing was written outside data/
    assert _snapshot(tmp_path, skip=data) == around

    # the same night's publication: what loaded is published, nothing of a rejected file
    with duckdb.connect(str(published), read_only=True) as conn:
        current = dict(
            conn.execute(
                "SELECT file_name, count(*) FROM marts.measure_values GROUP BY file_name"
            ).fetchall()
        )
    for case in CASES:
        if case.outcome == "rejected":
            assert case.name not in current, case.id
        else:
            assert current.get(case.name) == case.pipeline["records"], case.id
    assert _snapshot(tmp_path, skip=data) == around


# --- the partner's language: no English, no pipeline ids in German ------------------------------

# words that are English, not German (a German message with one of them is mixed)
ENGLISH_WORDS = frozenset(
    [
        "the",
        "and",
        "of",
        "is",
        "are",
        "not",
        "line",
        "lines",
        "column",
        "columns",
        "expected",
        "found",
        "value",
        "values",
        "file",
        "missing",
        "delivered",
        "from",
        "with",
        "without",
        "count",
        "counts",
        "rate",
        "share",
        "measure",
        "measures",
        "source",
        "check",
        "unknown",
        "more",
        "than",
        "must",
        "should",
        "total",
        "female",
        "male",
        "german",
        "foreign",
        "region",
        "year",
        "years",
        "level",
        "parts",
        "duplicate",
        "outside",
        "readable",
        "encoding",
        "passed",
        "failed",
        "here",
        "current",
    ]
)
# the pipeline's codes: canonical subgroups, statuses, dtypes
CODES = frozenset(
    [
        "total",
        "female",
        "male",
        "german",
        "foreign",
        "suppressed",
        "not_available",
        "not_applicable",
        "unreliable",
        "provisional",
        "estimated",
        "float64",
        "int64",
        "int32",
        "object",
        "varchar",
        "double",
        "bigint",
    ]
)
IDENTIFIER = re.compile(r"\b[a-z0-9]+(?:_[a-z0-9]+)+\b")  # snake_case ids: leavers_total
REPO_PATH = re.compile(r"\b[\w-]+/[\w./-]+\.(?:csv|yaml|json|py|md)\b")
WORD = re.compile(r"[^\W\d][\w'-]*")


def german_texts(report: Report) -> list[str]:
    texts = [report.render("de")]
    for f in report.findings:
        texts += [f.message_de, f.expected_de or "", f.todo_de or ""]
    for c in report.checks:
        texts += [c.title_de, c.todo_de]
    return texts


def file_words(case: Case) -> set[str]:
    """Every word of the delivery itself (headers, cells, its name) in any of its encodings,
    and the source id the partner names on the command line: those may appear."""
    payload = case.payload()[:2_000_000]
    words = {case.source.lower(), *WORD.findall(case.name.lower())}
    source = load_registry()[case.source]  # the headers agreed for the source's files
    agreed = [*(source.columns or {}).values()]
    if source.measures is not None:
        mapping = source.measures
        agreed += [v.column for v in mapping.values]
        agreed += [mapping.region_column, mapping.year_column, *mapping.ignore_columns]
    for header in agreed:
        words |= set(IDENTIFIER.findall(header.lower())) | set(WORD.findall(header.lower()))
    words |= set(IDENTIFIER.findall(case.name.lower()))
    for codec in ("utf-8", "cp1252", "utf-16"):
        text = payload.decode(codec, "replace").lower()
        words |= set(WORD.findall(text)) | set(IDENTIFIER.findall(text))
    return words


def mixed_language(text: str, allowed: set[str], registry: dict[str, Source]) -> list[str]:
    """The English words, pipeline ids and repository paths in a German text."""
    ids = set(load_catalogue().measures) | set(load_catalogue().indicators)
    problems = list(REPO_PATH.findall(text))
    for word in IDENTIFIER.findall(text):
        if word.lower() not in allowed and word not in {"utf-8"}:
            problems.append(word)
    for word in WORD.findall(text):
        lower = word.lower()
        if lower in allowed:
            continue
        if lower in ENGLISH_WORDS or lower in CODES or lower in ids:
            problems.append(word)
    return list(dict.fromkeys(problems))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_german_messages_are_german(
    case: Case, registry: dict[str, Source], schools: dict[str, str]
) -> None:
    """No German message speaks English or the pipeline's ids: only the file's own column
    headers and values, in German sentences."""
    report = screen_case(case, registry, schools)
    allowed = file_words(case)
    found = {}
    for text in german_texts(report):
        for line in text.splitlines():
            problems = mixed_language(line, allowed, registry)
            if problems:
                found[line.strip()[:300]] = problems
    assert not found, "\n".join(f"{p}: {t}" for t, p in found.items())


def test_the_language_check_catches_what_partners_were_shown(registry) -> None:
    """The messages of issue 11, as the screener wrote them before: each one is caught."""
    allowed = {"gemeindeschlüssel", "ohne", "hauptschulabschluss"}
    for text, caught in [
        ("negative Anzahl '-3' für leavers_without_hsa", ["leavers_without_hsa"]),
        ("leavers_abitur 05512000 2022/23 (female, foreign): 190 → 181",
         ["leavers_abitur", "female", "foreign"]),
        ("Werte sind Zahlen (float64): alle 84 in Ordnung", ["float64"]),
        ("erwartet ein amtlicher Schlüssel aus schemas/regions.csv", ["schemas/regions.csv"]),
        ("Zeile 3: the file is empty (expected a header)", ["the", "file", "is", "expected"]),
    ]:  # fmt: skip
        assert mixed_language(text, allowed, registry) == caught, text
    assert mixed_language("Zeile 10, Spalte 'ohne Hauptschulabschluss': negative Anzahl '-3'",
                          allowed, registry) == []  # fmt: skip
