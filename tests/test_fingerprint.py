"""The demo's published figures are exactly those of the committed fingerprint.

A rebuild of the delivery path (readers, mapping, validation, SQL) must not change one
published figure. When a change of figures is intended — an indicator added to the catalogue
(docs/indicators.md, "Adding an indicator"), new demo data — record the new fingerprint with

    UPDATE_SNAPSHOTS=1 ./go test tests/test_fingerprint.py

(it runs the demo, writes tests/snapshots/demo_fingerprint.json) and say why in the commit.

The targets are not figures of the data: the backbone office sets them in
schemas/indicators.yaml. The fingerprint leaves them out, and the second test checks the
published targets, distances and `target_reached` against the YAML, so that a target changed
as docs/indicators.md says ("Changing a target") needs no new fingerprint.
"""

from __future__ import annotations

import json
import math
import os

import duckdb
import pytest

from schemas.catalogue import load_catalogue
from tests.conftest import DemoRuns
from tests.fingerprint import SNAPSHOT, fingerprint


@pytest.mark.slow
def test_every_published_table_matches_the_fingerprint(demo_runs: DemoRuns) -> None:
    actual = fingerprint(demo_runs.published)
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(actual, indent=2) + "\n", encoding="utf-8")
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    differing = {
        table: {"expected": expected[table], "actual": actual[table]}
        for table in expected
        if actual.get(table) != expected[table]
    }
    assert not differing, json.dumps(differing, indent=2)


@pytest.mark.slow
def test_published_targets_follow_the_catalogue(published: duckdb.DuckDBPyConnection) -> None:
    """marts.indicators and every row of marts.indicator_trends carry the target of the YAML;
    the distance to it and whether it is reached follow from the value and that target."""
    catalogue = load_catalogue()
    targets = {i.id: (i.target_value, i.target_year) for i in catalogue.indicators.values()}
    rows = published.execute(
        "SELECT indicator_id, target_value, target_year FROM marts.indicators"
    ).fetchall()
    assert {indicator: (value, year) for indicator, value, year in rows} == targets

    trends = published.execute(
        "SELECT indicator_id, value, direction, target_value, target_year, distance_to_target, "
        "target_reached FROM marts.indicator_trends"
    ).fetchall()
    assert {row[0] for row in trends} == set(targets)
    checked = 0
    for indicator_id, value, direction, target, year, distance, is_reached in trends:
        indicator = catalogue.indicators[indicator_id]
        assert (direction, target, year) == (
            indicator.direction,
            indicator.target_value,
            indicator.target_year,
        ), indicator_id
        if value is None:
            assert distance is None and is_reached is None, indicator_id
            continue
        to_go = target - value if direction == "up" else value - target
        assert math.isclose(distance, to_go, rel_tol=1e-12, abs_tol=1e-9), indicator_id
        assert is_reached == (to_go <= 0), (indicator_id, value, target)
        checked += 1
    assert checked > len(trends) / 2
