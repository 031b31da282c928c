"""benchmarks/: the national dataset generator, the DuckDB-alone reference, the measuring and
the whole `python -m benchmarks` command at a tiny size. No timings are asserted here: speed
goals live in the benchmark (docs/performance.md), never in tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from benchmarks import dataset as ds
from benchmarks.cli import JSON_KEYS, reference_command
from benchmarks.measure import run_measured
from benchmarks.reference import run as run_reference
from expectations.validation import validate_records
from sources.delivery import read_payload, records_relation
from sources.registry import Source, load_registry, load_source

REPO = Path(__file__).resolve().parents[1]
DEMO = load_registry(REPO / "sources" / "registry" / "demo")


def _relation(conn: duckdb.DuckDBPyConnection, path: Path, source: Source) -> str:
    """The file's canonical records as the pipeline makes them (a temporary table)."""
    return records_relation(conn, read_payload(source, path, path.name, conn), source)


def _records(files: dict[str, ds.Written], source_id: str) -> pd.DataFrame:
    with duckdb.connect() as conn:
        return conn.table(_relation(conn, files[source_id].path, DEMO[source_id])).df()


def _validate(path: Path, source: Source) -> tuple[int, set[str], list[str]]:
    """(records held back, their checks, blocking failures) as the pipeline validates."""
    with duckdb.connect() as conn:
        validation = validate_records(
            conn, _relation(conn, path, source), source.expectations, gx=False
        )
        checks: set[str] = set()
        if validation.quarantine:
            query = f"SELECT DISTINCT check_name FROM {validation.quarantine}"
            checks = {name for (name,) in conn.execute(query).fetchall()}
        return validation.quarantined, checks, [o.name for o in validation.blocking_failures]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[ds.Shape, dict[str, ds.Written]]:
    """~200 records asked for: the smallest dataset, one Gemeinde in the 10M shape."""
    shape = ds.shape_for("200")
    return shape, ds.generate(tmp_path_factory.mktemp("tiny"), shape)


@pytest.fixture(scope="module")
def nine_lines(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ds.Written]:
    """The 30M shape's leaver lines (sex × nationality) for the Ruhr's first Gemeinden."""
    shape = ds.Shape("test", ds.YEARS_30M, 9, 4, ("RVR",), stream=30)
    return ds.generate(tmp_path_factory.mktemp("nine"), shape)


# --- sizes and shapes ----------------------------------------------------------------------------


def test_sizes_and_shapes() -> None:
    assert ds.parse_size("10M") == 10_000_000
    assert ds.parse_size("20k") == 20_000
    assert ds.parse_size("1.5M") == 1_500_000
    assert ds.parse_size("200") == 200
    with pytest.raises(ValueError, match="expected a number"):
        ds.parse_size("big")
    national = ds.shape_for("10M")
    assert (national.gemeinden, len(national.years), national.subgroup_lines) == (10_787, 20, 3)
    assert national.expected_records() == 10_571_260
    largest = ds.shape_for("30M")
    assert (largest.gemeinden, len(largest.years), largest.subgroup_lines) == (10_787, 31, 9)
    assert largest.expected_records() == 30_430_127
    assert ds.RECORDS_PER_GEMEINDE == 980
    one = ds.shape_for("1M")
    assert (one.gemeinden, one.expected_records()) == (1_020, 999_600)
    assert ds.shape_for("3M").expected_records() == 2_999_780
    assert ds.shape_for("200").gemeinden == 1
    ruhr = ds.shape_for("10M", ("RVR",))
    assert (ruhr.gemeinden, ruhr.key) == (53, "10M-RVR")


# --- the deliveries -----------------------------------------------------------------------------


