"""The Great Expectations glue: suites load, outcomes follow PASS / WARNING / FAIL with
`mostly`, failing rows come back with filled-in reasons. The glue reads GX result internals,
so the pinned GX version and the result structure are asserted here: an upgrade that changes
them fails loudly instead of silently quarantining nothing."""

from __future__ import annotations

import json
from importlib.metadata import version

import pandas as pd
import pytest

from expectations.runner import SUITES_DIR, suite_specs, validate
from expectations.validation import validate_records, wide_frame

SUITES = sorted(p.stem for p in SUITES_DIR.glob("*.json"))
TOWNS = [
    f"05562{n}" for n in ("004", "008", "012", "014", "016", "020", "024", "028", "032", "036")
]


def records(n: int = 20, **changes) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "row_id": range(n),
            "measure": ["leavers_total"] * n,
            "unit": ["count"] * n,
            "region_code": [TOWNS[i] if i < 10 else "05513000" for i in range(n)],
            "region_label": [""] * n,
            "school_number": [""] * n,
            "school_year": [f"{2010 + i}/{(11 + i) % 100:02d}" for i in range(n)],
            "start_year": pd.array([2010 + i for i in range(n)], dtype="Int64"),
            "sex": ["total"] * n,
            "nationality": ["total"] * n,
            "value": [100.0 + i for i in range(n)],
            "status": ["ok"] * n,
            "raw_value": [str(100 + i) for i in range(n)],
            "source_line": range(2, n + 2),
            "source_column": ["Abgänger"] * n,
            "problem": [None] * n,
        }
    )
    for column, (index, value) in changes.items():
        frame.loc[index, column] = value
    return frame


def test_great_expectations_is_the_pinned_version() -> None:
    # runner.py reads result["unexpected_index_list"]: re-check this file when upgrading GX
    assert version("great-expectations") == "1.24.1"


def test_gx_returns_failing_rows_with_their_row_ids() -> None:
    frame = records(20, region_code=(3, "05999999"))
    outcomes = {
        o.name: o
        for o in validate(
            "canonical_records",
            frame,
            {
                "known_region_codes": sorted(set(frame.region_code) - {"05999999"}),
                "known_measures": ["leavers_total"],
                "latest_start_year": 2030,
            },
        )
    }
    known = outcomes["canonical_records_known_region_keys"]
    assert known.reasons == {
        3: "line 5: unknown region key '05999999' (expected an official key "
        "of schemas/regions.csv, e.g. 05513000)"
    }
    assert known.outcome == "WARNING" and known.unexpected_count == 1
    assert outcomes["canonical_records_unique_keys"].outcome == "PASS"


def test_mostly_turns_many_failures_into_a_blocking_fail() -> None:
    frame = records(20)
    for i in range(5):  # 25 % negative counts: beyond mostly 0.9
        frame.loc[i, "value"] = -1.0
    outcome = next(
        o
        for o in validate(
            "canonical_records",
            frame,
            {
                "known_region_codes": sorted(set(frame.region_code)),
                "known_measures": ["leavers_total"],
                "latest_start_year": 2030,
            },
        )
        if o.name == "canonical_records_non_negative_counts"
    )
    assert outcome.outcome == "FAIL" and outcome.severity == "ERROR"
    assert outcome.unexpected_count == 5
    assert "counts are not negative: 5 of 20 failed" in outcome.message


def test_duplicates_and_pairs_on_the_wide_frame() -> None:
    long = pd.concat(
        [
            records(12),
            records(12).assign(measure="leavers_without_hsa", value=5.0),
        ],
        ignore_index=True,
    )
    long["row_id"] = range(len(long))
    long.loc[14, "value"] = 500.0  # numerator above denominator on one line
    for column in ("region_code", "school_year", "start_year"):  # row 23 repeats row 12's key
        long.loc[23, column] = long.loc[12, column]
    result = validate_records(long, ("school_leavers",))
    reasons = {row: reason for row, (_, reason) in result.quarantine.items()}
    assert "leavers without Hauptschulabschluss (500) exceed all leavers (102)" in reasons[14]
    assert reasons[2] == reasons[14]  # the whole line (both measures) is held back
    assert "duplicate key" in reasons[23] and "duplicate key" in reasons[12]
    wide, row_map = wide_frame(long)
    assert set(wide.columns) >= {"leavers_total", "leavers_without_hsa", "row_id", "source_line"}
    # a wide row gathers the records of its key: the duplicated key has three
    assert sorted(len(v) for v in row_map.values())[-2:] == [2, 3]


@pytest.mark.parametrize("suite", SUITES)
def test_every_suite_is_valid_and_names_its_checks(suite: str) -> None:
    spec = json.loads((SUITES_DIR / f"{suite}.json").read_text())
    assert spec["name"] == suite
    assert spec["meta"]["applies_to"] in ("records", "wide", "rows")
    names = [s.name for s in suite_specs(suite)]
    assert len(names) == len(set(names)) == len(spec["expectations"])
    for expectation in spec["expectations"]:
        assert expectation["severity"] in ("critical", "warning")
        assert expectation["meta"]["description"]


@pytest.mark.parametrize("suite", SUITES)
def test_every_suite_builds_in_great_expectations(suite: str) -> None:
    from expectations.runner import _validation_definition

    definition = _validation_definition(suite, "frame")
    assert len(definition.suite.expectations) == len(suite_specs(suite))
