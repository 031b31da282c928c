"""Validate one delivery: which suites run on which frame, and which records to quarantine.

Suites declare in their `meta.applies_to` the frame they are written for:

    records  canonical records, one value per row (canonical_records.json, every measure source)
    wide     one row per region, school year and subgroup with one column per measure, so
             that a suite can compare measures of one line (numerator ≤ denominator)
    rows     the rows of a reference dataset (school directory, social index)

A failing wide row quarantines every record that went into it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from expectations.runner import ROW_ID, CheckOutcome, load_suite, validate
from schemas.catalogue import load_catalogue
from schemas.regions import official_region_codes
from schemas.tables import school_year_of_date

RECORD_SUITE = "canonical_records"
WIDE_KEY = ["region_code", "school_year", "sex", "nationality", "school_number"]


@dataclass
class DeliveryValidation:
    outcomes: list[CheckOutcome] = field(default_factory=list)
    # row id of the validated frame -> (check name, reason); first failing check wins
    quarantine: dict[int, tuple[str, str]] = field(default_factory=dict)

    @property
    def blocking_failures(self) -> list[CheckOutcome]:
        return [o for o in self.outcomes if o.outcome == "FAIL"]


def suite_parameters(frame: pd.DataFrame) -> dict[str, object]:
    """Suite parameters. The value sets are cut to the values present in the frame: "x in
    known" is the same test as "x in (known ∩ present)", and GX copies a parameter into every
    metric it computes, so 12,000 region keys would cost seconds per suite."""
    known = _present(frame, "region_code") & official_region_codes()
    measures = _present(frame, "measure") & set(load_catalogue().measures)
    return {
        "known_region_codes": sorted(known) or ["-"],
        "known_measures": sorted(measures) or ["-"],
        "latest_start_year": school_year_of_date(dt.date.today()),
    }


def _present(frame: pd.DataFrame, column: str) -> set[str]:
    return set(frame[column].dropna().unique()) if column in frame else set()


def applies_to(suite: str) -> str:
    return load_suite(suite).get("meta", {}).get("applies_to", "records")


def _collect(result: DeliveryValidation, outcomes: list[CheckOutcome]) -> None:
    result.outcomes.extend(outcomes)
    for outcome in outcomes:
        if outcome.outcome == "PASS":
            continue
        for row_id, reason in outcome.reasons.items():
            result.quarantine.setdefault(row_id, (outcome.name, reason))


def wide_frame(records: pd.DataFrame) -> tuple[pd.DataFrame, dict[int, list[int]]]:
    """Records -> one row per key with a column per measure, and wide row -> record row ids."""
    usable = records.dropna(subset=["measure", "region_code", "school_year"])
    keys = usable[WIDE_KEY].drop_duplicates().reset_index(drop=True)
    keys[ROW_ID] = range(len(keys))
    merged = usable.merge(keys.rename(columns={ROW_ID: "wide_id"}), on=WIDE_KEY, how="left")
    values = merged.groupby(["wide_id", "measure"])["value"].first().unstack()
    wide = keys.join(values, on=ROW_ID)
    wide["source_line"] = (
        merged.groupby("wide_id")["source_line"].min().reindex(wide[ROW_ID]).values
    )
    row_map = merged.groupby("wide_id")[ROW_ID].agg(list).to_dict()
    return wide, row_map


def validate_records(
    records: pd.DataFrame,
    suites: tuple[str, ...],
    dataset: str = "frame",
    run_name: str | None = None,
) -> DeliveryValidation:
    """Canonical records (with `row_id` and `unit`) against the record suite and `suites`."""
    result = DeliveryValidation()
    params = suite_parameters(records)
    _collect(result, validate(RECORD_SUITE, records, params, dataset, run_name))
    wide_suites = [s for s in suites if applies_to(s) == "wide"]
    if wide_suites:
        wide, row_map = wide_frame(records)
        for suite in wide_suites:
            for column in _suite_columns(suite):
                if column not in wide.columns:
                    wide[column] = pd.Series(dtype="float64")
            outcomes = validate(suite, wide, params, f"{dataset}_wide", run_name)
            for outcome in outcomes:  # a wide row's reason is the reason of each of its records
                outcome.reasons = _spread(outcome.reasons, row_map)
                outcome.reasons_de = _spread(outcome.reasons_de, row_map)
            _collect(result, outcomes)
    return result


def _spread(reasons: dict[int, str], row_map: dict[int, list[int]]) -> dict[int, str]:
    return {record: reason for wide_id, reason in reasons.items() for record in row_map[wide_id]}


def validate_rows(
    rows: pd.DataFrame,
    suites: tuple[str, ...],
    dataset: str = "frame",
    run_name: str | None = None,
) -> DeliveryValidation:
    result = DeliveryValidation()
    params = suite_parameters(rows)
    for suite in suites:
        _collect(result, validate(suite, rows, params, dataset, run_name))
    return result


def _suite_columns(suite: str) -> set[str]:
    columns: set[str] = set()
    for expectation in load_suite(suite)["expectations"]:
        kwargs = expectation["kwargs"]
        for key in ("column", "column_A", "column_B"):
            if key in kwargs:
                columns.add(kwargs[key])
    return columns
