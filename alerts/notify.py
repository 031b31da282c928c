"""Tell someone: a run's alerts to the alert log, the operators' mail and the webhook, and the
German screener report of each rejected delivery to its partner (if operations.yaml names one).

Returns what could not be delivered (one line each, also in the alert log); it never raises for
a channel that is down — the run's outcome stays what it was.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import duckdb

from alerts.channels import append_log, post_webhook, send_mail
from alerts.messages import Alert, RunReport, partner_letter, partner_subject
from expectations.screening import screen_delivery
from schemas.operations import OperationsConfig
from sources.archive import RawArchive
from sources.registry import Source
from warehouse.db import DataPaths
from warehouse.held_back import rejected_in_run


@dataclass(frozen=True)
class Letter:
    to: list[str]
    subject: str
    body: str
    source_id: str


def partner_letters(
    conn: duckdb.DuckDBPyConnection,
    paths: DataPaths,
    registry: dict[str, Source],
    config: OperationsConfig,
    run_id: str,
) -> list[Letter]:
    """For every delivery the run rejected whose partner operations.yaml names: the letter with
    the screener's German report of the delivery as archived."""
    email = config.alerts.email
    if email is None or not email.partners:
        return []
    letters = []
    archive = RawArchive(paths.root)
    published = paths.published_db if paths.published_db.exists() else None
    for rejected in rejected_in_run(conn, run_id):
        to = email.partners.get(rejected.source_id)
        source = registry.get(rejected.source_id)
        if not to or source is None:
            continue
        report = screen_delivery(
            archive.read(rejected.delivery_id), rejected.file_name, source, registry, published
        )
        body = partner_letter(
            source,
            rejected.file_name,
            rejected.received_at,
            rejected.last_good_file,
            report.render("de"),
            email.portal_url,
        )
        letters.append(Letter(to, partner_subject(rejected.file_name), body, source.id))
    return letters


def notify(
    report: RunReport, config: OperationsConfig, data_dir: Path, letters: list[Letter] = ()
) -> list[str]:
    """Send the report's alerts (nothing to send: nothing happens) and the partners' letters;
    return the deliveries that failed."""
    if not report.alerts and not letters:
        return []
    log_file = config.alert_log(data_dir)
    failed = []
    try:
        append_log(log_file, [alert.line() for alert in report.alerts])
    except OSError as exc:  # e.g. the disk is full: the other channels may still work
        failed.append(f"alert log not written: {log_file}: {exc.strerror or exc}")
    settings = config.alerts
    if settings.email is not None and report.alerts:
        try:
            send_mail(settings.email, settings.email.to, report.subject, report.text())
        except Exception as exc:  # a channel that is down never fails the run
            failed.append(f"alert not delivered: e-mail to {', '.join(settings.email.to)}: {exc}")
    if settings.webhook is not None and report.alerts:
        try:
            post_webhook(settings.webhook, report.as_dict())
        except Exception as exc:
            failed.append(f"alert not delivered: webhook {settings.webhook.url}: {exc}")
    sent: list[str] = []
    for letter in letters:
        assert settings.email is not None
        try:
            send_mail(settings.email, letter.to, letter.subject, letter.body)
        except Exception as exc:
            failed.append(
                f"alert not delivered: screener report of {letter.source_id} to "
                f"{', '.join(letter.to)}: {exc}"
            )
        else:
            sent.append(
                f"partner_mailed run={report.run_id} source={letter.source_id}: screener "
                f"report sent to {', '.join(letter.to)}"
            )
    if failed or sent:
        with contextlib.suppress(OSError):
            append_log(log_file, [*sent, *failed])
    return failed


def dead_run_alerts(failed_runs: list[tuple[str, str]]) -> RunReport | None:
    """Runs marked failed because their process was gone: (run id, reason) each."""
    if not failed_runs:
        return None
    alerts = tuple(Alert("run_failed", run_id, reason) for run_id, reason in failed_runs)
    return RunReport(failed_runs[0][0], "FAILED (its process was gone)", 2, alerts)
