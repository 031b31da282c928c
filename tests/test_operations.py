"""operations.yaml, the alert channels and the retention of runs, without running the pipeline:
the worked examples of docs/operations.md, alerts through real loopback servers (a webhook that
fails once, an SMTP server that is not there), old runs and their Data Docs deleted from a real
Dagster instance."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

import dagster as dg
import pytest

from alerts.channels import missing_credentials
from alerts.messages import Alert, RunReport
from alerts.notify import notify
from pipelines.alerting import run_report
from pipelines.recovery import tell_dead_runs
from pipelines.retention import prune_runs
from pipelines.summary import RunSummary
from schemas.operations import load_operations
from schemas.yamlmodel import YamlError
from sources.registry import load_registry
from tests.alert_servers import free_port, smtp_server
from tests.conftest import REPO
from tests.nights import cli_env
from warehouse.db import DataPaths

DOC = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")


def doc_block(language: str, contains: str) -> str:
    """The fenced block of docs/operations.md in `language` ('' = none) containing a text."""
    blocks = re.findall(r"^```(\w*)\n(.*?)^```", DOC, re.S | re.M)
    return next(text for lang, text in blocks if lang == language and contains in text)


def test_the_docs_operations_yaml_is_valid(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "operations.yaml").write_text(doc_block("yaml", "alerts:"), encoding="utf-8")
    config = load_operations(tmp_path, load_registry())
    assert config.alerts.email.partners == {"kita_betreuung": ["jugendamt-statistik@example.org"]}
    assert config.retention.publications == 7 and config.retention.runs == 90
    monkeypatch.setenv("BM_SMTP_USER", "bm")
    monkeypatch.setenv("BM_WEBHOOK_TOKEN", "t")
    monkeypatch.delenv("BM_SMTP_PASSWORD", raising=False)
    # what the docs show for a credential variable that is not set
    assert missing_credentials(config.alerts.email, config.alerts.webhook) == [
        doc_block("", "the environment variable BM_SMTP_PASSWORD").strip()
    ]


def test_the_docs_show_what_mistakes_in_operations_yaml_say(tmp_path: Path, monkeypatch) -> None:
    bad = (
        doc_block("yaml", "alerts:")
        .replace("security: starttls", "security: tsl")
        .replace("    password_env: BM_SMTP_PASSWORD", "    password: geheim")
        .replace("kita_betreuung: [", "kita_betreung: [")
    )
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "operations.yaml").write_text(bad, encoding="utf-8")
    monkeypatch.setenv("BILDUNGSMONITOR_OPERATIONS", str(folder / "operations.yaml"))
    with pytest.raises(YamlError) as raised:
        load_operations(tmp_path / "data", load_registry())
    shown = doc_block("", "is not one of none, starttls, tls").strip()
    assert str(raised.value).replace(str(folder), "/etc/bildungsmonitor") == shown
    # the CLI says the same before anything starts, with exit code 2
    data = tmp_path / "data"
    env = cli_env({"BILDUNGSMONITOR_OPERATIONS": str(folder / "operations.yaml")})
    completed = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--data-dir", str(data)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert completed.returncode == 2
    assert completed.stderr.strip().replace(str(folder), "/etc/bildungsmonitor") == shown
    assert not (data / "dagster_home").exists()  # nothing was started


RUN = "3f1c2a9e-0000-4000-8000-000000000001"
REJECTED = Alert("delivery_rejected", RUN, "broken file", "kita_betreuung", "kita_2025.csv")
REPORT = RunReport(RUN, "success, published, with sources held back", 4, (REJECTED,))


def test_a_webhook_that_fails_once_is_tried_again(tmp_path: Path) -> None:
    received: list[dict] = []

    class Flaky(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append(body)
            self.send_response(503 if len(received) == 1 else 204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        (tmp_path / "operations.yaml").write_text(
            f"alerts:\n  webhook:\n    url: http://127.0.0.1:{server.server_address[1]}/h\n",
            encoding="utf-8",
        )
        failed = notify(REPORT, load_operations(tmp_path), tmp_path)
    finally:
        server.shutdown()
        server.server_close()
    assert failed == []
    assert len(received) == 2 and received[1]["alerts"][0]["source_id"] == "kita_betreuung"
    log = (tmp_path / "logs" / "alerts.log").read_text(encoding="utf-8")
    assert log.endswith(
        " delivery_rejected run=3f1c2a9e-0000-4000-8000-000000000001 source=kita_betreuung: "
        "broken file\n"
    )


def test_a_mail_server_that_is_not_there_does_not_fail_the_run(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    (tmp_path / "operations.yaml").write_text(
        f"alerts:\n  email:\n    host: 127.0.0.1\n    port: {port}\n    security: none\n"
        "    sender: bm@example.org\n    to: [ops@example.org]\n",
        encoding="utf-8",
    )
    failed = notify(REPORT, load_operations(tmp_path), tmp_path)
    assert len(failed) == 1
    assert failed[0].startswith("alert not delivered: e-mail to ops@example.org: ")
    log = (tmp_path / "logs" / "alerts.log").read_text(encoding="utf-8")
    assert "delivery_rejected run=3f1c2a9e" in log and failed[0] in log
    # and a mail server that is there gets it
    with smtp_server() as smtp:
        config = load_operations(tmp_path).model_copy(deep=True)
        email = config.alerts.email.model_copy(update={"port": smtp.port})
        config = config.model_copy(update={"alerts": config.alerts.model_copy(
            update={"email": email})})  # fmt: skip
        assert notify(REPORT, config, tmp_path) == []
    (mail,) = smtp.mails
    assert mail.subject == (
        "Bildungsmonitor run 3f1c2a9e: success, published, with sources held back "
        "(1 delivery rejected)"
    )


def test_old_runs_and_their_data_docs_are_deleted(tmp_path: Path) -> None:
    paths = DataPaths(tmp_path / "data")
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:

        @dg.op
        def noop() -> None:
            pass

        @dg.job(name="nightly")
        def nightly() -> None:
            noop()

        run_ids = [nightly.execute_in_process(instance=instance).run_id for _ in range(2)]
        for run_id in run_ids:
            paths.data_docs(run_id).mkdir(parents=True)
            (paths.data_docs(run_id) / "index.html").write_text("<html/>", encoding="utf-8")
        assert prune_runs(instance, paths, days=1) == []  # younger than a day: kept
        assert sorted(prune_runs(instance, paths, days=0)) == sorted(run_ids)
        assert instance.get_runs() == []
        assert not any(paths.data_docs(r).exists() for r in run_ids)


def test_a_failed_run_its_blocking_check_and_a_dead_run_are_told(tmp_path: Path) -> None:
    failed_check = (
        "marts/indicator_values:indicator_values_rates_within_0_100 — 3 of 41,230 values "
        "outside 0–100"
    )
    summary = RunSummary(run_id=RUN, success=False, seconds=1.0, checks_failed=[failed_check])
    report = run_report(summary)
    assert report.exit_code == 1
    assert [a.line() for a in report.alerts] == [
        f"run_failed run={RUN}: a blocking check failed; nothing was published",
        f"check_failed run={RUN}: {failed_check}",
    ]
    assert report.subject == (
        "Bildungsmonitor run 3f1c2a9e: FAILED, NOT published (1 run failed, 1 check failed)"
    )
    # a run whose process was gone, marked failed by the next start
    tell_dead_runs([f"run {RUN}: its process 41872 ended while the run was working"],
                   DataPaths(tmp_path))  # fmt: skip
    log = (tmp_path / "logs" / "alerts.log").read_text(encoding="utf-8")
    assert log.endswith(
        f" run_failed run={RUN}: marked failed: its process 41872 ended while the run was working\n"
    )