def test_tiny_dataset_reads_and_maps_with_the_demo_entries(tiny) -> None:
    shape, files = tiny
    assert sum(w.records for w in files.values()) == shape.expected_records() == 980
    for source_id in ds.SOURCE_IDS:
        records = _records(files, source_id)
        assert len(records) == files[source_id].records, source_id
        assert records["problem"].isna().all(), records["problem"].dropna().head().tolist()
        assert set(records["region_code"]) == {"01001000"}
        assert set(records["status"]) <= {"ok", "not_applicable"}, source_id
        assert records["start_year"].min() == 2005 and records["start_year"].max() == 2024


def test_files_are_byte_compatible_with_the_demo_deliveries(tiny) -> None:
    _, files = tiny
    demo = REPO / "sources" / "demo"
    leavers = files[ds.LEAVERS].path.read_bytes()
    demo_leavers = (demo / "deliveries" / "schulabgaenger").glob("*.csv")
    assert leavers.split(b"\r\n")[0] == next(demo_leavers).read_bytes().split(b"\r\n")[0]
    assert leavers.endswith(b"\r\n") and b"\n" not in leavers.replace(b"\r\n", b"")
    leavers.decode("cp1252")
    for source_id, folder in ((ds.KITA, "kita_betreuung"), (ds.POPULATION, "bevoelkerung_kinder")):
        data = files[source_id].path.read_bytes()
        sample = sorted((demo / "deliveries" / folder).glob("*.csv"))[0].read_bytes()
        assert data.startswith(b"\xef\xbb\xbf") and b"\r" not in data
        assert data.split(b"\n")[0] == sample.split(b"\n")[0]
    table = files[ds.SCHOOLS].path.read_bytes().split(b"\n")
    official = ds.GENESIS_DEMO.read_bytes().split(b"\n")
    assert table[: ds.GENESIS_HEADER_LINES] == official[: ds.GENESIS_HEADER_LINES]
    footer = next(i for i, line in enumerate(official) if line.startswith(b"__________"))
    assert table[-(len(official) - footer) :] == official[footer:]
    assert table[ds.GENESIS_HEADER_LINES].startswith(b"2005;01001000;        Flensburg")


def test_values_are_consistent_and_pass_the_suites(nine_lines) -> None:
    files = nine_lines
    assert files[ds.LEAVERS].lines == 4 * 31 * 9
    frames = {sid: _records(files, sid) for sid in ds.SOURCE_IDS}
    key = ["region_code", "start_year"]

    leavers = frames[ds.LEAVERS].pivot_table(
        index=[*key, "sex", "nationality"], columns="measure", values="value"
    )
    parts = ["leavers_without_hsa", "leavers_hsa", "leavers_msa", "leavers_fhr", "leavers_abitur"]
    assert (leavers[parts].sum(axis=1) == leavers["leavers_total"]).all()
    some = leavers[leavers["leavers_total"] > 0]
    tenths = (2000 * some["leavers_without_hsa"] + some["leavers_total"]) // (
        2 * some["leavers_total"]
    )  # 100 × without / total, one decimal, half up
    assert ((some["leavers_without_hsa_share"] * 10).round() == tenths).all()
    totals = leavers["leavers_total"].unstack(["sex", "nationality"])
    for nationality in ("total", "german", "foreign"):
        assert (
            totals[("female", nationality)] + totals[("male", nationality)]
            == totals[("total", nationality)]
        ).all()
    for sex in ("total", "female", "male"):
        assert (totals[(sex, "german")] + totals[(sex, "foreign")] == totals[(sex, "total")]).all()

    children = pd.concat([frames[ds.KITA], frames[ds.POPULATION]]).pivot_table(
        index=key, columns="measure", values="value"
    )
    assert (children["daycare_children_u3"] <= children["population_u3"]).all()
    assert (children["daycare_children_3_6"] <= children["population_3_6"]).all()
    rate = children["daycare_children_u3"].sum() / children["population_u3"].sum()
    assert 0.02 < rate < 0.6

    schools = frames[ds.SCHOOLS]
    pupils = schools[schools["measure"].str.startswith("pupils_")].pivot_table(
        index=[*key, "measure"], columns=["sex", "nationality"], values="value"
    )
    assert (pupils[("female", "total")] <= pupils[("total", "total")]).all()
    assert (pupils[("total", "foreign")] <= pupils[("total", "total")]).all()
    by_type = pupils[("total", "total")].unstack("measure")
    listed = [c for c in by_type.columns if c != "pupils_total"]
    assert (by_type[listed].sum(axis=1) <= by_type["pupils_total"]).all()
    schools_total = schools[schools["measure"] == "schools_total"]
    assert (schools_total["status"] == "not_applicable").all()  # 'x', as the real table

    for source_id in frames:
        held_back, checks, blocking = _validate(files[source_id].path, DEMO[source_id])
        assert (held_back, blocking) == (0, []), (source_id, checks)


