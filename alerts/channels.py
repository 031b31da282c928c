"""Where alerts go: the alert log (always), e-mail over SMTP and a webhook (when configured).

Credentials come from the environment variables operations.yaml names, read when a message is
sent. A channel that cannot be reached is retried with backoff (tenacity); if it still fails,
the failure is written to the alert log and returned — it never fails the run.
"""

from __future__ import annotations

import datetime as dt
import os
import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path

import requests
from tenacity import (
    retry,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from schemas.operations import EmailSettings, WebhookSettings

ATTEMPTS = 3


class MissingCredential(RuntimeError):
    pass


def credential(name: str | None, setting: str) -> str | None:
    """The value of the environment variable `name` (None when no variable is named)."""
    if name is None:
        return None
    value = os.environ.get(name)
    if value is None:
        raise MissingCredential(
            f"operations.yaml, key '{setting}': the environment variable {name} is not set"
        )
    return value


def missing_credentials(email: EmailSettings | None, webhook: WebhookSettings | None) -> list[str]:
    """Every named credential variable that is not set, as one line each (checked at start)."""
    named = []
    if email is not None:
        named += [
            (email.username_env, "alerts.email.username_env"),
            (email.password_env, "alerts.email.password_env"),
        ]
    if webhook is not None:
        named.append((webhook.token_env, "alerts.webhook.token_env"))
    problems = []
    for name, setting in named:
        try:
            credential(name, setting)
        except MissingCredential as exc:
            problems.append(str(exc))
    return problems


def append_log(log_file: Path, lines: list[str]) -> None:
    """Lines to the alert log, each stamped with the time (UTC)."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with log_file.open("a", encoding="utf-8") as handle:
        handle.writelines(f"{stamp} {line}\n" for line in lines)


def _transient(exc: BaseException) -> bool:
    """Worth another try: the network, a server that hung up or said 'try later' (4xx)."""
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, requests.HTTPError):
        return exc.response is not None and exc.response.status_code >= 500
    return isinstance(
        exc, (OSError, smtplib.SMTPServerDisconnected, requests.ConnectionError, requests.Timeout)
    )


_retrying = retry(
    retry=retry_if_exception(_transient),
    stop=stop_after_attempt(ATTEMPTS),
    wait=wait_exponential(multiplier=0.5, max=8),
    reraise=True,
)


@_retrying
def send_mail(settings: EmailSettings, to: list[str], subject: str, body: str) -> None:
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message.set_content(body)  # UTF-8: the partners' letters are German
    username = credential(settings.username_env, "alerts.email.username_env")
    password = credential(settings.password_env, "alerts.email.password_env")
    timeout = settings.timeout_seconds
    if settings.security == "tls":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
    with smtp:
        if settings.security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        if username is not None:
            smtp.login(username, password or "")
        smtp.send_message(message)


@_retrying
def post_webhook(settings: WebhookSettings, payload: dict) -> None:
    headers = {"User-Agent": "bildungsmonitor-alerts"}
    token = credential(settings.token_env, "alerts.webhook.token_env")
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    response = requests.post(
        settings.url, json=payload, headers=headers, timeout=settings.timeout_seconds
    )
    response.raise_for_status()
