"""The delivery screener: check a file against its source's rules before sending it.

`bildungsmonitor screen FILE --source ID` runs the same reader, mapping, expectation suites and
cross checks the nightly pipeline runs — but loads nothing. Like a data screener it works in
stages and stops at the first stage that fails:

    1 file          can it be read at all: not empty, not binary, not a zip, the encoding
    2 columns       delimiter, header, every column the source's mapping needs
    3 values        every cell: numbers and symbols, region keys, school years, duplicates, …
    4 cross-checks  across lines: parts and totals, levels, the year before, coverage

Every finding is PASS, WARNING or FAIL with a plain message in German and English that names
the line and column, what was found and what was expected. The verdict is the worst finding:
exit code 0 = PASS, 1 = WARNING (the file loads; the flagged lines would be held back or
looked at), 2 = FAIL (the file would be rejected).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from expectations.cross_checks import OTHER_VALUE_COLUMNS, run_all
from expectations.partner_words import (
    CHECK_TITLES,
    CROSS_TITLES,
    PartnerWords,
    cross_finding_de,
    in_partner_words,
    number_de,
    percent_de,
    plural,
    todo,
)
from expectations.rules import literal
from expectations.suites import applies_to
from expectations.validation import DeliveryValidation, failing_records, validate_records
from sources.canonical import mapped_columns
from sources.delivery import loadable_records, read_payload, records_relation
from sources.readers.base import DeliveryFormatError, RawTable, require_data_lines
from sources.readers.decoding import check_text, encoding_de
from sources.registry import Source
from sources.scratch import temp_name

STAGES = ("file", "columns", "values", "cross-checks")
STAGE_DE = {
    "file": "Datei",
    "columns": "Spalten",
    "values": "Werte",
    "cross-checks": "Quervergleiche",
}
OUTCOME_DE = {"PASS": "OK", "WARNING": "WARNUNG", "FAIL": "FEHLER"}
RANK = {"PASS": 0, "WARNING": 1, "FAIL": 2}
# how a partner knows the encodings Excel and Windows write
ENCODING_DE = {
    "utf-8-sig": "UTF-8 mit Byte-Order-Mark (Excel: „CSV UTF-8“)",
    "cp1252": "cp1252 (Windows, Excel: „CSV (Trennzeichen-getrennt)“)",
}
# a delivery up to this size is screened on one DuckDB thread: its records fit in about one
# row group (122,880 rows; 3,000 lines: 21,000 records, 0.2 MB), which no scan splits, so a
# second thread only adds the handing over of work (3,000 lines: 0.64 s -> 0.48 s)
ONE_THREAD_BYTES = 1024 * 1024
MAX_LINES_PER_CHECK = 200  # findings listed per check; the count is always complete
SHOWN_PER_CHECK = 5  # of those, the report shows the first few
UNITS_DE = {"lines": ("Zeile", "Zeilen"), "values": ("Wert", "Werte")}


@dataclass
class Finding:
    """One thing the screener found, where it is and what to do — for a text report, the
    JSON output or a web page alike."""

    stage: str
    check: str
    outcome: str  # PASS | WARNING | FAIL
    message: str  # English
    message_de: str
    line: int | None = None
    column: str | None = None  # the column's header as the file writes it
    found: str | None = None
    expected: str | None = None
    expected_de: str | None = None
    todo: str | None = None  # what to do about it
    todo_de: str | None = None


@dataclass
class CheckResult:
    """One check's result: its outcome, how many lines or values it flags (complete), the
    findings listed (at most MAX_LINES_PER_CHECK) and what to do."""

    stage: str
    check: str
    outcome: str
    title: str  # what the check says, in English
    title_de: str
    count: int = 0
    unit: str = "lines"  # what `count` counts: lines | values
    findings: list[Finding] = field(default_factory=list)
    todo: str = ""
    todo_de: str = ""

    def lines_de(self, shown: int = SHOWN_PER_CHECK) -> list[str]:
        if self.outcome == "PASS":
            return [self.title_de]
        listed = [f for f in self.findings if f.line is not None or f.column is not None]
        head = self.title_de
        if self.count:
            head += f": {plural(self.count, *UNITS_DE[self.unit])}"
        lines = [head, *(f"  {f.message_de}" for f in listed[:shown])]
        rest = self.count - min(len(listed), shown) if listed else 0
        if rest > 0:
            lines.append(f"  … und {number_de(rest)} weitere: alle in der Ausgabe mit --json")
        if self.todo_de:
            lines.append(f"  Was tun: {self.todo_de}")
        return lines

    def lines_en(self, shown: int = SHOWN_PER_CHECK) -> list[str]:
        if self.outcome == "PASS":
            return [self.title]
        listed = [f for f in self.findings if f.line is not None or f.column is not None]
        head = self.title + (f": {self.count} {self.unit}" if self.count else "")
        lines = [head, *(f"  {f.message}" for f in listed[:shown])]
        rest = self.count - min(len(listed), shown) if listed else 0
        if rest > 0:
            lines.append(f"  … and {rest} more: all of them in the output of --json")
        if self.todo:
            lines.append(f"  What to do: {self.todo}")
        return lines


@dataclass
class Report:
    file: str
    source_id: str
    source_title: str = ""
    findings: list[Finding] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    stopped_at: str | None = None  # the stage that failed; later stages did not run

    @property
    def verdict(self) -> str:
        return max((f.outcome for f in self.findings), key=RANK.__getitem__, default="PASS")

    @property
    def exit_code(self) -> int:
        return RANK[self.verdict]

    def check(self, stage: str, check: str) -> CheckResult:
        """The result of `check`, created on first use (outcome PASS until a finding says
        otherwise)."""
        for result in self.checks:
            if (result.stage, result.check) == (stage, check):
                return result
        todo_de, todo_en = todo(f"{check}:{stage}" if check == "structure" else check)
        result = CheckResult(stage, check, "PASS", "", "", todo=todo_en, todo_de=todo_de)
        self.checks.append(result)
        return result

    def add(self, stage: str, check: str, outcome: str, en: str, de: str, **where: Any) -> None:
        column, line = where.get("column"), where.get("line")
        if line is not None:  # every message names the column by its header
            de = de.replace(f"Zeile {line}: Spalte ", f"Zeile {line}, Spalte ", 1)
            en = en.replace(f"line {line}: column ", f"line {line}, column ", 1)
            if column:
                de = _name_column(de, f"Zeile {line}", "Spalte", column)
                en = _name_column(en, f"line {line}", "column", column)
        finding = Finding(stage, check, outcome, en, de, **where)
        result = self.check(stage, check)
        if outcome == "PASS":
            if result.outcome == "PASS":
                result.title, result.title_de = en, de
            return self.findings.append(finding)
        if RANK[outcome] > RANK[result.outcome]:
            result.outcome = outcome
        if finding.line is None and finding.column is None:
            result.title, result.title_de = en, de  # the check's own summary of itself
        else:
            titled = f"{check}:{stage}" if f"{check}:{stage}" in CHECK_TITLES else check
            if not result.title_de and titled in CHECK_TITLES:
                result.title, result.title_de = CHECK_TITLES[titled]
            finding.todo, finding.todo_de = result.todo or None, result.todo_de or None
            result.findings.append(finding)
        self.findings.append(finding)

    def summarise(
        self, stage: str, check: str, title: str, title_de: str, count: int, unit: str
    ) -> None:
        """The headline of a check with findings: what it checks and how many `unit`
        (lines, values) it flags."""
        result = self.check(stage, check)
        result.title, result.title_de, result.count, result.unit = title, title_de, count, unit

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "source": self.source_id,
            "source_title": self.source_title,
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "stopped_at": self.stopped_at,
            "checks": [
                {k: v for k, v in asdict(c).items() if k != "findings"}
                | {"listed": len(c.findings)}
                | ({"todo": "", "todo_de": ""} if c.outcome == "PASS" else {})
                for c in self.checks
            ],
            "findings": [asdict(f) for f in self.findings],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2, default=str)

    def render(self, language: str = "both") -> str:
        """Plain text for partners: German first, English below (or one language). Each
        check is one line when it passes; a flagged one says how many cases, shows the
        first few and what to do."""
        parts = []
        if language in ("de", "both"):
            parts.append(self._render_de())
        if language in ("en", "both"):
            parts.append(self._render_en())
        return "\n\n".join(parts)

    def _render_de(self) -> str:
        source = self.source_title or self.source_id
        return self._render_stages(
            f"Prüfbericht für {self.file} (Quelle: {source}): {OUTCOME_DE[self.verdict]}",
            stage_name=STAGE_DE.__getitem__,
            outcome_name=OUTCOME_DE.__getitem__,
            skipped="nicht geprüft (eine vorherige Stufe ist fehlgeschlagen)",
            body=CheckResult.lines_de,
        )

    def _render_en(self) -> str:
        return self._render_stages(
            f"Screening report for {self.file} (source {self.source_id}): {self.verdict}",
            stage_name=str,
            outcome_name=str,
            skipped="not checked (an earlier stage failed)",
            body=CheckResult.lines_en,
        )

    def _render_stages(self, head: str, *, stage_name, outcome_name, skipped: str, body) -> str:
        """The report in one language: its head line, then each stage with its checks."""
        lines = [head, ""]
        for number, stage in enumerate(STAGES, start=1):
            title = f"[{number}/4 {stage_name(stage)}]"
            results = [c for c in self.checks if c.stage == stage]
            if not results:
                lines.append(f"{title} {self._not_run(stage, skipped, '–')}")
                continue
            lines.append(title)
            for result in results:
                tag = f"  {outcome_name(result.outcome):<8}"
                text = body(result)
                lines.append(f"{tag}{text[0]}")
                lines += [f"{' ' * len(tag)}{line}" for line in text[1:]]
        return "\n".join(lines)

    def _not_run(self, stage: str, skipped: str, empty: str) -> str:
        later = self.stopped_at and STAGES.index(stage) > STAGES.index(self.stopped_at)
        return skipped if later else empty


def _name_column(message: str, at: str, word: str, column: str) -> str:
    """'Zeile 13: …' -> "Zeile 13, Spalte 'Gemeindeschlüssel': …" unless it names one."""
    if f"{word} " in message or not message.startswith(f"{at}:"):
        return message
    return f"{at}, {word} {column!r}:{message[len(at) + 1 :]}"


def _format_error(
    report: Report, stage: str, exc: DeliveryFormatError, check: str = "structure"
) -> None:
    report.add(
        stage,
        check,
        "FAIL",
        str(exc),
        getattr(exc, "message_de", None) or str(exc),
        line=exc.line,
        column=exc.column,
        found=exc.found,
        expected=exc.expected,
    )
    report.stopped_at = stage


def screen(
    data: bytes,
    file_name: str,
    source: Source,
    *,
    schools: Mapping[str, str] | None = None,
    published: Path | None = None,
) -> Report:
    """Screen one delivery of `source`. `schools` (Schulnummer -> AGS) places school-level
    lines; `published` (the analysts' DuckDB) gives the history for the year-over-year and
    revision checks."""
    report = Report(file_name, source.id, source.title)
    config = {"threads": 1} if len(data) <= ONE_THREAD_BYTES else {}
    with duckdb.connect(config=config) as conn:  # the delivery's tables live here, and go with it
        raw = _file_stage(conn, report, data, file_name, source)
        if raw is None:
            return report
        if not _columns_stage(report, raw, source):
            return report
        accepted = _values_stage(conn, report, raw, source, schools)
        if accepted is None:
            return report
        _cross_stage(conn, report, accepted, source, published)
    return report


def _file_stage(
    conn: duckdb.DuckDBPyConnection, report: Report, data: bytes, file_name: str, source: Source
) -> RawTable | None:
    try:
        text_bytes = data
        if source.kind in ("genesis_ffcsv", "genesis_api") and data[:4] == b"PK\x03\x04":
            from sources.readers.ffcsv import unzip_single_csv

            text_bytes, _ = unzip_single_csv(data, file_name)  # the API's zip around the CSV
        declared = "auto" if source.kind == "json_api" else source.encoding
        excel = source.excel_encodings
        encoding = check_text(text_bytes, file_name, declared, excel=excel).encoding
    except DeliveryFormatError as exc:
        _format_error(report, "file", exc)
        return None
    try:
        raw = read_payload(source, data, file_name, conn)
    except DeliveryFormatError as exc:
        stage = getattr(exc, "stage", "file") or "file"
        if stage != "file":
            _file_ok(report, data, encoding)
        _format_error(report, "columns" if stage == "values" else stage, exc)
        return None
    _file_ok(report, data, encoding)
    return raw


def _file_ok(report: Report, data: bytes, encoding: str) -> None:
    size = f"{len(data):,}"
    report.add(
        "file",
        "readable",
        "PASS",
        f"the file can be read ({size} bytes, encoding {encoding})",
        f"die Datei ist lesbar ({size.replace(',', '.')} Bytes, Zeichenkodierung "
        f"{ENCODING_DE.get(encoding, encoding_de(encoding))})",
    )


def _columns_stage(report: Report, raw: RawTable, source: Source) -> bool:
    if source.dataset != "measures":
        missing = [c for c in source.columns.values() if c not in raw.columns]
        if missing:
            column = missing[0]
            report.add(
                "columns",
                "structure",
                "FAIL",
                f"line {raw.header_line}, column {column!r}: missing column {column!r}",
                f"Zeile {raw.header_line}, Spalte {column!r}: Spalte {column!r} fehlt",
                line=raw.header_line,
                column=column,
            )
            report.stopped_at = "columns"
            return False
        return _has_data_lines(report, raw)
    try:
        required, unused = mapped_columns(raw, source)
    except DeliveryFormatError as exc:
        _format_error(report, "columns", exc)
        return False
    report.add(
        "columns",
        "mapped_columns",
        "PASS",
        f"all {len(required)} columns the mapping needs are there",
        f"alle {len(required)} benötigten Spalten sind vorhanden",
    )
    for column in unused:
        report.add(
            "columns",
            "unused_column",
            "WARNING",
            f"line {raw.header_line}, column {column!r}: not used by the source's mapping "
            "— its content will not be loaded",
            f"Zeile {raw.header_line}, Spalte {column!r}: wird von der Quelle nicht "
            "verwendet — ihr Inhalt wird nicht geladen",
            line=raw.header_line,
            column=column,
        )
    return _has_data_lines(report, raw)


def _has_data_lines(report: Report, raw: RawTable) -> bool:
    try:
        require_data_lines(raw)
    except DeliveryFormatError as exc:
        _format_error(report, "columns", exc, check="data_lines")
        return False
    return True


def _values_stage(
    conn: duckdb.DuckDBPyConnection,
    report: Report,
    raw: RawTable,
    source: Source,
    schools: Mapping[str, str] | None,
) -> str | None:
    """The values against the suites; the records that would load (a relation), or None."""
    if source.dataset != "measures":
        from expectations.validation import validate_rows
        from sources.reference import reference_rows

        relation = reference_rows(conn, raw, source)
        validation = validate_rows(conn, relation, source.expectations, gx=False)
        _record_outcomes(report, conn, validation, source)
        return None
    records = records_relation(conn, raw, source, schools)
    validation = validate_records(
        conn,
        records,
        source.expectations,
        gx=False,
        coverage=source.coverage,
        territory=source.territory,
    )
    _record_outcomes(report, conn, validation, source)
    if validation.blocking_failures:
        report.stopped_at = "values"
        return None
    return loadable_records(conn, records, validation.quarantined_ids(), source)


# checks about a line's key name the key's column rather than the value's
KEY_COLUMN = {
    "known_region_keys": "region_column",
    "plausible_school_years": "year_column",
}


def _record_outcomes(
    report: Report,
    conn: duckdb.DuckDBPyConnection,
    validation: DeliveryValidation,
    source: Source,
) -> None:
    rows = conn.execute(f"SELECT count(*) FROM {validation.relation}").fetchone()[0]
    words = PartnerWords(source)
    descriptions = {
        e.name: e.description_de
        for item in validation.evaluated
        for e in item.evaluation.suite.expectations
    }
    for outcome in validation.outcomes:
        if outcome.outcome == "PASS":
            report.add(
                "values",
                outcome.name,
                "PASS",
                outcome.message,
                outcome.message_de or outcome.message,
            )
            continue
        key = next((v for k, v in KEY_COLUMN.items() if outcome.name.endswith(k)), None)
        wide = applies_to(outcome.suite) == "wide"  # a check of the whole line, not one cell
        seen: set[tuple[Any, str]] = set()
        description_de = descriptions.get(outcome.name, outcome.description_de)
        for row, reason, reason_de in failing_records(
            conn, validation, outcome.name, lambda r: in_partner_words(words, r)
        ):
            line = _int(row.get("source_line"))
            if (line, reason) in seen:
                continue  # one finding per line, not one per value of the line
            seen.add((line, reason))
            if len(seen) > MAX_LINES_PER_CHECK:
                break
            column, found = _where(row, reason, key, wide, source)
            report.add(
                "values",
                outcome.name,
                outcome.outcome,
                reason,
                reason_de,
                line=line,
                column=column,
                found=found,
                expected=outcome.description,
                expected_de=description_de,
            )
        truncated = len(seen) > MAX_LINES_PER_CHECK
        if truncated or not outcome.rows_unexpected:
            report.add(
                "values",
                outcome.name,
                outcome.outcome,
                outcome.message,
                f"{description_de}: {number_de(outcome.unexpected_count or 0)} von "
                f"{number_de(outcome.element_count or 0)} nicht erfüllt",
            )
        title, title_de = outcome.description, description_de
        if outcome.outcome == "FAIL" and outcome.rows_unexpected:
            # the lines say where; this says why the whole file is rejected
            share = outcome.rows_unexpected / max(rows, 1)
            rejected = (
                f"{outcome.rows_unexpected} values ({share:.0%}) fail this check — more than a "
                "delivery may have: the file would be rejected"
            )
            rejected_de = (
                f"{number_de(outcome.rows_unexpected)} Werte ({percent_de(share)}) verletzen "
                "diese Prüfung – mehr, als eine Lieferung haben darf; die Datei würde abgelehnt"
            )
            report.add("values", outcome.name, "FAIL", rejected, rejected_de)
            title, title_de = f"{title} — {rejected}", f"{title_de} – {rejected_de}"
        if truncated or not seen:
            count, unit = outcome.rows_unexpected or outcome.unexpected_count or 0, "values"
        else:
            # lines, not findings: a line can fail in several of its columns
            count, unit = len({line for line, _ in seen}), "lines"
        report.summarise("values", outcome.name, title, title_de, count, unit)


def _where(
    row: dict[str, Any], reason: str, key: str | None, wide: bool, source: Source
) -> tuple[str | None, str | None]:
    """The column and the value a finding is about: the cell the problem is in — the line's
    key cell (year, sex, region) when only that is wrong, not the value column of the record."""
    mapping = source.measures
    if wide:
        return None, None  # the reason names the line's values itself
    if key and mapping is not None:
        # the key cell as delivered: the region cell, or the school year as read
        found = row.get("region_label") if key == "region_column" else row.get("school_year")
        return getattr(mapping, key), _text(found)
    column = row.get("source_column")
    at = row.get("problem_column")
    problem = row.get("problem")
    if isinstance(at, str) and at != column and isinstance(problem, str) and problem in reason:
        if mapping is not None and at == mapping.region_column:
            return at, _text(row.get("region_label"))  # e.g. an unknown municipality's name
        return at, None
    return (column if isinstance(column, str) else None), _text(row.get("raw_value"))


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _int(value: Any) -> int | None:
    return None if _missing(value) else int(value)


def _text(value: Any) -> str | None:
    return None if _missing(value) else str(value)


def _cross_stage(
    conn: duckdb.DuckDBPyConnection,
    report: Report,
    accepted: str,
    source: Source,
    published: Path | None,
) -> None:
    history = _published_values(conn, published, source, accepted)
    others = _published_other_values(conn, published, source, accepted)
    words = PartnerWords(source)
    for check in run_all(conn, source, accepted, history, history, others):
        title, title_de, none_de = CROSS_TITLES[check.name]
        if check.passed:
            report.add("cross-checks", check.name, "PASS", check.message, none_de)
            continue
        cursor = conn.execute(
            f"SELECT message, source_line, measure, region_code, school_year, sex, "
            f"nationality, value, reference, tolerance "
            f"FROM {check.findings} ORDER BY ord LIMIT {MAX_LINES_PER_CHECK}"
        )
        names = [d[0] for d in cursor.description]
        for values in cursor.fetchall():
            row = dict(zip(names, values, strict=True))
            message = row["message"]
            report.add(
                "cross-checks",
                check.name,
                "WARNING",
                message,
                cross_finding_de(words, check.name, row, message),
                line=_int(row["source_line"]),
                column=words.header(row["measure"]),
                found=_text(row["value"]),
                expected=_text(row["reference"]),
            )
        if check.count > MAX_LINES_PER_CHECK:
            report.add(
                "cross-checks",
                check.name,
                "WARNING",
                check.message,
                f"{number_de(check.count)} {title_de}",
            )
        report.summarise("cross-checks", check.name, title, title_de, check.count, "values")


_HISTORY_COLUMNS = (
    "measure VARCHAR, region_code VARCHAR, school_year VARCHAR, start_year INTEGER, "
    "sex VARCHAR, nationality VARCHAR, value DOUBLE, status VARCHAR, file_name VARCHAR"
)


def _from_publication(
    conn: duckdb.DuckDBPyConnection,
    published: Path | None,
    prefix: str,
    columns: str,
    fill: Callable[[str], None],
) -> str:
    """A temporary table of `conn` (`columns`), filled by `fill(table)` while the analysts'
    file is attached read-only as `published` (detached at once: never locked); empty
    without a publication."""
    table = temp_name(prefix)
    conn.execute(f"CREATE TEMP TABLE {table} ({columns})")
    if published is None or not published.exists():
        return table
    conn.execute(f"ATTACH {literal(str(published))} AS published (READ_ONLY)")
    try:
        fill(table)
    finally:
        conn.execute("DETACH published")
    return table


def _published_values(
    conn: duckdb.DuckDBPyConnection, published: Path | None, source: Source, accepted: str
) -> str:
    """The source's current values in the analysts' file, if there is one — of the measures
    and regions `accepted` has, in its school years and the ones before them: the only
    values the year-over-year and revision checks compare with (a Land's delivery of a few
    regions need not copy the whole history)."""
    return _from_publication(
        conn,
        published,
        "published_values",
        _HISTORY_COLUMNS,
        lambda table: conn.execute(
            f"INSERT INTO {table} SELECT measure, region_code, school_year, start_year, sex, "
            "nationality, value, status, file_name FROM published.marts.measure_values "
            # DISTINCT: without it DuckDB builds its hash table of the publication's rows
            f"WHERE source_id = ? AND measure IN (SELECT DISTINCT measure FROM {accepted}) "
            f"AND region_code IN (SELECT DISTINCT region_code FROM {accepted}) "
            f"AND start_year IN (SELECT start_year FROM {accepted} "
            f"UNION SELECT start_year - 1 FROM {accepted})",
            [source.id],
        ),
    )


def _published_other_values(
    conn: duckdb.DuckDBPyConnection, published: Path | None, source: Source, accepted: str
) -> str:
    """The other sources' current values in the analysts' file of the measures, school years
    and Länder `accepted` has (a figure and its other key — a kreisfreie Stadt's Kreis and
    Gemeinde, Berlin as Land and Kreis — share the Land's two digits), with their standing
    and rank (meta.sources; a publication older than precedence has none)."""

    def fill(table: str) -> None:
        # DESCRIBE, not duckdb_columns(): that lists every column of every database (25 ms)
        columns = {name for name, *_ in conn.execute("DESCRIBE published.meta.sources").fetchall()}
        standing, rank = (
            ("s.standing", "s.rank") if {"standing", "rank"} <= columns else ("NULL", "NULL")
        )
        conn.execute(
            f"INSERT INTO {table} SELECT v.measure, v.region_code, v.school_year, "
            f"v.start_year, v.sex, v.nationality, v.value, v.status, v.source_id, {standing}, "
            f"{rank}, v.file_name FROM published.marts.measure_values v "
            "LEFT JOIN published.meta.sources s ON s.source_id = v.source_id "
            f"WHERE v.source_id <> ? AND v.measure IN (SELECT DISTINCT measure FROM {accepted}) "
            f"AND v.start_year IN (SELECT DISTINCT start_year FROM {accepted}) "
            f"AND left(v.region_code, 2) IN (SELECT DISTINCT left(region_code, 2) FROM {accepted})",
            [source.id],
        )

    return _from_publication(conn, published, "published_other_values", OTHER_VALUE_COLUMNS, fill)


def school_directory(published: Path | None, registry: dict[str, Source]) -> dict[str, str]:
    """Schulnummer -> AGS: from the published marts.schools, else from the directory file the
    registry bundles (so that a partner can screen without a warehouse)."""
    if published is not None and published.exists():
        with duckdb.connect(str(published), read_only=True) as conn:
            return dict(
                conn.execute("SELECT school_number, region_code FROM marts.schools").fetchall()
            )
    directory = next((s for s in registry.values() if s.dataset == "school_directory"), None)
    if directory is None or not directory.location_paths():
        return {}
    from sources.reference import reference_rows

    path = directory.location_paths()[-1]
    with duckdb.connect() as conn:
        rows = reference_rows(conn, read_payload(directory, path, path.name, conn), directory)
        return dict(conn.execute(f"SELECT school_number, region_code FROM {rows}").fetchall())


def screen_delivery(
    data: bytes,
    file_name: str,
    source: Source,
    registry: dict[str, Source],
    published: Path | None,
    schools: Mapping[str, str] | None = None,
) -> Report:
    """`screen` as `bildungsmonitor screen`, the partner portal and the partners' letters run
    it: with the school directory when the source places its lines by Schulnummer (`schools`
    given: that directory, read once by the caller), and the publication's history."""
    if schools is None and source.measures and source.measures.region_by == "school_number":
        schools = school_directory(published, registry)
    return screen(data, file_name, source, schools=schools, published=published)