def test_smaller_datasets_are_the_first_gemeinden_of_the_larger(tmp_path: Path) -> None:
    small = ds.generate(tmp_path / "a", ds.Shape("a", (2010, 2011), 3, 2))
    large = ds.generate(tmp_path / "b", ds.Shape("b", (2010, 2011), 3, 3))
    for source_id in ds.SOURCE_IDS:
        lines = set(large[source_id].path.read_bytes().splitlines())
        assert set(small[source_id].path.read_bytes().splitlines()) <= lines
        assert small[source_id].lines < large[source_id].lines
    again = ds.generate(tmp_path / "c", ds.Shape("c", (2010, 2011), 3, 2))
    for source_id in ds.SOURCE_IDS:
        assert again[source_id].path.read_bytes() == small[source_id].path.read_bytes()


def test_registry_is_the_demo_entry_pointed_at_the_bigger_file(tmp_path: Path) -> None:
    dataset = ds.prepare(tmp_path, ds.shape_for("200"))
    assert not dataset.cached
    for source_id in ds.SOURCE_IDS:
        path = dataset.registry / f"{source_id}.yaml"
        text = path.read_text(encoding="utf-8")
        assert f'extends: "{ds.DEMO_REGISTRY / f"{source_id}.yaml"}"' in text
        source = load_source(path)
        assert source.location == (str(dataset.files[source_id]),)
        assert source.location_paths() == [dataset.files[source_id]]
        assert source.coverage == "DG"
        demo = DEMO[source_id]
        assert source.territory == "today"  # every year keyed by today's Gemeinden
        changed = {"location", "coverage", "path", "territory"}
        for name in type(source).model_fields:
            if name not in changed:
                assert getattr(source, name) == getattr(demo, name), name


def test_datasets_are_cached_by_size_and_generator_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shape = ds.shape_for("200")
    first = ds.prepare(tmp_path, shape)
    second = ds.prepare(tmp_path, shape)
    assert second.cached and second.files == first.files and second.records == first.records
    manifest = json.loads((first.directory / "manifest.json").read_text())
    assert manifest["records"] == 980 and manifest["generator_version"] == ds.GENERATOR_VERSION
    monkeypatch.setattr(ds, "GENERATOR_VERSION", ds.GENERATOR_VERSION + 1)
    assert not ds.prepare(tmp_path, shape).cached
    other = ds.prepare(tmp_path, ds.shape_for("2k"))
    assert other.directory.name == "2k" and other.total_records == 1_960


def test_screen_delivery_has_3000_lines(tmp_path: Path) -> None:
    path = ds.screen_delivery(tmp_path)
    lines = path.read_bytes().split(b"\r\n")
    assert lines[-1] == b"" and len(lines) - 2 == 3000
    assert all(line.split(b";")[1].startswith(b"05") for line in lines[1:-1])
    assert ds.screen_delivery(tmp_path) == path


# --- the reference ------------------------------------------------------------------------------


