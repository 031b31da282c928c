"""Unattended nights (issue 10): what an operator does to the pipeline, night after night, on a
copy of the demo's data directory, with real processes, a real Dagster instance and real
DuckDB files.

One module fixture plays the nights in order — each sees what the one before left:

1. a new delivery waits in the inbox, with odd inbox entries beside it (links into a folder
   outside the data directory, a fifo, a sub-folder, a plain file named `processed`, a
   symlinked `rejected`, a symlinked inbox);
2. runs SIGKILLed as a process tree during staging, during the warehouse build and during
   publication;
3. runs that meet a full disk (ENOSPC from the OS, injected by a preload library for writes
   under one folder) at ingest, in the warehouse build and at publication;
4. an analyst opens the publication read-write, changes it and is killed (a WAL remains);
5. two ordinary nights.

The tests below then check what each step left. (The nights share one fixture because each
full run takes about a minute on two cores.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest

from tests.conftest import DemoRuns, copy_data_dir
from tests.nights import (
    DELIVERIES,
    LEAVERS,
    Started,
    build_enospc_shim,
    file_digest,
    flipped_copy,
    leftovers,
    readable_publication,
    run_status,
    start_cli,
    wait_for,
    wait_for_step,
)

pytestmark = pytest.mark.slow

BUILD_STEPS = ("core__measure_revisions",)
NO_SPACE = ": no space left on device — free space there and start the run again"
# SQLite tells a write that failed in its journal like this
DISK_IO = ": disk I/O error — check the disk (free space, health) and start the run again"
# where the disk is full: the raw archive, the working warehouse, the publication's folder, and
# Dagster's own run storage (its event log cannot even record the failure)
FULL_DISK_FOLDERS = {
    "ingest": "raw",
    "build": "warehouse",
    "publish": "published",
    "instance": "dagster_home",
}
TUTORING = DELIVERIES / "lernfoerderung" / "SYNTHETISCH_lernfoerderung_schulen_2016-2024.csv"
ANALYST = """
import os, signal, sys, duckdb
conn = duckdb.connect(sys.argv[1])  # read-write, as the DuckDB CLI without -readonly
# (marts.indicator_values is the open rows of marts.indicator_history: the table the file holds)
conn.execute("UPDATE marts.indicator_history SET value = -1 WHERE indicator_id = 'dropout_rate'")
os.kill(os.getpid(), signal.SIGKILL)  # the session dies before it closes: the WAL stays
"""


@dataclass
class Kill:
    phase: str
    run_id: str
    publication_before: str
    publication_after: str
    readable_after: tuple[str, int]


@dataclass
class FullDisk:
    phase: str
    exit_code: int
    output: str
    run_id: str
    publication_before: str
    publication_after: str
    leftovers: list[str]


@dataclass
class Nights:
    data_dir: Path
    outside: Path
    outside_before: dict[str, bytes]
    kills: list[Kill] = field(default_factory=list)
    full_disks: list[FullDisk] = field(default_factory=list)
    analyst_wal: bool = False
    analyst_saw: float | None = None
    nights: list[tuple[int, str]] = field(default_factory=list)  # exit code, output
    leftovers_after: list[list[str]] = field(default_factory=list)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): (b"<dir>" if p.is_dir() else p.read_bytes())
        for p in sorted(folder.rglob("*"))
    }


def odd_entries(data: Path, outside: Path) -> None:
    """What partners and mistakes leave in inboxes (see warehouse/inbox.py)."""
    inbox = data / "inbox"
    (outside / "folder").mkdir(parents=True)
    (outside / "folder" / "elsewhere.csv").write_text("a;b\n1;2\n", encoding="utf-8")
    (outside / "rejected").mkdir()
    (outside / "symlinked_inbox").mkdir()
    (outside / "symlinked_inbox" / "delivery.csv").write_text("a;b\n1;2\n", encoding="utf-8")
    for source in ("kita_betreuung", "nrw_schuldaten", "itnrw_21111_9k21", "bevoelkerung_kinder"):
        (inbox / source).mkdir(parents=True, exist_ok=True)
    # a plain file where the archive folder belongs, with a real delivery beside it
    (inbox / "kita_betreuung" / "processed").write_text("not a folder\n", encoding="utf-8")
    flipped_copy(
        DELIVERIES / "kita_betreuung" / "SYNTHETISCH_kindertagesbetreuung_berichtigung_2024.csv",
        inbox / "kita_betreuung" / "kita_waiting.csv",
    )
    # links to a folder and to a file outside the data directory
    (inbox / "nrw_schuldaten" / "linked_folder").symlink_to(outside / "folder")
    (inbox / "nrw_schuldaten" / "linked.csv").symlink_to(outside / "folder" / "elsewhere.csv")
    # a fifo (reading it would block the run) and a sub-folder with a file in it
    os.mkfifo(inbox / "itnrw_21111_9k21" / "pipe.csv")
    (inbox / "itnrw_21111_9k21" / "sub").mkdir()
    (inbox / "itnrw_21111_9k21" / "sub" / "inner.csv").write_text("x\n", encoding="utf-8")
    # the archive folder of rejected files, linked out of the data directory
    (inbox / "bevoelkerung_kinder" / "rejected").symlink_to(outside / "rejected")
    # a whole inbox that is a link
    (inbox / "regionalstatistik_21111_01_03_4").symlink_to(outside / "symlinked_inbox")


def kill_during(data: Path, tmp: Path, phase: str, nights: Nights) -> None:
    before = file_digest(data / "published" / "bildungsmonitor.duckdb")
    started = start_cli(data, tmp / f"kill_{phase}.log")
    if phase == "staging":
        run_id = wait_for_step(started, data, ("staging__schulabgaenger_abschlussart",))
    elif phase == "build":
        # the first step that reads what staging loaded (core__regions … need no delivery)
        run_id = wait_for_step(started, data, BUILD_STEPS)
    else:
        run_id = wait_for_step(started, data, ("publish__",))
        wait_for(
            lambda: any((data / "published").glob(".bildungsmonitor.duckdb.*.tmp")),
            "the publication's temp file",
        )
    started.kill_tree()
    published = data / "published" / "bildungsmonitor.duckdb"
    nights.kills.append(
        Kill(phase, run_id, before, file_digest(published), readable_publication(published))
    )


def full_disk_during(data: Path, tmp: Path, shim: Path, phase: str, nights: Nights) -> None:
    before = file_digest(data / "published" / "bildungsmonitor.duckdb")
    folder = FULL_DISK_FOLDERS[phase]
    armed = tmp / f"armed_{phase}"
    env = {
        "LD_PRELOAD": str(shim),
        "BM_ENOSPC_PREFIX": str(data / folder) + "/",
        "BM_ENOSPC_ARMED": str(armed),
    }
    if phase not in ("build", "instance"):
        armed.touch()  # full from the start
    started: Started = start_cli(data, tmp / f"full_{phase}.log", env)
    if phase in ("build", "instance"):
        wait_for_step(started, data, BUILD_STEPS)
        armed.touch()  # the disk fills up while the warehouse is built
    code = started.wait()
    output = started.output
    run_id = next(line.split()[1] for line in output.splitlines() if line.startswith("Run "))
    nights.full_disks.append(
        FullDisk(
            phase,
            code,
            output,
            run_id,
            before,
            file_digest(data / "published" / "bildungsmonitor.duckdb"),
            leftovers(data),
        )
    )


@pytest.fixture(scope="module")
def nights(demo_runs: DemoRuns, tmp_path_factory: pytest.TempPathFactory) -> Nights:
    tmp = tmp_path_factory.mktemp("nights")
    data = copy_data_dir(demo_runs, tmp / "data")
    outside = tmp / "outside"
    odd_entries(data, outside)
    result = Nights(data, outside, snapshot(outside))
    flipped_copy(LEAVERS, data / "inbox" / "schulabgaenger_abschlussart" / "abgaenger_neu.csv")

    for phase in ("staging", "build", "publish"):
        kill_during(data, tmp, phase, result)

    shim = build_enospc_shim(tmp)
    if shim is not None:
        # a second new delivery: ingest has something to archive when the disk is full
        flipped_copy(TUTORING, data / "inbox" / "lernfoerderung" / "lernfoerderung_neu.csv")
        for phase in FULL_DISK_FOLDERS:
            full_disk_during(data, tmp, shim, phase, result)

    published = data / "published" / "bildungsmonitor.duckdb"
    os.chmod(published, 0o644)  # an analyst who may write (the owner, or root)
    subprocess.run([sys.executable, "-c", ANALYST, str(published)], check=False, timeout=120)
    result.analyst_wal = published.with_name(published.name + ".wal").exists()
    with duckdb.connect(str(published), read_only=True) as conn:
        result.analyst_saw = conn.execute(
            "SELECT min(value) FROM marts.indicator_values WHERE indicator_id = 'dropout_rate'"
        ).fetchone()[0]

    for night in (1, 2):
        started = start_cli(data, tmp / f"night_{night}.log")
        result.nights.append((started.wait(), started.output))
        result.leftovers_after.append(leftovers(data))
    return result


def test_killed_runs_leave_the_publication_and_never_stop_the_next_night(nights: Nights) -> None:
    assert [k.phase for k in nights.kills] == ["staging", "build", "publish"]
    for kill in nights.kills:
        # the publication is the one from before the kill, and it opens and answers
        assert kill.publication_after == kill.publication_before, kill.phase
        assert kill.readable_after[1] > 0
        status, message = run_status(nights.data_dir, kill.run_id)
        assert status == "FAILURE", kill.phase
        assert message.startswith(f"Run {kill.run_id} marked failed by "), message
        assert message.endswith(
            "ended while the run was working: it was killed, ran out of memory or the machine "
            "restarted."
        ), message
    # each next run marked its killed predecessor failed itself: no manual step
    logs = [*(d.output for d in nights.full_disks), nights.nights[0][1]]
    first_after_kills = logs[0]
    assert f"Marked failed: run {nights.kills[-1].run_id}: its process" in first_after_kills
    code, output = nights.nights[0]
    assert code == 0, output
    assert nights.leftovers_after == [[], []]
    # the delivery a killed run was staging was picked up again and loaded
    with duckdb.connect(str(nights.data_dir / "warehouse" / "work.duckdb"), read_only=True) as c:
        states = dict(
            c.execute(
                "SELECT file_name, state FROM meta.deliveries WHERE file_name IN "
                "('abgaenger_neu.csv', 'lernfoerderung_neu.csv')"
            ).fetchall()
        )
    assert states["abgaenger_neu.csv"] == "loaded"
    processed = nights.data_dir / "inbox" / "schulabgaenger_abschlussart" / "processed"
    assert [p.name.split("_", 1)[1] for p in processed.iterdir()] == ["abgaenger_neu.csv"]


def test_a_full_disk_is_one_line_with_exit_6_and_no_stuck_run(nights: Nights) -> None:
    if not nights.full_disks:
        pytest.skip("no C compiler for the ENOSPC preload library")
    data = nights.data_dir
    for full in nights.full_disks:
        assert full.exit_code == 6, full.output
        stopped = [line for line in full.output.splitlines() if "by the environment" in line]
        assert len(stopped) == 1, full.output
        line = stopped[0]
        folder = {
            "ingest": data / "raw" / "sha256",  # the payload that could not be archived
            "build": data / "warehouse",
            "publish": data / "published",
            "instance": data / "dagster_home",
        }[full.phase]
        assert line.startswith(f"Stopped by the environment: {folder}") or line.startswith(
            f"Run {full.run_id} stopped by the environment: {folder}"
        ), line
        endings = (NO_SPACE, DISK_IO) if full.phase == "instance" else (NO_SPACE,)
        assert line.endswith(endings), line
        assert full.publication_after == full.publication_before, full.phase
        assert full.leftovers == [], full.phase
        status, message = run_status(data, full.run_id)
        assert status == "FAILURE", full.phase  # not stuck in STARTED
        if full.phase == "instance":  # it could not record its failure: the next start did
            assert message.startswith(
                f"Run {full.run_id} marked failed by bildungsmonitor run: its process "
            ), message
            assert f"stopped and could not record it: {folder}" in message, message
    # nothing damaged: the next night loads both new deliveries and publishes
    code, output = nights.nights[0]
    assert code == 0, output
    with duckdb.connect(str(data / "warehouse" / "work.duckdb"), read_only=True) as conn:
        states = conn.execute(
            "SELECT state FROM meta.deliveries WHERE file_name IN "
            "('abgaenger_neu.csv', 'lernfoerderung_neu.csv') ORDER BY file_name"
        ).fetchall()
    assert states == [("loaded",), ("loaded",)]


def test_an_analysts_killed_session_never_reaches_the_next_publication(nights: Nights) -> None:
    assert nights.analyst_wal  # the killed read-write session left its WAL …
    assert nights.analyst_saw == -1  # … and every reader saw the analyst's change
    published = nights.data_dir / "published" / "bildungsmonitor.duckdb"
    assert not published.with_name(published.name + ".wal").exists()
    assert published.stat().st_mode & 0o777 == 0o444
    # the publication's marts are exactly what the run computed in the working warehouse
    with duckdb.connect(str(published), read_only=True) as conn:
        conn.execute(
            f"ATTACH '{nights.data_dir / 'warehouse' / 'work.duckdb'}' AS work (READ_ONLY)"
        )
        for table in ("indicator_values", "indicators", "goals", "regions", "schools"):
            differ = conn.execute(
                f"SELECT count(*) FROM ((SELECT * FROM marts.{table} EXCEPT ALL "
                f"SELECT * FROM work.marts.{table}) UNION ALL (SELECT * FROM work.marts.{table} "
                f"EXCEPT ALL SELECT * FROM marts.{table}))"
            ).fetchone()[0]
            assert differ == 0, table
        assert (
            conn.execute(
                "SELECT min(value) FROM marts.indicator_values WHERE indicator_id = 'dropout_rate'"
            ).fetchone()[0]
            >= 0
        )


def test_odd_inbox_entries_are_reported_every_night_and_never_followed(nights: Nights) -> None:
    expected = [
        "inbox/bevoelkerung_kinder/rejected: a symbolic link where the folder for rejected "
        "deliveries belongs — skipped; the inbox's files wait until it is removed or renamed",
        "inbox/itnrw_21111_9k21/pipe.csv: a fifo — not a delivery, skipped",
        "inbox/itnrw_21111_9k21/sub: a folder — not a delivery, skipped",
        "inbox/kita_betreuung/processed: a plain file where the folder for processed "
        "deliveries belongs — skipped; the inbox's files wait until it is removed or renamed",
        "waiting: inbox/kita_betreuung/kita_waiting.csv",
        "inbox/nrw_schuldaten/linked.csv: a symbolic link — not followed, skipped",
        "inbox/nrw_schuldaten/linked_folder: a symbolic link — not followed, skipped",
        "inbox/regionalstatistik_21111_01_03_4: a symbolic link — not followed; nothing is "
        "taken from it",
    ]
    for code, output in nights.nights:  # two consecutive nights publish, each reporting all
        assert code == 0, output
        skipped = [line[len("  SKIP ") :] for line in output.splitlines() if "  SKIP " in line]
        assert sorted(skipped) == sorted(expected), output
        assert f"Inbox entries skipped: {len(expected)} " in output
    # nothing outside the data directory was read into the archive, moved or written
    assert {**nights.outside_before} == {
        str(p.relative_to(nights.outside)): (b"<dir>" if p.is_dir() else p.read_bytes())
        for p in sorted(nights.outside.rglob("*"))
    }
    inbox = nights.data_dir / "inbox"
    assert (inbox / "kita_betreuung" / "kita_waiting.csv").exists()  # waits, reported
    assert (inbox / "itnrw_21111_9k21" / "sub" / "inner.csv").exists()
    with duckdb.connect(str(nights.data_dir / "warehouse" / "work.duckdb"), read_only=True) as c:
        taken = c.execute(
            "SELECT count(*) FROM meta.deliveries WHERE file_name IN ('elsewhere.csv', "
            "'linked.csv', 'delivery.csv', 'inner.csv', 'pipe.csv', 'processed', "
            "'kita_waiting.csv')"
        ).fetchone()[0]
    assert taken == 0
