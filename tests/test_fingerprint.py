"""The demo's published figures are exactly those of the committed fingerprint.

A rebuild of the delivery path (readers, mapping, validation, SQL) must not change one
published figure. When a change of figures is intended, regenerate the snapshot with
`python -m tests.fingerprint <publication> > tests/snapshots/demo_fingerprint.json` and say
why in the commit.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import DemoRuns
from tests.fingerprint import SNAPSHOT, fingerprint


@pytest.mark.slow
def test_every_published_table_matches_the_fingerprint(demo_runs: DemoRuns) -> None:
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    actual = fingerprint(demo_runs.published)
    differing = {
        table: {"expected": expected[table], "actual": actual[table]}
        for table in expected
        if actual.get(table) != expected[table]
    }
    assert not differing, json.dumps(differing, indent=2)