def test_reference_checks_the_suites_rules_as_the_pipeline_does(tmp_path: Path) -> None:
    dataset = ds.prepare(tmp_path, ds.shape_for("200"))
    leavers = dataset.files[ds.LEAVERS]
    lines = leavers.read_bytes().decode("cp1252").split("\r\n")

    def edit(line: int, column: int, value: str) -> None:
        cells = lines[line].split(";")
        cells[column] = value
        lines[line] = ";".join(cells)

    edit(1, 5, "-3")  # a negative count (and parts above their total)
    edit(2, 1, "99999999")  # an unknown region key
    edit(3, 3, "divers")  # not one of the mapped sexes
    edit(4, 6, "x1")  # an unreadable cell
    edit(5, 10, str(int(lines[5].split(";")[5]) + 1))  # Abitur above all leavers
    leavers.write_bytes("\r\n".join(lines).encode("cp1252"))

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    command, database, _ = reference_command(dataset, run_dir)
    summary = run_reference(database, dict(arg.split("=", 1) for arg in command[5:]))
    failed = {c["check"]: c["failed"] for c in summary["checks"] if c["source_id"] == ds.LEAVERS}
    assert {k: v for k, v in failed.items() if v} == {
        "non_negative_counts": 1,
        "known_region_keys": 7,
        "readable_cells": 7 + 1,
        "numerator_le_denominator_dropout": 1,  # lines
        "numerator_le_denominator_abitur": 2,
    }
    assert summary["records_total"] == dataset.total_records
    assert not any(c["rejects_delivery"] for c in summary["checks"])

    # the pipeline's own validation holds back the very same records
    source = DEMO[ds.LEAVERS]
    held_back, checks, _ = _validate(leavers, source)
    assert summary["quarantined"] == held_back == 7 + 7 + 7 + 1 + 7
    pipeline_checks = {
        name.removeprefix("canonical_records_").removeprefix("school_leavers_") for name in checks
    }
    assert pipeline_checks == {check for check, count in failed.items() if count}


# --- measuring ----------------------------------------------------------------------------------


def test_run_measured_reports_peak_memory_and_times_out(tmp_path: Path) -> None:
    grow = "b = bytearray(200 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096])"
    done = run_measured(
        "grow", [sys.executable, "-c", grow], log=tmp_path / "grow.log", cwd=tmp_path
    )
    assert done.ok and done.peak_rss_mb >= 200
    hung = run_measured(
        "sleep",
        [sys.executable, "-c", "import time; time.sleep(60)"],
        log=tmp_path / "sleep.log",
        cwd=tmp_path,
        timeout=1,
    )
    assert hung.timed_out and not hung.ok


# --- the whole command --------------------------------------------------------------------------


@pytest.mark.slow
def test_benchmark_command_matches_the_reference(tmp_path: Path) -> None:
    """The pipeline and the reference on ~20k records (Hamburg, Bremen and the first Ruhr
    Gemeinden: Länder, Kreise and Gemeinden are complete): the same indicator values."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "BILDUNGSMONITOR_DATA_DIR")
    }
    completed = subprocess.run(
        [
            *(sys.executable, "-m", "benchmarks", "--size", "20k", "--regions", "02,04,RVR"),
            *("--work-dir", str(tmp_path), "--skip", "demo,rerun", "--query-runs", "20"),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    last = completed.stdout.strip().splitlines()[-1]
    figures = json.loads(last)
    assert set(JSON_KEYS) <= set(figures)
    assert figures["records"] == 19_600
    assert figures["indicator_values_matched"] > 0
    assert figures["indicator_values_mismatched"] == 0
    assert figures["indicator_values_only_pipeline"] == 0
    assert figures["indicator_values_only_reference"] == 0
    for key in ("pipeline_s", "reference_s", "ratio", "pipeline_peak_mb", "query_p50_ms"):
        assert figures[key] > 0, key
    assert figures["screen_exit"] in (0, 1) and figures["screen_s"] > 0
    assert figures["demo_s"] is None and figures["rerun_s"] is None
    assert "land" in output  # Hamburg and Bremen are complete: Land values compared too
