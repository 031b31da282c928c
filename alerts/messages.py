"""What someone is told after a run: one `Alert` per failed run, failed blocking check, rejected
delivery and stale source, and the German mail to the partner whose delivery was rejected."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from zoneinfo import ZoneInfo

from sources.registry import Source

BERLIN = ZoneInfo("Europe/Berlin")

# the kinds, in the order a message lists them, as a mail's subject counts them
KINDS = {
    "run_failed": ("run failed", "runs failed"),
    "check_failed": ("check failed", "checks failed"),
    "delivery_rejected": ("delivery rejected", "deliveries rejected"),
    "source_stale": ("source stale", "sources stale"),
}


@dataclass(frozen=True)
class Alert:
    kind: str  # one of KINDS
    run_id: str
    reason: str
    source_id: str | None = None
    file_name: str | None = None  # a rejected delivery
    delivery_id: str | None = None

    def line(self) -> str:
        """One line of the alert log, the operators' mail and the webhook's text."""
        source = f" source={self.source_id}" if self.source_id else ""
        return f"{self.kind} run={self.run_id}{source}: {self.reason}"

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)


@dataclass(frozen=True)
class RunReport:
    """What the alerts say about one run (built from the run summary)."""

    run_id: str
    status: str  # the summary's status: "published", "NOT published", …
    exit_code: int
    alerts: tuple[Alert, ...]

    @property
    def subject(self) -> str:
        counted = {kind: sum(a.kind == kind for a in self.alerts) for kind in KINDS}
        counts = ", ".join(f"{n} {KINDS[kind][n != 1]}" for kind, n in counted.items() if n)
        return f"Bildungsmonitor run {self.run_id[:8]}: {self.status} ({counts})"

    def text(self) -> str:
        lines = [
            f"Run {self.run_id}: {self.status} (exit code {self.exit_code})",
            "",
            *(alert.line() for alert in self.alerts),
        ]
        return "\n".join(lines) + "\n"

    def as_dict(self) -> dict:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "exit_code": self.exit_code,
            "alerts": [a.as_dict() for a in self.alerts],
            "text": self.text(),
        }


def german_time(moment: dt.datetime) -> str:
    """'28.11.2026, 02:00 Uhr' in Berlin time (a naive moment is UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(BERLIN).strftime("%d.%m.%Y, %H:%M Uhr")


def partner_subject(file_name: str) -> str:
    return f"Bildungsmonitor: Ihre Lieferung „{file_name}“ wurde nicht übernommen"


def partner_letter(
    source: Source,
    file_name: str,
    received_at: dt.datetime,
    last_good_file: str | None,
    report_de: str,
    portal_url: str | None = None,
) -> str:
    """The mail to the partner: what happened, what we use meanwhile, the screener's report;
    with the partner portal's address (operations.yaml `alerts.portal_url`), where to follow
    the delivery and check and send the corrected file."""
    meanwhile = (
        f"Bis eine berichtigte Datei eingeht, verwenden wir weiterhin Ihre letzte gültige "
        f"Lieferung „{last_good_file}“."
        if last_good_file
        else "Von dieser Quelle liegen uns noch keine gültigen Daten vor."
    )
    return "\n".join(
        [
            "Guten Tag,",
            "",
            f"Ihre Lieferung „{file_name}“ für „{source.title}“ (Quelle {source.id}), "
            f"eingegangen am {german_time(received_at)}, konnte bei der Prüfung nicht "
            f"übernommen werden. {meanwhile}",
            "",
            "Der folgende Prüfbericht nennt die Gründe mit Zeile und Spalte:",
            "",
            report_de,
            "",
            *(_portal_lines(portal_url) if portal_url else _screen_lines(source)),
            "Mit freundlichen Grüßen",
            "die Geschäftsstelle des Bildungsmonitors",
            "",
        ]
    )


def portal_deliveries_url(portal_url: str) -> str:
    """The portal's page that lists a partner's deliveries (portal/app.py)."""
    return portal_url.rstrip("/") + "/lieferungen"


def _portal_lines(portal_url: str) -> list[str]:
    return [
        "Den Stand Ihrer Lieferungen sehen Sie im Lieferportal:",
        "",
        f"    {portal_deliveries_url(portal_url)}",
        "",
        "Dort können Sie auch die berichtigte Datei prüfen und liefern.",
        "",
    ]


def _screen_lines(source: Source) -> list[str]:
    return [
        "Bitte senden Sie uns eine berichtigte Datei. Vor dem Senden können Sie sie selbst prüfen:",
        "",
        f"    bildungsmonitor screen DATEI --source {source.id} --language de",
        "",
    ]
