"""operations.yaml: how the pipeline is run unattended — who is told, what is kept.

The file the environment variable BILDUNGSMONITOR_OPERATIONS names, else
`<data dir>/operations.yaml` if it exists, else the defaults (alerts to the log file only, the
last 7 publications kept). Credentials never stand in it: it names the environment variables
that hold them (docs/operations.md, "Alerts" and "Where secrets live").

    alerts:
      log_file: /var/log/bildungsmonitor/alerts.log   # default <data dir>/logs/alerts.log
      email:
        host: smtp.example.org
        port: 587
        security: starttls            # none | starttls | tls
        username_env: BM_SMTP_USER     # optional: no login without it
        password_env: BM_SMTP_PASSWORD
        sender: bildungsmonitor@example.org
        to: [datenteam@example.org]
        partners:                      # source id -> who gets the screener report of a rejection
          kita_betreuung: [jugendamt-statistik@example.org]
        portal_url: https://lieferung.example.org   # optional: the letters link to the portal
      webhook:
        url: https://chat.example.org/hooks/bildungsmonitor
        token_env: BM_WEBHOOK_TOKEN    # optional: sent as "Authorization: Bearer …"
    schedule:
      cron: "0 2 * * *"                # the nightly run (default: 02:00)
      timezone: Europe/Berlin
    retention:
      publications: 7                  # the last N publications are kept
      runs: 90                         # Dagster runs (and their Data Docs) younger than N days
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import available_timezones

from pydantic import AfterValidator, Field, field_validator

from schemas.yamlmodel import (
    Problem,
    YamlError,
    YamlModel,
    did_you_mean,
    read_yaml,
    sort_problems,
    validate,
)

ENV_VARIABLE = "BILDUNGSMONITOR_OPERATIONS"
FILE_NAME = "operations.yaml"
_ADDRESS = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")


def _address(value: str) -> str:
    if not _ADDRESS.fullmatch(value):
        raise ValueError(f"'{value}' is not an e-mail address (name@example.org)")
    return value


def _env_name(value: str) -> str:
    if not _ENV_NAME.fullmatch(value):
        raise ValueError(
            f"'{value}' is not the name of an environment variable (e.g. BM_SMTP_PASSWORD); "
            "credentials never stand in this file"
        )
    return value


def _url(value: str) -> str:
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
        raise ValueError(f"'{value}' is not an http:// or https:// address")
    return value


Address = Annotated[str, AfterValidator(_address)]
EnvName = Annotated[str, AfterValidator(_env_name)]
Url = Annotated[str, AfterValidator(_url)]


class EmailSettings(YamlModel):
    host: str
    port: int = Field(587, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "starttls"
    username_env: EnvName | None = None
    password_env: EnvName | None = None
    sender: Address
    to: list[Address] = Field(min_length=1)
    partners: dict[str, list[Address]] = Field(default_factory=dict)
    # the partner portal's public address (https://…): the partners' letters link to it
    portal_url: Url | None = None
    timeout_seconds: float = Field(30, gt=0)


class WebhookSettings(YamlModel):
    url: Url
    token_env: EnvName | None = None
    timeout_seconds: float = Field(10, gt=0)


class AlertSettings(YamlModel):
    log_file: str | None = None  # default <data dir>/logs/alerts.log
    email: EmailSettings | None = None
    webhook: WebhookSettings | None = None


class RetentionSettings(YamlModel):
    publications: int = Field(7, ge=1)
    runs: int = Field(90, ge=1)  # days


class ScheduleSettings(YamlModel):
    cron: str = "0 2 * * *"
    timezone: str = "Europe/Berlin"

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError(f"'{value}' is not a cron schedule (five fields, e.g. '0 2 * * *')")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value not in available_timezones():
            raise ValueError(f"'{value}' is not a time zone (e.g. Europe/Berlin)")
        return value


class OperationsConfig(YamlModel):
    schedule: ScheduleSettings = ScheduleSettings()
    alerts: AlertSettings = AlertSettings()
    retention: RetentionSettings = RetentionSettings()

    def alert_log(self, data_dir: Path) -> Path:
        if self.alerts.log_file:
            return Path(self.alerts.log_file)
        return data_dir / "logs" / "alerts.log"


def operations_file(data_dir: Path) -> Path | None:
    """The operations.yaml in force: $BILDUNGSMONITOR_OPERATIONS (must exist), else
    <data dir>/operations.yaml if there is one."""
    named = os.environ.get(ENV_VARIABLE)
    if named:
        return Path(named)
    default = data_dir / FILE_NAME
    try:
        return default if default.is_file() else None
    except OSError:  # a data directory we may not read: the run's own check says so
        return None


def load_operations(data_dir: Path, sources: Iterable[str] | None = None) -> OperationsConfig:
    """The settings in force; a mistake in the file is a YamlError naming file, line and key
    (`sources`: the registry's source ids, which `alerts.email.partners` must name)."""
    path = operations_file(data_dir)
    if path is None:
        return OperationsConfig()
    doc = read_yaml(path, str(path))
    problems: list[Problem] = list(doc.problems)
    data = {} if doc.data is None else doc.data
    if not isinstance(data, dict):
        raise YamlError([Problem(str(path), 1, message="expected a mapping of keys at the top")])
    config = validate(OperationsConfig, data, doc, problems)
    if sources is not None:
        known = sorted(sources)
        for source_id in _partner_keys(data):
            if source_id not in known:
                problems.append(
                    doc.problem(
                        ("alerts", "email", "partners", source_id),
                        f"'{source_id}' is not a source of the registry"
                        + did_you_mean(source_id, known),
                        at="key",
                    )
                )
    if problems or config is None:
        raise YamlError(sort_problems(problems))
    return config


def _partner_keys(data: dict) -> list[str]:
    """The source ids under alerts.email.partners, as written (also when other keys are wrong)."""
    node: object = data
    for key in ("alerts", "email", "partners"):
        node = node.get(key) if isinstance(node, dict) else None
    return [str(k) for k in node] if isinstance(node, dict) else []
