"""Someone is told: a finished run's summary as alerts (alerts/), for every way a run starts.

`bildungsmonitor run` tells about its own run when it ends; the runs the daemon launches (the
schedule, the inbox sensor, the UI) are told about by the alert sensor below, which the daemon
evaluates; runs marked failed because their process was gone are told about by whoever
marked them (pipelines/recovery.py).
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from alerts.messages import Alert, RunReport
from alerts.notify import notify, partner_letters
from pipelines.jobs import run_in_progress
from pipelines.recovery import NIGHTLY_JOB, operations_or_default
from pipelines.summary import RunSummary
from schemas.operations import OperationsConfig
from sources.registry import Source
from warehouse.db import DataPaths, connect


def run_report(summary: RunSummary) -> RunReport:
    """The alerts of one run: it failed, a blocking check failed, a delivery was rejected, a
    source is stale (held back since an earlier night, or its live fetch failed)."""
    run_id = summary.run_id
    alerts: list[Alert] = []
    if not summary.success:
        if summary.environment is not None:
            reason = f"stopped by the environment: {summary.environment.line()}"
        elif summary.checks_failed:
            reason = "a blocking check failed; nothing was published"
        else:
            steps = ", ".join(summary.failed_steps) or "the run"
            reason = f"failed steps: {steps}; nothing was published (the run log has the error)"
        alerts.append(Alert("run_failed", run_id, reason))
    alerts += [Alert("check_failed", run_id, check) for check in summary.checks_failed]
    for held in summary.held_back:
        kind = "delivery_rejected" if held.rejected_in_run else "source_stale"
        alerts.append(Alert(kind, run_id, held.line(), held.source_id, held.file_name))
    for source_id, why in summary.fetch_failures.items():
        reason = f"could not be fetched, its last good data was used: {why}"
        alerts.append(Alert("source_stale", run_id, reason, source_id))
    status = ("success, " if summary.success else "FAILED, ") + summary.status
    return RunReport(run_id, status, summary.exit_code, tuple(alerts))


def tell(
    summary: RunSummary,
    paths: DataPaths,
    registry: dict[str, Source],
    config: OperationsConfig,
) -> list[str]:
    """Send the run's alerts and the partners' letters; one line saying where they went, and
    one per delivery that failed."""
    report = run_report(summary)
    letters, failed = [], []
    if paths.work_db.exists() and any(a.kind == "delivery_rejected" for a in report.alerts):
        try:
            with connect(paths, read_only=True) as conn:
                letters = partner_letters(conn, paths, registry, config, summary.run_id)
        except Exception as exc:  # the operators' alerts still go out
            failed.append(f"alert not delivered: the partners' screener reports: {exc}")
    failed += notify(report, config, paths.root, letters)
    if not report.alerts:
        return failed
    channels = [str(config.alert_log(paths.root))]
    if config.alerts.email is not None:
        channels.append(f"e-mail to {', '.join(config.alerts.email.to)}")
    if config.alerts.webhook is not None:
        channels.append(f"webhook {config.alerts.webhook.url}")
    channels += [f"screener report of {letter.source_id} to {', '.join(letter.to)}"
                 for letter in letters]  # fmt: skip
    return [f"Alerts: {len(report.alerts)} ({'; '.join(channels)})", *failed]


def build_alert_sensor(paths: DataPaths, registry: dict[str, Source]) -> dg.SensorDefinition:
    """Tells about every finished run of the nightly job that the CLI did not watch."""

    @dg.sensor(
        name="alert_sensor",
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="After every finished run of the nightly job that the daemon launched (the "
        "schedule, the inbox sensor, the UI): its alerts — failed run, failed blocking check, "
        "rejected delivery, stale source — to the alert log, and to e-mail and webhook as "
        "operations.yaml says. `bildungsmonitor run` tells about its own runs.",
    )
    def alert_sensor(context: dg.SensorEvaluationContext):
        running = run_in_progress(context.instance)
        if running:  # it holds the working warehouse, which a summary reads
            return dg.SkipReason(f"waiting for run {running} to finish")
        since = float(context.cursor) if context.cursor else None
        finished = context.instance.get_run_records(
            dg.RunsFilter(
                job_name=NIGHTLY_JOB,
                statuses=[dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE],
                updated_after=None if since is None else _utc(since),
            ),
            ascending=True,
        )
        if since is None:  # the first tick: remember where we are, tell nothing old
            latest = max((r.update_timestamp.timestamp() for r in finished), default=0.0)
            context.update_cursor(str(latest))
            return dg.SkipReason("alerts start with the next finished run")
        told = []
        for record in finished:
            run = record.dagster_run
            if run.tags.get("trigger") != "cli":
                config = operations_or_default(paths, context.log.warning)
                summary = RunSummary.of_run(paths, context.instance, run)
                for problem in tell(summary, paths, registry, config):
                    context.log.warning(problem)
                told.append(run.run_id)
            since = max(since, record.update_timestamp.timestamp())
        context.update_cursor(str(since))
        return dg.SkipReason(f"told about {len(told)} run(s): {', '.join(told) or 'none'}")

    return alert_sensor


def _utc(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC)
