"""Inbox hygiene: every entry of an inbox that is not a delivery file is reported and skipped,
never followed; nothing outside the data directory is read, moved or written. A real archive,
a real DuckDB warehouse, real links and fifos."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.jobs import build_inbox_sensor
from sources.registry import load_registry
from warehouse.db import DataPaths, init_schema
from warehouse.inbox import scan_inbox
from warehouse.ingest import ingest_source

SOURCE = "lernfoerderung"


@pytest.fixture
def setup(tmp_path: Path):
    paths = DataPaths(tmp_path / "data")
    inbox = paths.inbox_for(SOURCE)
    inbox.mkdir(parents=True)
    outside = tmp_path / "outside"
    (outside / "folder").mkdir(parents=True)
    (outside / "folder" / "elsewhere.csv").write_text("a;b\n1;2\n", encoding="utf-8")
    return paths, inbox, outside


def ingest(paths: DataPaths, run_id: str = "run-1"):
    source = load_registry()[SOURCE].model_copy(update={"location": ()})
    paths.work_db.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(paths.work_db)) as conn:
        init_schema(conn)
        summary = ingest_source(conn, source, paths, run_id)
        log = conn.execute(
            "SELECT action, file_name, detail FROM meta.delivery_log WHERE run_id = ? "
            "ORDER BY file_name",
            [run_id],
        ).fetchall()
    return summary, log


@pytest.mark.parametrize(
    ("make", "name", "expected"),
    [
        (
            lambda inbox, outside: (inbox / "linked.csv").symlink_to(
                outside / "folder" / "elsewhere.csv"
            ),
            "linked.csv",
            "a symbolic link — not followed, skipped",
        ),
        (
            lambda inbox, outside: (inbox / "linked_folder").symlink_to(outside / "folder"),
            "linked_folder",
            "a symbolic link — not followed, skipped",
        ),
        (
            lambda inbox, outside: os.mkfifo(inbox / "pipe.csv"),
            "pipe.csv",
            "a fifo — not a delivery, skipped",
        ),
        (
            lambda inbox, outside: (inbox / "sub").mkdir(),
            "sub",
            "a folder — not a delivery, skipped",
        ),
        (
            lambda inbox, outside: (inbox / "processed").write_text("x", encoding="utf-8"),
            "processed",
            "a plain file where the folder for processed deliveries belongs — skipped; the "
            "inbox's files wait until it is removed or renamed",
        ),
        (
            lambda inbox, outside: (inbox / "rejected").symlink_to(outside / "folder"),
            "rejected",
            "a symbolic link where the folder for rejected deliveries belongs — skipped; the "
            "inbox's files wait until it is removed or renamed",
        ),
    ],
    ids=["link-to-file", "link-to-folder", "fifo", "folder", "file-processed", "link-rejected"],
)
def test_each_odd_entry_is_reported_and_skipped(setup, make, name: str, expected: str) -> None:
    paths, inbox, outside = setup
    make(inbox, outside)
    summary, log = ingest(paths)
    message = f"inbox/{SOURCE}/{name}: {expected}"
    assert summary.odd_entries == [message]
    assert ("skipped_entry", name, message) in log
    assert summary.new == []
    assert (outside / "folder" / "elsewhere.csv").read_text(encoding="utf-8") == "a;b\n1;2\n"
    assert sorted(p.name for p in outside.rglob("*")) == ["elsewhere.csv", "folder"]


def test_a_blocked_inbox_keeps_its_files_and_says_so(setup) -> None:
    paths, inbox, _outside = setup
    (inbox / "processed").write_text("x", encoding="utf-8")
    (inbox / "delivery.csv").write_text("a;b\n", encoding="utf-8")
    summary, log = ingest(paths)
    assert summary.new == []
    assert ("waiting", "delivery.csv") in [(a, f) for a, f, _ in log]
    assert (inbox / "delivery.csv").exists()
    # once the partner's file is gone, the delivery is taken
    (inbox / "processed").unlink()
    summary, _ = ingest(paths, "run-2")
    assert summary.new == ["delivery.csv"]


def test_a_symlinked_inbox_is_not_followed(setup) -> None:
    paths, inbox, outside = setup
    inbox.rmdir()
    inbox.symlink_to(outside / "folder")
    summary, _ = ingest(paths)
    assert summary.odd_entries == [
        f"inbox/{SOURCE}: a symbolic link — not followed; nothing is taken from it"
    ]
    assert summary.new == []
    assert sorted(p.name for p in outside.rglob("*")) == ["elsewhere.csv", "folder"]


def test_regular_files_beside_odd_entries_are_taken_oldest_first(setup) -> None:
    paths, inbox, _outside = setup
    (inbox / "sub").mkdir()
    (inbox / "b.csv").write_text("b", encoding="utf-8")
    (inbox / "a.csv").write_text("a", encoding="utf-8")
    os.utime(inbox / "b.csv", (1_000, 1_000))
    (inbox / ".hidden.csv").write_text("h", encoding="utf-8")  # silently ignored, as before
    (inbox / "upload.csv.part").write_text("p", encoding="utf-8")
    listing = scan_inbox(paths, SOURCE)
    assert [p.name for p in listing.files] == ["b.csv", "a.csv"]
    assert [o.path.name for o in listing.odd] == ["sub"]


def test_the_sensor_is_not_started_by_odd_entries(setup) -> None:
    paths, inbox, outside = setup
    (inbox / "linked.csv").symlink_to(outside / "folder" / "elsewhere.csv")
    os.mkfifo(inbox / "pipe.csv")
    (inbox / "processed").mkdir()
    with dg.instance_for_test() as instance:
        sensor = build_inbox_sensor(paths, [SOURCE])
        result = sensor(dg.build_sensor_context(instance=instance))
    assert isinstance(result, dg.SkipReason)
    assert result.skip_message == "no new files in the inbox"
