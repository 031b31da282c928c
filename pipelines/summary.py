"""The summary `bildungsmonitor run` prints: sources, rows, checks, quarantine, publication."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import duckdb

from pipelines.exitcodes import (
    EXIT_BLOCKED,
    EXIT_BROKEN,
    EXIT_ENVIRONMENT,
    EXIT_HELD_BACK,
    EXIT_PUBLISHED,
    EXIT_SOURCE_FAILED,
)
from warehouse.db import DataPaths
from warehouse.environment import EnvironmentProblem, ErrorText, find_problem
from warehouse.held_back import HeldBack, held_back_sources

if TYPE_CHECKING:
    from dagster._utils.error import SerializableErrorInfo

PUBLISH_KEY = dg.AssetKey(["publish", "bildungsmonitor"])
REPORT_KEY = dg.AssetKey(["publish", "indikatorenbericht"])


@dataclass
class SourceLine:
    source_id: str
    payloads: int = 0
    new: int = 0
    skipped: int = 0
    parsed: int = 0
    rejected: int = 0
    records_loaded: int = 0
    records_quarantined: int = 0
    fetch_failed: int = 0


@dataclass
class RunSummary:
    run_id: str
    success: bool
    seconds: float
    sources: list[SourceLine] = field(default_factory=list)
    checks_passed: int = 0
    checks_warned: list[str] = field(default_factory=list)
    checks_failed: list[str] = field(default_factory=list)  # blocking (ERROR) failures
    # failures of the checks that reject a delivery (staging): the delivery is held back
    checks_rejected: list[str] = field(default_factory=list)
    sources_failed: list[str] = field(default_factory=list)  # non-blocking ERROR failures
    fetch_failures: dict[str, str] = field(default_factory=dict)  # source id -> why
    quarantined: int = 0
    checks_not_evaluated: int = 0  # nothing new to check (no new delivery, unchanged mart)
    failed_steps: list[str] = field(default_factory=list)
    published: Path | None = None
    published_bytes: int = 0
    report: Path | None = None  # the indicator report's start page, if this run built it
    report_pages: int = 0
    report_unchanged: bool = False  # the pages of an earlier run, kept: nothing they show changed
    previous_publication: Path | None = None
    environment: EnvironmentProblem | None = None  # what stopped the run, if the environment
    inbox_skipped: list[str] = field(default_factory=list)  # odd inbox entries, not followed
    held_back: list[HeldBack] = field(default_factory=list)  # their last good data is published

    @property
    def exit_code(self) -> int:
        if self.success and self.published:
            if self.held_back:
                return EXIT_HELD_BACK
            return EXIT_SOURCE_FAILED if self.sources_failed else EXIT_PUBLISHED
        if self.environment is not None:
            return EXIT_ENVIRONMENT
        return EXIT_BLOCKED if self.checks_failed else EXIT_BROKEN

    @classmethod
    def collect(cls, paths: DataPaths, result: dg.ExecuteInProcessResult, seconds: float):
        return cls.from_events(paths, result.run_id, result.success, result.all_events, seconds)

    @classmethod
    def of_run(cls, paths: DataPaths, instance: dg.DagsterInstance, run: dg.DagsterRun):
        """The summary of a finished run, from the instance's event log (a run the daemon
        launched, which no CLI watched)."""
        records = instance.get_records_for_run(run.run_id, limit=100_000).records
        events = [r.event_log_entry.dagster_event for r in records]
        stamps = [r.event_log_entry.timestamp for r in records]
        seconds = max(stamps) - min(stamps) if stamps else 0.0
        success = run.status == dg.DagsterRunStatus.SUCCESS
        return cls.from_events(paths, run.run_id, success, [e for e in events if e], seconds)

    @classmethod
    def from_events(
        cls, paths: DataPaths, run_id: str, success: bool, events: list, seconds: float
    ) -> RunSummary:
        summary = cls(run_id=run_id, success=success, seconds=seconds)
        for event in events:
            if event.event_type_value != "ASSET_CHECK_EVALUATION":
                continue
            evaluation = event.event_specific_data
            label = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
            text = evaluation.description or ""
            if evaluation.passed:
                summary.checks_passed += 1
            elif evaluation.asset_key.path[0] == "staging" and (
                evaluation.severity == dg.AssetCheckSeverity.ERROR
            ):
                summary.checks_rejected.append(f"{label} — {text}")
            elif evaluation.severity == dg.AssetCheckSeverity.ERROR and evaluation.blocking:
                summary.checks_failed.append(f"{label} — {text}")
            elif evaluation.severity == dg.AssetCheckSeverity.ERROR:
                summary.sources_failed.append(f"{label} — {text}")
                summary.fetch_failures[evaluation.asset_key.path[-1]] = text
            else:
                summary.checks_warned.append(f"{label} — {text}")
        for event in events:
            if event.event_type_value == "STEP_FAILURE":
                summary.failed_steps.append(event.step_key or "?")
            error = getattr(event.event_specific_data, "error", None)
            if error is not None and summary.environment is None:
                summary.environment = find_problem(error_info_chain(error), paths.root)
        published = any(
            e.event_type_value == "ASSET_MATERIALIZATION" and e.asset_key == PUBLISH_KEY
            for e in events
        )
        for event in events:
            if event.event_type_value == "ASSET_MATERIALIZATION" and event.asset_key == REPORT_KEY:
                metadata = event.event_specific_data.materialization.metadata
                summary.report = Path(metadata["path"].value)
                summary.report_pages = int(metadata["pages"].value)
                unchanged = metadata.get("unchanged")
                summary.report_unchanged = bool(unchanged.value) if unchanged else False
        if published:
            summary.published = paths.published_db
            summary.published_bytes = paths.published_db.stat().st_size
        elif paths.published_db.exists():
            summary.previous_publication = paths.published_db
        if paths.work_db.exists():
            with duckdb.connect(str(paths.work_db), read_only=True) as conn:
                summary.sources = _source_lines(conn, run_id)
                summary.held_back = held_back_sources(conn, run_id)
                summary.quarantined = conn.execute(
                    "SELECT count(*) FROM quality.quarantine WHERE run_id = ?", [run_id]
                ).fetchone()[0]
                summary.inbox_skipped = [
                    f"{action}: {detail}" if action == "waiting" else detail
                    for action, detail in conn.execute(
                        "SELECT action, CASE action WHEN 'waiting' THEN 'inbox/' || source_id || "
                        "'/' || file_name ELSE detail END FROM meta.delivery_log WHERE run_id = ? "
                        "AND action IN ('skipped_entry', 'waiting') ORDER BY source_id, file_name",
                        [run_id],
                    ).fetchall()
                ]
                summary.checks_not_evaluated = conn.execute(
                    "SELECT count(DISTINCT (asset_key, check_name)) FROM quality.check_results "
                    "WHERE run_id = ? AND outcome = 'NOT_EVALUATED'",
                    [run_id],
                ).fetchone()[0]
        return summary

    @property
    def status(self) -> str:
        if not self.published:
            return "NOT published"
        return "published, with sources held back" if self.held_back else "published"

    def render(self) -> str:
        status = self.status
        lines = [
            f"Run {self.run_id} — {'success' if self.success else 'FAILED'}, {status} "
            f"({self.seconds:.1f} s)",
            "",
            f"{'source':<36}{'payloads':>9}{'new':>5}{'skipped':>8}{'parsed':>7}{'rejected':>9}"
            f"{'records':>10}{'quarant.':>9}",
        ]
        for s in self.sources:
            lines.append(
                f"{s.source_id:<36}{s.payloads:>9}{s.new:>5}{s.skipped:>8}{s.parsed:>7}"
                f"{s.rejected:>9}{s.records_loaded:>10,}{s.records_quarantined:>9,}"
                + ("  FETCH FAILED" if s.fetch_failed else "")
            )
        total_new = sum(s.new for s in self.sources)
        total_skipped = sum(s.skipped for s in self.sources)
        lines += [
            "",
            f"Sources: {len(self.sources)} read; payloads new {total_new}, skipped unchanged "
            f"{total_skipped}; records loaded {sum(s.records_loaded for s in self.sources):,}",
            f"Checks: {self.checks_passed} passed, {len(self.checks_warned)} warnings, "
            f"{len(self.checks_failed)} failed (blocking)"
            + (
                f", {len(self.checks_rejected)} failed (delivery rejected)"
                if self.checks_rejected
                else ""
            )
            + (
                f"; {self.checks_not_evaluated} not evaluated (nothing new to check)"
                if self.checks_not_evaluated
                else ""
            ),
        ]
        lines += [f"  FAIL {c}" for c in self.checks_failed]
        lines += [f"  FAIL {c}" for c in self.checks_rejected]
        if self.held_back:
            lines.append(
                f"Sources held back: {len(self.held_back)} (a delivery was rejected; "
                "their last good data is "
                + ("published" if self.published else "kept")
                + ", the partner has to send a corrected file)"
            )
            lines += [f"  HELD BACK {h.line()}" for h in self.held_back]
        if self.sources_failed:
            lines.append(
                f"Sources that could not be fetched: {len(self.sources_failed)} "
                "(their last good data was used)"
            )
            lines += [f"  FAIL {c}" for c in self.sources_failed]
        lines += [f"  WARN {c}" for c in self.checks_warned[:20]]
        if len(self.checks_warned) > 20:
            lines.append(f"  … and {len(self.checks_warned) - 20} more warnings")
        lines.append(f"Quarantined records: {self.quarantined:,} (quality.quarantine)")
        if self.inbox_skipped:
            lines.append(
                f"Inbox entries skipped: {len(self.inbox_skipped)} (not deliveries; nothing "
                "was followed or moved)"
            )
            lines += [f"  SKIP {entry}" for entry in self.inbox_skipped]
        if self.failed_steps:
            lines.append(f"Failed steps: {', '.join(self.failed_steps)}")
        if self.published:
            lines.append(f"Published: {self.published} ({self.published_bytes / 1e6:.1f} MB)")
        if self.report:
            kept = ", unchanged" if self.report_unchanged else ""
            lines.append(f"Report: {self.report} ({self.report_pages} pages{kept})")
        elif self.previous_publication:
            lines.append(
                f"Nothing published; the previous publication is unchanged: "
                f"{self.previous_publication}"
            )
        else:
            lines.append("Nothing published; there is no earlier publication.")
        if self.environment is not None and not self.success:
            lines.append(f"Stopped by the environment: {self.environment.line()}")
        return "\n".join(lines)


def error_info_chain(error: SerializableErrorInfo) -> list[ErrorText]:
    """Dagster's record of an error, with its causes, as the chain find_problem reads."""
    chain: list[ErrorText] = []
    pending: list[SerializableErrorInfo | None] = [error]
    while pending:
        info = pending.pop(0)
        if info is None or len(chain) > 20:
            continue
        chain.append(ErrorText(info.cls_name or "", info.message or ""))
        pending += [info.cause, info.context]
    return chain


def _source_lines(conn: duckdb.DuckDBPyConnection, run_id: str) -> list[SourceLine]:
    rows = conn.execute(
        """SELECT l.source_id,
               count(*) FILTER (WHERE action IN ('archived', 'skipped_unchanged', 'reverted')),
               count(*) FILTER (WHERE action = 'archived'),
               count(*) FILTER (WHERE action = 'skipped_unchanged'),
               count(*) FILTER (WHERE action = 'parsed'),
               count(*) FILTER (WHERE action = 'rejected'),
               coalesce((SELECT sum(records_loaded) FROM meta.deliveries d
                         WHERE d.source_id = l.source_id AND d.parsed_run_id = ?), 0),
               coalesce((SELECT sum(records_quarantined) FROM meta.deliveries d
                         WHERE d.source_id = l.source_id AND d.parsed_run_id = ?), 0),
               count(*) FILTER (WHERE action = 'fetch_failed')
           FROM meta.delivery_log l WHERE l.run_id = ?
           GROUP BY l.source_id ORDER BY l.source_id""",
        [run_id, run_id, run_id],
    ).fetchall()
    return [SourceLine(*row) for row in rows]
