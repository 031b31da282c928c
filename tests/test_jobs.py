"""The inbox sensor (through build_sensor_context with a cursor) and the nightly schedule."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from pipelines.jobs import build_inbox_sensor, build_nightly_schedule, nightly_job
from warehouse.db import DataPaths

SOURCES = ["kita_betreuung", "schulabgaenger_abschlussart"]


@pytest.fixture
def instance() -> dg.DagsterInstance:
    with dg.instance_for_test() as instance:
        yield instance


def evaluate(sensor: dg.SensorDefinition, instance: dg.DagsterInstance, cursor: str | None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor)
    result = sensor(context)
    return result, context.cursor


def test_a_new_file_starts_one_run(tmp_path: Path, instance: dg.DagsterInstance) -> None:
    sensor = build_inbox_sensor(DataPaths(tmp_path), SOURCES)
    result, cursor = evaluate(sensor, instance, None)
    assert isinstance(result, dg.SkipReason) and "no new files" in result.skip_message

    inbox = tmp_path / "inbox" / "kita_betreuung"
    inbox.mkdir(parents=True)
    (inbox / "kita_2025.csv").write_text("Stichtag;…\n", encoding="utf-8")
    result, cursor = evaluate(sensor, instance, cursor)
    assert isinstance(result, dg.RunRequest)
    assert result.tags == {"trigger": "inbox", "sources": "kita_betreuung"}
    assert set(json.loads(cursor)) == {"kita_betreuung"}

    # evaluated again with the cursor: the same file does not start a second run
    again, cursor_after = evaluate(sensor, instance, cursor)
    assert isinstance(again, dg.SkipReason)
    assert cursor_after == cursor

    # a second file (another source) starts a new run with another run key
    other = tmp_path / "inbox" / "schulabgaenger_abschlussart"
    other.mkdir(parents=True)
    (other / "abgaenger.csv").write_text("x\n", encoding="utf-8")
    third, _ = evaluate(sensor, instance, cursor)
    assert isinstance(third, dg.RunRequest)
    assert third.tags["sources"] == "schulabgaenger_abschlussart"
    assert third.run_key != result.run_key


def test_partial_uploads_hidden_files_and_folders_are_ignored(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    inbox = tmp_path / "inbox" / "kita_betreuung"
    (inbox / "processed").mkdir(parents=True)
    (inbox / "processed" / "old.csv").write_text("x", encoding="utf-8")
    (inbox / ".hidden.csv").write_text("x", encoding="utf-8")
    (inbox / "upload.csv.part").write_text("x", encoding="utf-8")
    result, _ = evaluate(build_inbox_sensor(DataPaths(tmp_path), SOURCES), instance, None)
    assert isinstance(result, dg.SkipReason)


def test_new_files_wait_while_a_run_is_in_progress(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    (tmp_path / "inbox" / "kita_betreuung").mkdir(parents=True)
    (tmp_path / "inbox" / "kita_betreuung" / "kita.csv").write_text("x", encoding="utf-8")
    instance.add_run(
        dg.DagsterRun(
            job_name=nightly_job.name, run_id="a" * 36, status=dg.DagsterRunStatus.STARTED
        )
    )
    result, cursor = evaluate(build_inbox_sensor(DataPaths(tmp_path), SOURCES), instance, None)
    assert isinstance(result, dg.SkipReason)
    assert "wait for run aaaaaaaa" in result.skip_message
    assert cursor is None  # not consumed: the files start a run once the current one ends


def test_schedule_skips_while_a_run_is_in_progress(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    nightly_schedule = build_nightly_schedule(DataPaths(tmp_path))
    context = dg.build_schedule_context(instance=instance)
    assert isinstance(nightly_schedule(context), dg.RunRequest)
    instance.add_run(
        dg.DagsterRun(
            job_name=nightly_job.name, run_id="b" * 36, status=dg.DagsterRunStatus.STARTING
        )
    )
    skipped = nightly_schedule(dg.build_schedule_context(instance=instance))
    assert isinstance(skipped, dg.SkipReason)
    assert "one run at a time" in skipped.skip_message
