"""The Great Expectations Data Docs of a run, looked at in a real (headless) Chromium without
internet access: they render, show every validated dataset and its failures, and the Dagster
assets link to them."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from expectations.data_docs import CDN, build, external_references
from expectations.validation import validate_records
from tests.browser import Browser, render
from tests.conftest import DemoRuns

FAILING_SOURCE = "docs_test_source"


def test_failed_records_show_as_failed_validations(tmp_path: Path) -> None:
    records = pd.DataFrame({
        "row_id": range(12), "measure": "leavers_total", "unit": "count",
        # 3 of 12 unknown keys: beyond the suite's `mostly` (90 %), so the validation fails
        "region_code": ["05513000"] * 9 + ["05999999"] * 3, "region_label": "",
        "school_number": "",
        "school_year": [f"{2010 + i}/{11 + i}" for i in range(12)],
        "start_year": pd.array([2010 + i for i in range(12)], dtype="Int64"),
        "sex": "total", "nationality": "total", "value": 100.0, "status": "ok",
        "raw_value": "100", "source_line": range(2, 14), "source_column": "c",
        "problem": pd.Series([None] * 12, dtype="string"),
        "problem_de": pd.Series([None] * 12, dtype="string"),
    })  # fmt: skip
    conn = duckdb.connect()
    conn.register("records", records)
    validation = validate_records(conn, "records", (), FAILING_SOURCE, "run-with-a-bad-key")
    assert any(o.outcome == "FAIL" for o in validation.outcomes)
    index = build(tmp_path / "docs")
    assert index is not None
    screenshot = tmp_path / "index.png"
    dom = render(index.as_uri(), screenshot)
    assert FAILING_SOURCE in dom and "run-with-a-bad-key" in dom
    row = next(part for part in dom.split("<tr") if FAILING_SOURCE in part
               and "run-with-a-bad-key" in part)  # fmt: skip
    assert "fa-times" in row and "text-danger" in row  # the failed-status icon
    assert screenshot.stat().st_size > 20_000  # a rendered page, not a blank one
    # the validation page names the unexpected key
    page = next((tmp_path / "docs" / "validations" / "canonical_records").rglob(
        f"*{FAILING_SOURCE}.html"))  # fmt: skip
    assert "05999999" in render(page.as_uri())


@pytest.mark.slow
def test_every_source_of_the_demo_run_is_in_its_data_docs(demo_runs: DemoRuns) -> None:
    index = demo_runs.data_dir / "reports" / "data_docs" / demo_runs.first.run_id / "index.html"
    html = index.read_text(encoding="utf-8")
    for url in CDN:  # the page works offline: no library comes from a CDN
        assert url not in html
    dom = render(index.as_uri())
    assert "bootstrap-table" in dom  # the table was built by its (vendored) script
    datasets = ("itnrw_21111_9k21", "regionalstatistik_21111_01_03_4", "kita_betreuung",
                "schulabgaenger_abschlussart", "bevoelkerung_kinder", "lernfoerderung",
                "nrw_schuldaten", "nrw_schulsozialindex", "marts_indicator_values")  # fmt: skip
    for dataset in datasets:
        assert dataset in dom, dataset
    assert demo_runs.first.run_id in dom  # the Dagster run names the validations
    # the static files (GX's and the vendored ones) are shared by every run, not copied
    run_folder = index.parent
    assert not (run_folder / "static").exists()
    (shared,) = (run_folder.parent / "_shared").glob("gx-*")
    assert (shared / "vendor" / "jquery-3.7.1.min.js").exists() and (shared / "images").is_dir()
    # its own pages (about 1 MB); the static files were another 5 MB per run
    assert sum(p.stat().st_size for p in run_folder.rglob("*") if p.is_file()) < 2_000_000


@pytest.mark.slow
def test_the_staging_assets_link_their_data_docs(demo_runs: DemoRuns) -> None:
    instance = dg.DagsterInstance.from_config(str(demo_runs.data_dir / "dagster_home"))
    event = instance.get_latest_materialization_event(dg.AssetKey(["staging", "kita_betreuung"]))
    # the second run had no new delivery: the link is on the first run's materialization
    records = instance.fetch_materializations(
        dg.AssetKey(["staging", "kita_betreuung"]), limit=10
    ).records
    links = [r.asset_materialization.metadata["data_docs"].value for r in records
             if "data_docs" in r.asset_materialization.metadata]  # fmt: skip
    assert event is not None and len(links) == 1
    assert links[0].startswith("file://") and links[0].endswith("/index.html")
    assert Path(links[0][len("file://") :]).exists()
    assert demo_runs.first.run_id in links[0]


@pytest.mark.slow
def test_the_data_docs_send_no_request_off_the_machine(demo_runs: DemoRuns) -> None:
    """Opened with every host name unresolvable: nothing is asked of the network, nothing
    fails to load, the console stays clean — the index, a validation and a suite page."""
    site = demo_runs.data_dir / "reports" / "data_docs" / demo_runs.first.run_id
    assert external_references(site) == []
    pages = [
        site / "index.html",
        next((site / "validations").rglob("*kita_betreuung.html")),
        next((site / "expectations").rglob("*.html")),
    ]
    with Browser() as browser:
        for page in pages:
            visit = browser.visit(page.as_uri())
            assert visit.external() == [], page
            assert visit.failed == [] and visit.errors == [], (page, visit.failed, visit.errors)
            assert len(visit.requests) > 10  # the vendored scripts, styles and images
        browser.visit((site / "index.html").as_uri())
        # the table was built by the vendored bootstrap-table, with a row per validation
        assert browser.evaluate("document.querySelectorAll('.bootstrap-table tbody tr').length") > 5
