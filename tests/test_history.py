"""History (issue 9): every statement of a source kept with valid-from / valid-to, `revisions`
counting changes of value, a re-sent earlier delivery reverting to it, and the publication
answering "what did it say then?" in the analysts' DuckDB 1.5 client."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from schemas.catalogue import load_catalogue
from sources.registry import load_registry
from tests.conftest import REPO, DemoRuns, copy_data_dir, run_cli
from warehouse.build import (
    build_measure_revisions,
    load_catalogue_tables,
    load_regions_table,
    load_sources_table,
)
from warehouse.db import DataPaths, init_schema
from warehouse.fingerprints import build_if_changed
from warehouse.ingest import ingest_source
from warehouse.staging import stage_source

KITA = REPO / "sources/demo/deliveries/kita_betreuung"
CORRECTION = KITA / "SYNTHETISCH_kindertagesbetreuung_berichtigung_2024.csv"
ESSEN_U3 = (
    "SELECT value, revisions, file_name FROM core.measure_revisions WHERE is_current "
    "AND measure = 'daycare_children_u3' AND region_code = '05113000' AND sex = 'total' "
    "AND nationality = 'total'"
)


def test_resending_an_earlier_delivery_makes_it_current_again(tmp_path: Path) -> None:
    """Three files through the inbox: the first, a second that changes Essen, the first's bytes
    again (a revert: current again, recorded, archived once), and once more (nothing)."""
    source = load_registry()["kita_betreuung"].model_copy(update={"location": ()})
    registry = {source.id: source}
    first = CORRECTION.read_bytes()
    assert b";05113000;Essen;6091;" in first
    second = first.replace(b";05113000;Essen;6091;", b";05113000;Essen;6150;")
    paths = DataPaths(tmp_path / "data")
    paths.work_db.parent.mkdir(parents=True)
    inbox = paths.inbox_for(source.id)
    inbox.mkdir(parents=True)
    with duckdb.connect(str(paths.work_db)) as conn:
        init_schema(conn)
        load_regions_table(conn)
        load_catalogue_tables(conn, load_catalogue())
        load_sources_table(conn, registry)

        def night(number: int, file_name: str, payload: bytes):
            (inbox / file_name).write_bytes(payload)
            summary = ingest_source(conn, source, paths, f"run-{number}")
            stage_source(conn, source, paths, f"run-{number}", registry=registry)
            # as the pipeline builds it: only when what it is made of changed
            rebuilt = build_if_changed(
                conn, "core.measure_revisions", registry, f"run-{number}",
                lambda: build_measure_revisions(conn),
            )  # fmt: skip
            assert rebuilt == (number < 4), number  # a revert is a change; the 4th night is not
            assert not (inbox / file_name).exists()  # out of the inbox, whatever the verdict
            return summary, conn.execute(ESSEN_U3).fetchall()

        assert night(1, "kita_2024.csv", first)[1] == [(6091.0, 0, "kita_2024.csv")]
        assert night(2, "kita_2024_neu.csv", second)[1] == [(6150.0, 1, "kita_2024_neu.csv")]
        summary, essen = night(3, "kita_2024_doch_alt.csv", first)
        assert summary.reverted == ["kita_2024_doch_alt.csv"] and not summary.new
        assert essen == [(6091.0, 2, "kita_2024.csv")]  # two changes of value
        events = conn.execute(
            "SELECT event_seq, event, file_name, detail FROM meta.delivery_events"
        ).fetchall()
        assert len(events) == 1 and events[0][:3] == (3, "revert", "kita_2024_doch_alt.csv")
        assert events[0][3].startswith("same bytes as kita_2024.csv (received ")
        assert events[0][3].endswith(
            "sent again after kita_2024_neu.csv: its values are current again"
        )
        log = conn.execute(
            "SELECT action, count(*) FROM meta.delivery_log GROUP BY 1 ORDER BY 1"
        ).fetchall()
        assert log == [("archived", 2), ("parsed", 2), ("reverted", 1)]
        stored = [p for p in (paths.root / "raw" / "sha256").rglob("*") if len(p.name) == 64]
        assert len(stored) == 2  # the bytes once
        history = conn.execute(
            "SELECT value, event, valid_from, valid_to, revision, is_current "
            "FROM core.measure_history WHERE measure = 'daycare_children_u3' "
            "AND region_code = '05113000' AND sex = 'total' AND nationality = 'total' "
            "ORDER BY revision"
        ).fetchall()
        assert [(v, e, r, c) for v, e, _, _, r, c in history] == [
            (6091.0, "received", 1, False),
            (6150.0, "received", 2, False),
            (6091.0, "revert", 3, True),
        ]
        # each statement holds until the next one, the last one still holds
        assert [h[3] for h in history] == [history[1][2], history[2][2], None]
        # a municipality the second file did not change: the same value thrice, no revision
        kleve = conn.execute(
            ESSEN_U3.replace("05113000", "05154036").replace("value, revisions", "revisions")
        ).fetchall()
        assert kleve == [(0, "kita_2024.csv")]

        # the current delivery sent once more: nothing changes
        summary, essen = night(4, "kita_2024_nochmal.csv", first)
        assert summary.unchanged == ["kita_2024_nochmal.csv"] and not summary.reverted
        assert essen == [(6091.0, 2, "kita_2024.csv")]
        assert conn.execute("SELECT count(*) FROM meta.delivery_events").fetchone()[0] == 1


@pytest.mark.slow
def test_the_publication_says_what_it_said_before_a_revision(
    demo_runs: DemoRuns, tmp_path: Path
) -> None:
    """A correction arrives the next night; marts.indicator_values_as_of, in duckdb-cli 1.5,
    returns the old value for a moment before it and the new one after."""
    data = copy_data_dir(demo_runs, tmp_path / "data")
    published = data / "published" / "bildungsmonitor.duckdb"
    query = (
        "SELECT value FROM marts.indicator_values WHERE indicator_id = 'betreuungsquote_u3' "
        "AND region_code = '05113000' AND school_year = '2023/24' AND sex = 'total' "
        "AND nationality = 'total'"
    )
    with duckdb.connect(str(published), read_only=True) as conn:
        (before,) = conn.execute(query).fetchone()
        (first_published,) = conn.execute("SELECT published_at FROM meta.publication").fetchone()
    inbox = data / "inbox" / "kita_betreuung"
    inbox.mkdir(parents=True, exist_ok=True)
    header = CORRECTION.read_bytes().splitlines()[0]
    (inbox / "korrektur_essen.csv").write_bytes(
        header + b"\n01.03.2024;05113000;Essen;7000;16414\n"
    )
    run = run_cli(data)
    assert run.returncode == 0, run.output
    with duckdb.connect(str(published), read_only=True) as conn:
        (after,) = conn.execute(query).fetchone()
        (second_published,) = conn.execute("SELECT published_at FROM meta.publication").fetchone()
    assert after > before and second_published > first_published

    cli = shutil.which("duckdb", path=str(Path(sys.executable).parent))
    assert cli, "the duckdb-cli package (dev dependency) provides the `duckdb` command"

    def as_of(moment: str) -> list[str]:
        sql = query.replace("marts.indicator_values", f"marts.indicator_values_as_of({moment})")
        done = subprocess.run(
            [cli, "-readonly", "-csv", "-noheader", str(published), "-c", sql],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0 and not done.stderr, done.stderr
        return done.stdout.split()

    assert subprocess.run([cli, "--version"], capture_output=True, text=True).stdout.startswith(
        "v1.5."
    )
    assert float(as_of(f"TIMESTAMP '{first_published}'")[0]) == pytest.approx(before)
    assert float(as_of(f"TIMESTAMP '{second_published}'")[0]) == pytest.approx(after)
    assert float(as_of("current_date")[0]) == pytest.approx(after)  # a date: its end
    assert as_of("DATE '2000-01-01'") == []  # nothing was published then
    with duckdb.connect(str(published), read_only=True) as conn:
        history = conn.execute(
            "SELECT value, valid_from, valid_to FROM marts.indicator_history "
            "WHERE indicator_id = 'betreuungsquote_u3' AND region_code = '05113000' "
            "AND school_year = '2023/24' AND sex = 'total' AND nationality = 'total' "
            "ORDER BY valid_from"
        ).fetchall()
        measures = conn.execute(
            "SELECT value, file_name, event, is_current, revisions FROM marts.measure_history "
            "WHERE measure = 'daycare_children_u3' AND region_code = '05113000' "
            "AND school_year = '2023/24' AND sex = 'total' AND nationality = 'total' "
            "ORDER BY revision"
        ).fetchall()
    # the old value as first published (the demo's first night), until this night
    assert history == [
        (pytest.approx(before), history[0][1], second_published),
        (pytest.approx(after), second_published, None),
    ]
    assert history[0][1] <= first_published
    assert [m[1:4] for m in measures][-1] == ("korrektur_essen.csv", "received", True)
    assert measures[-1][0] == 7000.0 and not any(m[3] for m in measures[:-1])
