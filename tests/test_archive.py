"""The raw archive: content addressing, no rewrites, sidecar and manifest, the inbox."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import stat
from pathlib import Path

import pytest

from sources.archive import (
    Payload,
    RawArchive,
    collect_payloads,
    inbox_files,
    move_out_of_inbox,
)
from sources.registry import load_registry

RECEIVED = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
DATA = "Gemeindeschlüssel;Wert\n05112000;12\n".encode("cp1252")


def payload(data: bytes = DATA, source_id: str = "kita_betreuung", name: str = "a.csv") -> Payload:
    return Payload(source_id, name, f"inbox:{name}", Path("/nowhere") / name, data)


def manifest_lines(archive: RawArchive) -> list[dict]:
    if not archive.manifest.exists():
        return []
    return [json.loads(line) for line in archive.manifest.read_text("utf-8").splitlines()]


def touch(path: Path, data: bytes, mtime: float) -> Path:
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))
    return path


# --- content addressing ----------------------------------------------------------------------


def test_path_is_derived_from_the_sha256(tmp_path: Path) -> None:
    archive = RawArchive(tmp_path)
    sha = hashlib.sha256(DATA).hexdigest()
    assert payload().sha256 == sha
    result = archive.store(payload(), RECEIVED, "run-1")
    assert result.sha256 == sha
    assert result.relative_path == f"raw/sha256/{sha[:2]}/{sha}"
    assert result.newly_stored is True
    assert archive.path_for(sha) == tmp_path / "raw" / "sha256" / sha[:2] / sha


def test_bytes_are_stored_unchanged_and_read_only(tmp_path: Path) -> None:
    archive = RawArchive(tmp_path)
    data = b"\xef\xbb\xbfa;b\r\n1;2\r\n\x00\xff"  # BOM, CRLF, odd bytes: all kept
    result = archive.store(payload(data), RECEIVED, "run-1")
    stored = tmp_path / result.relative_path
    assert stored.read_bytes() == data
    assert archive.read(result.sha256) == data
    assert stat.S_IMODE(stored.stat().st_mode) == 0o444
    assert not list(stored.parent.glob(".*.tmp"))  # no temporary file left behind


def test_storing_the_same_bytes_again_does_not_rewrite(tmp_path: Path) -> None:
    archive = RawArchive(tmp_path)
    first = archive.store(payload(), RECEIVED, "run-1")
    stored = tmp_path / first.relative_path
    sidecar = stored.with_name(f"{first.sha256}.json")
    os.utime(stored, (1_000_000, 1_000_000))
    os.utime(sidecar, (1_000_000, 1_000_000))
    before = (stored.stat().st_ino, stored.stat().st_mtime, sidecar.stat().st_mtime)
    sidecar_text = sidecar.read_text("utf-8")

    again = archive.store(payload(name="renamed.csv"), RECEIVED + dt.timedelta(days=1), "run-2")

    assert again.newly_stored is False
    assert again.sha256 == first.sha256
    assert again.relative_path == first.relative_path
    assert (stored.stat().st_ino, stored.stat().st_mtime, sidecar.stat().st_mtime) == before
    assert sidecar.read_text("utf-8") == sidecar_text
    assert len(manifest_lines(archive)) == 1


def test_sidecar_records_the_first_delivery(tmp_path: Path) -> None:
    archive = RawArchive(tmp_path)
    first = archive.store(payload(name="Lieferung März.csv"), RECEIVED, "run-1")
    archive.store(payload(source_id="other_source", name="b.csv"), RECEIVED, "run-2")
    sidecar = (tmp_path / first.relative_path).with_name(f"{first.sha256}.json")
    assert json.loads(sidecar.read_text("utf-8")) == {
        "sha256": first.sha256,
        "size_bytes": len(DATA),
        "first_source_id": "kita_betreuung",
        "first_file_name": "Lieferung März.csv",
        "first_origin": "inbox:Lieferung März.csv",
        "received_at": "2024-05-06T07:08:09+00:00",
        "run_id": "run-1",
    }
    assert "Lieferung März.csv" in sidecar.read_text("utf-8")  # not \u-escaped


def test_manifest_has_one_line_per_new_source_and_payload(tmp_path: Path) -> None:
    archive = RawArchive(tmp_path)
    archive.store(payload(), RECEIVED, "run-1")
    archive.store(payload(), RECEIVED, "run-2")  # same source, same bytes: nothing new
    shared = archive.store(payload(source_id="other_source"), RECEIVED, "run-3")
    archive.store(payload(source_id="other_source"), RECEIVED, "run-4")
    archive.store(payload(b"other bytes", name="c.csv"), RECEIVED, "run-5")

    assert shared.newly_stored is False  # the bytes were known, only the pair is new
    lines = manifest_lines(archive)
    assert [(line["source_id"], line["run_id"]) for line in lines] == [
        ("kita_betreuung", "run-1"),
        ("other_source", "run-3"),
        ("kita_betreuung", "run-5"),
    ]
    assert lines[0] == {
        "sha256": hashlib.sha256(DATA).hexdigest(),
        "source_id": "kita_betreuung",
        "file_name": "a.csv",
        "origin": "inbox:a.csv",
        "size_bytes": len(DATA),
        "received_at": "2024-05-06T07:08:09+00:00",
        "run_id": "run-1",
    }
    assert lines[2]["sha256"] == hashlib.sha256(b"other bytes").hexdigest()
    assert len(list((tmp_path / "raw" / "sha256").rglob("*.json"))) == 2


def test_a_file_name_cannot_steer_where_bytes_are_stored(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    archive = RawArchive(data_dir)
    evil = Payload("kita_betreuung", "../../escape.csv", "inbox:x", Path("x"), b"1;2\n")
    result = archive.store(evil, RECEIVED, "run-1")
    assert result.relative_path.startswith("raw/sha256/")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
    assert not list(tmp_path.rglob("escape.csv"))


# --- the inbox -------------------------------------------------------------------------------


def test_inbox_files_takes_only_regular_visible_complete_files(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox" / "kita_betreuung"
    (inbox / "processed").mkdir(parents=True)
    (inbox / "rejected").mkdir()
    touch(inbox / "processed" / "old.csv", b"1", 100)
    touch(inbox / "good.csv", b"1", 200)
    touch(inbox / ".hidden.csv", b"1", 200)
    for name in ("upload.csv.part", "upload.csv.tmp", "dl.csv.crdownload", "x.csv.partial"):
        touch(inbox / name, b"1", 200)
    outside = touch(tmp_path / "outside.csv", b"1", 50)
    (inbox / "link.csv").symlink_to(outside)
    (inbox / "folder.csv").mkdir()
    assert inbox_files(inbox) == [inbox / "good.csv"]


def test_inbox_files_oldest_first_then_by_name(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    touch(inbox / "c.csv", b"1", 300)
    touch(inbox / "z.csv", b"1", 100)
    touch(inbox / "b.csv", b"1", 200)
    touch(inbox / "a.csv", b"1", 200)
    assert [p.name for p in inbox_files(inbox)] == ["z.csv", "a.csv", "b.csv", "c.csv"]


def test_inbox_files_of_a_missing_folder_is_empty(tmp_path: Path) -> None:
    assert inbox_files(tmp_path / "no-such-inbox") == []


def test_inbox_payload_file_name_is_a_base_name(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox" / "kita_betreuung"
    inbox.mkdir(parents=True)
    # a backslash is legal on POSIX: a Windows path kept in the name is a delivery too
    names = ["a..b.csv", "x\\..\\..\\evil.csv", "..\\..\\dotdot.csv"]
    for i, name in enumerate(names):
        touch(inbox / name, name.encode(), 100 + i)
    touch(inbox / ".hidden.csv", b"1", 50)  # a dot file: not a delivery
    touch(inbox / ".~lock.kita.csv#", b"1", 51)
    source = load_registry()["kita_betreuung"].model_copy(update={"location": ()})
    payloads = collect_payloads(source, inbox)
    assert [p.file_name for p in payloads] == names
    for p in payloads:
        assert "/" not in p.file_name
        assert p.origin == f"inbox:{p.file_name}"
        assert p.from_inbox
        assert p.path.parent == inbox
        assert p.data == p.file_name.encode()
    archive = RawArchive(tmp_path / "data")
    for p in payloads:
        stored = archive.store(p, RECEIVED, "run-1")
        assert (
            (tmp_path / "data" / stored.relative_path)
            .resolve()
            .is_relative_to((tmp_path / "data" / "raw" / "sha256").resolve())
        )
    moved = move_out_of_inbox(payloads[1].path, "rejected", "bad")
    assert moved is not None
    assert moved.parent == inbox / "rejected"
    assert moved.name.endswith("_x\\..\\..\\evil.csv")
    assert not list(tmp_path.glob("*evil*"))


def test_collect_payloads_location_first_then_inbox(tmp_path: Path) -> None:
    source = load_registry()["kita_betreuung"]
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    touch(inbox / "korrektur.csv", b"x", 100)
    payloads = collect_payloads(source, inbox)
    assert [p.file_name for p in payloads] == [
        "SYNTHETISCH_kindertagesbetreuung_nrw_2013-2024.csv",
        "SYNTHETISCH_kindertagesbetreuung_berichtigung_2024.csv",
        "korrektur.csv",
    ]
    assert payloads[0].origin == (
        "demo:demo/deliveries/kita_betreuung/SYNTHETISCH_kindertagesbetreuung_nrw_2013-2024.csv"
    )
    assert not payloads[0].from_inbox
    assert payloads[2].origin == "inbox:korrektur.csv"
    assert all(p.source_id == "kita_betreuung" for p in payloads)


# --- after staging ---------------------------------------------------------------------------


def test_move_to_processed_without_error_file(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    delivered = touch(inbox / "lieferung.csv", b"1;2\n", 100)
    target = move_out_of_inbox(delivered, "processed", "ignored for processed files")
    assert target is not None
    assert target.parent == inbox / "processed"
    assert target.name.endswith("_lieferung.csv")
    stamp = target.name.removesuffix("_lieferung.csv")
    assert dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ")
    assert target.read_bytes() == b"1;2\n"
    assert not delivered.exists()
    assert sorted(p.name for p in (inbox / "processed").iterdir()) == [target.name]


def test_move_to_rejected_writes_the_reason(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    delivered = touch(inbox / "ohne_fhr.csv", b"1;2\n", 100)
    message = "ohne_fhr.csv, line 1, column 'mit Fachhochschulreife': missing column"
    german = "ohne_fhr.csv, Zeile 1, Spalte 'mit Fachhochschulreife': Spalte fehlt"
    target = move_out_of_inbox(delivered, "rejected", message, german)
    assert target is not None
    assert target.parent == inbox / "rejected"
    error = target.with_name(target.name + ".error.txt")
    # German for the partner first, English for the office below a clear divider
    assert error.read_text("utf-8") == (
        "Die Lieferung ohne_fhr.csv wurde abgelehnt; nichts aus ihr wurde übernommen.\n\n"
        f"Grund:\n{german}\n\n"
        "Was tun: die Datei korrigieren und erneut liefern. Vorher lässt sich jede Datei mit "
        "dem Prüfprogramm prüfen (bildungsmonitor screen DATEI --source KENNUNG); bei Fragen "
        "hilft die Geschäftsstelle.\n\n"
        "--- English (for the backbone office) ---\n"
        "The delivery ohne_fhr.csv was rejected; nothing of it was loaded.\n"
        f"Reason: {message}\n"
    )
    assert sorted(p.name for p in (inbox / "rejected").iterdir()) == [target.name, error.name]
    assert not (inbox / "processed").exists()


def test_move_to_rejected_without_message_writes_no_error_file(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    target = move_out_of_inbox(touch(inbox / "a.csv", b"1", 100), "rejected")
    assert target is not None
    assert [p.name for p in (inbox / "rejected").iterdir()] == [target.name]


def test_move_of_a_vanished_file_returns_none(tmp_path: Path) -> None:
    assert move_out_of_inbox(tmp_path / "gone.csv", "processed") is None
    assert not (tmp_path / "processed").exists()


def test_moved_files_are_no_longer_in_the_inbox(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    first = touch(inbox / "a.csv", b"1", 100)
    second = touch(inbox / "b.csv", b"2", 200)
    move_out_of_inbox(first, "processed")
    move_out_of_inbox(second, "rejected", "why")
    assert inbox_files(inbox) == []


@pytest.mark.parametrize("verdict", ["processed", "rejected"])
def test_archive_keeps_bytes_after_the_move(tmp_path: Path, verdict: str) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    delivered = touch(inbox / "a.csv", b"payload", 100)
    archive = RawArchive(tmp_path / "data")
    stored = archive.store(
        Payload("s_id", delivered.name, "inbox:a.csv", delivered, delivered.read_bytes()),
        RECEIVED,
        "run-1",
    )
    move_out_of_inbox(delivered, verdict, "why")
    assert archive.read(stored.sha256) == b"payload"


def test_two_files_of_the_same_name_in_one_second_both_survive_the_move(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    first = inbox / "kita.csv"
    first.write_bytes(b"first")
    one = move_out_of_inbox(first, "processed")
    first.write_bytes(b"second")
    two = move_out_of_inbox(first, "processed")
    assert one != two
    assert {one.read_bytes(), two.read_bytes()} == {b"first", b"second"}


def test_a_missing_sidecar_is_written_on_the_next_store(tmp_path: Path) -> None:
    archive = RawArchive(tmp_path)
    now = dt.datetime(2026, 1, 1)
    stored = archive.store(payload(), now, "run-1")
    sidecar = archive.path_for(stored.sha256).with_name(f"{stored.sha256}.json")
    sidecar.unlink()  # as after a crash between payload and sidecar
    again = archive.store(payload(), now, "run-2")
    assert not again.newly_stored
    assert json.loads(sidecar.read_text())["run_id"] == "run-2"


@pytest.mark.parametrize("odd", ["link", "file"])
def test_a_verdict_folder_that_is_a_link_or_a_file_is_never_moved_into(
    tmp_path: Path, odd: str
) -> None:
    """A `processed` made a link (out of the data directory) or a file after the delivery
    arrived: the file stays in the inbox, nothing is written through the link."""
    inbox = tmp_path / "data" / "inbox" / "kita_betreuung"
    inbox.mkdir(parents=True)
    delivered = inbox / "kita.csv"
    delivered.write_bytes(b"a;b\n1;2\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    if odd == "link":
        (inbox / "processed").symlink_to(outside, target_is_directory=True)
    else:
        (inbox / "processed").write_text("not a folder")
    assert move_out_of_inbox(delivered, "processed") is None
    assert delivered.read_bytes() == b"a;b\n1;2\n"
    assert list(outside.iterdir()) == []
    # a real folder still takes it
    (inbox / "processed").unlink()
    moved = move_out_of_inbox(delivered, "processed")
    assert moved is not None and moved.parent == inbox / "processed" and not delivered.exists()
