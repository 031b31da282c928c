"""The expectation suites, evaluated in SQL with Great Expectations' semantics.

The SQL evaluator (expectations/rules.py, evaluation.py) decides over whole relations; Great
Expectations validates the decisive rows of every evaluation (expectations/gx_check.py) and the
two must agree row by row. These tests pin that agreement on data built to hit every edge —
missing values, row conditions, `mostly`, duplicates, pairs — so that a Great Expectations
upgrade that changes a semantic fails here, loudly, instead of quarantining the wrong rows.
"""

from __future__ import annotations

import json
import random
from importlib.metadata import version

import duckdb
import pandas as pd
import pytest

from expectations import gx_check
from expectations.evaluation import evaluate
from expectations.suites import SUITES_DIR, Expectation, Suite, load_suite, suite_specs
from expectations.validation import failing_records, validate_records, wide_relation

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
            "school_year": [f"{2000 + i}/{(1 + i) % 100:02d}" for i in range(n)],
            "start_year": pd.array([2000 + i for i in range(n)], dtype="Int64"),
            "sex": ["total"] * n,
            "nationality": ["total"] * n,
            "value": [100.0 + i for i in range(n)],
            "status": ["ok"] * n,
            "raw_value": [str(100 + i) for i in range(n)],
            "source_line": range(2, n + 2),
            "source_column": ["Abgänger"] * n,
            "problem": pd.Series([None] * n, dtype="string"),
            "problem_de": pd.Series([None] * n, dtype="string"),
        }
    )
    for column, (index, value) in changes.items():
        frame.loc[index, column] = value
    return frame


def relation(conn: duckdb.DuckDBPyConnection, frame: pd.DataFrame, name: str = "rel") -> str:
    conn.register("frame", frame)
    conn.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM frame")
    conn.unregister("frame")
    return name


def test_great_expectations_is_the_pinned_version() -> None:
    # gx_check.py compares GX's unexpected_index_list with the SQL evaluator's rows:
    # re-run this file when upgrading GX
    assert version("great-expectations") == "1.24.1"


def test_failing_rows_come_back_with_their_reasons() -> None:
    conn = duckdb.connect()
    rel = relation(conn, records(20, region_code=(3, "05999999")))
    validation = validate_records(conn, rel, (), gx=True)
    outcomes = {o.name: o for o in validation.outcomes}
    known = outcomes["canonical_records_known_region_keys"]
    assert known.outcome == "WARNING" and known.unexpected_count == 1
    assert known.examples == [
        "line 5: unknown region key '05999999' (expected an official key "
        "of schemas/regions.csv, e.g. 05513000)"
    ]
    assert outcomes["canonical_records_unique_keys"].outcome == "PASS"
    assert conn.execute(f"SELECT row_id, check_name FROM {validation.quarantine}").fetchall() == [
        (3, "canonical_records_known_region_keys")
    ]


def test_mostly_turns_many_failures_into_a_blocking_fail() -> None:
    frame = records(20)
    for i in range(5):  # 25 % negative counts: beyond mostly 0.9
        frame.loc[i, "value"] = -1.0
    conn = duckdb.connect()
    validation = validate_records(conn, relation(conn, frame), (), gx=True)
    outcome = next(
        o for o in validation.outcomes if o.name == "canonical_records_non_negative_counts"
    )
    assert outcome.outcome == "FAIL" and outcome.severity == "ERROR" and outcome.blocking
    assert outcome.unexpected_count == 5
    assert "counts are not negative: 5 of 20 failed" in outcome.message
    assert "Anzahlen sind nicht negativ: 5 von 20 nicht erfüllt" in outcome.message_de


def test_duplicates_and_pairs_on_the_wide_relation() -> None:
    long = pd.concat(
        [records(12), records(12).assign(measure="leavers_without_hsa", value=5.0)],
        ignore_index=True,
    )
    long["row_id"] = range(len(long))
    long.loc[14, "value"] = 500.0  # numerator above denominator on one line
    for column in ("region_code", "school_year", "start_year"):  # row 23 repeats row 12's key
        long.loc[23, column] = long.loc[12, column]
    conn = duckdb.connect()
    rel = relation(conn, long)
    result = validate_records(conn, rel, ("school_leavers",), gx=True)
    reasons = dict(conn.execute(f"SELECT row_id, reason FROM {result.quarantine}").fetchall())
    assert "leavers without Hauptschulabschluss (500) exceed all leavers (102)" in reasons[14]
    assert reasons[2] == reasons[14]  # the whole line (both measures) is held back
    assert "duplicate key" in reasons[23] and "duplicate key" in reasons[12]
    # the measures the wide suites read are columns (leavers_abitur: none delivered, NULL);
    # another measure is not
    wide, wide_map = wide_relation(conn, rel, {"leavers_without_hsa", "leavers_abitur"})
    columns = {name for name, *_ in conn.execute(f"DESCRIBE {wide}").fetchall()}
    assert columns >= {"leavers_without_hsa", "leavers_abitur", "row_id"}
    assert "leavers_total" not in columns
    # a wide row gathers the records of its key: the duplicated key has three
    sizes = conn.execute(
        f"SELECT count(*) AS n FROM {wide_map} GROUP BY wide_id ORDER BY n"
    ).fetchall()
    assert [n for (n,) in sizes][-2:] == [2, 3]
    # the screener reads the failing records of a wide check line by line
    pair = "school_leavers_numerator_le_denominator_dropout"
    rows = [(row["row_id"], reason) for row, reason, _ in failing_records(conn, result, pair)]
    assert [r for r, _ in rows] == [2, 14]


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
    definition = gx_check._validation_definition(suite, "frame")
    assert len(definition.suite.expectations) == len(suite_specs(suite))


# --- the SQL evaluator against Great Expectations, on data made to hit every edge ------------

EDGE_EXPECTATIONS = [
    ("expect_column_values_to_be_between", {"column": "x", "min_value": 0, "max_value": 50}),
    ("expect_column_values_to_be_between", {"column": "x", "min_value": 0, "strict_min": True}),
    (
        "expect_column_values_to_be_between",
        {"column": "x", "max_value": 10, "row_condition": 'u=="percent"',
         "condition_parser": "pandas"},
    ),
    (
        "expect_column_values_to_be_between",
        {"column": "x", "min_value": 1, "row_condition": 'u!="count" & s=="a"',
         "condition_parser": "pandas"},
    ),
    ("expect_column_values_to_be_in_set", {"column": "s", "value_set": ["a", "b"]}),
    ("expect_column_values_to_be_null", {"column": "s"}),
    ("expect_column_values_to_not_be_null", {"column": "s"}),
    ("expect_column_values_to_match_regex", {"column": "s", "regex": "^[ab]$"}),
    ("expect_column_values_to_be_unique", {"column": "k1"}),
    ("expect_compound_columns_to_be_unique", {"column_list": ["k1", "k2"]}),
    (
        "expect_column_pair_values_a_to_be_greater_than_b",
        {"column_A": "A", "column_B": "B", "or_equal": True,
         "ignore_row_if": "either_value_is_missing"},
    ),
    (
        "expect_column_pair_values_a_to_be_greater_than_b",
        {"column_A": "A", "column_B": "B", "ignore_row_if": "both_values_are_missing"},
    ),
    ("expect_column_values_to_be_in_type_list", {"column": "x", "type_list": ["float64"]}),
]  # fmt: skip


def edge_suite() -> Suite:
    raw = {
        "name": "edge_cases",
        "meta": {"applies_to": "rows"},
        "expectations": [
            {"type": t, "kwargs": k, "meta": {"check": f"e{i}", "description": f"edge {i}"}}
            for i, (t, k) in enumerate(EDGE_EXPECTATIONS)
        ],
    }
    expectations = tuple(
        Expectation("edge_cases", f"e{i}", t, k, {"check": f"e{i}", "description": f"edge {i}"},
                    "critical", i)
        for i, (t, k) in enumerate(EDGE_EXPECTATIONS)
    )  # fmt: skip
    return Suite("edge_cases", "rows", "", expectations, raw)


def edge_frame(seed: int, n: int = 60) -> pd.DataFrame:
    rnd = random.Random(seed)

    def maybe(value):
        return None if rnd.random() < 0.15 else value

    return pd.DataFrame(
        {
            "row_id": range(n),
            "x": [maybe(float(rnd.randint(-5, 60))) for _ in range(n)],
            "u": [maybe(rnd.choice(["count", "percent"])) for _ in range(n)],
            "s": [maybe(rnd.choice(["a", "b", "c", "ab", "b\n"])) for _ in range(n)],
            "A": [maybe(float(rnd.randint(0, 9))) for _ in range(n)],
            "B": [maybe(float(rnd.randint(0, 9))) for _ in range(n)],
            "k1": [maybe(rnd.choice("pqrstuvw")) for _ in range(n)],
            "k2": [maybe(rnd.choice("xy")) for _ in range(n)],
        }
    )


@pytest.mark.parametrize("seed", range(6))
def test_sql_and_great_expectations_agree_row_by_row(seed: int, monkeypatch) -> None:
    suite = edge_suite()
    monkeypatch.setattr(gx_check, "load_suite", lambda name: suite)
    gx_check._gx_suite.cache_clear()
    gx_check._validation_definition.cache_clear()
    frame = edge_frame(seed)
    # regexes differ between Python and RE2 for a trailing line break: not in partner data
    frame["s"] = frame["s"].str.replace("\n", "", regex=False)
    conn = duckdb.connect()
    evaluation = evaluate(conn, relation(conn, frame), suite, {})
    # the whole frame is small: every row is decisive, GX sees it all
    gx_check.validate_projection(conn, evaluation, {}, f"edge_{seed}")
    counts = {o.name: (o.element_count, o.unexpected_count) for o in evaluation.outcomes}
    assert counts["edge_cases_e0"][0] == len(frame)
    gx_check._gx_suite.cache_clear()
    gx_check._validation_definition.cache_clear()


def test_a_disagreement_with_great_expectations_fails_loudly(monkeypatch) -> None:
    suite = edge_suite()
    monkeypatch.setattr(gx_check, "load_suite", lambda name: suite)
    gx_check._gx_suite.cache_clear()
    gx_check._validation_definition.cache_clear()
    conn = duckdb.connect()
    frame = edge_frame(7)
    frame["s"] = frame["s"].str.replace("\n", "", regex=False)
    evaluation = evaluate(conn, relation(conn, frame), suite, {})
    # a translation error: the range check's bound is off by one in SQL
    from expectations import rules

    wrong = rules.rule

    def off_by_one(expectation, parameters, tables=None):
        result = wrong(expectation, parameters, tables)
        if expectation.check == "e0":
            return rules.Rule(expectation, "map", "TRUE", '"x" IS NOT NULL', 'NOT ("x" < 50)')
        return result

    monkeypatch.setattr("expectations.evaluation.rule", off_by_one)
    with pytest.raises(gx_check.ExpectationMismatch, match="edge_cases_e0"):
        gx_check.validate_projection(conn, evaluation, {}, "edge_wrong")
    gx_check._gx_suite.cache_clear()
    gx_check._validation_definition.cache_clear()


def test_the_screener_needs_no_great_expectations() -> None:
    import subprocess
    import sys

    code = (
        "import sys, duckdb, pandas as pd\n"
        "from expectations.validation import validate_records\n"
        "from tests.test_validation import records, relation\n"
        "conn = duckdb.connect()\n"
        "validate_records(conn, relation(conn, records(5)), ('school_leavers',), gx=False)\n"
        "print('great_expectations' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_every_real_suite_loads_with_its_rules() -> None:
    for suite in SUITES:
        assert load_suite(suite).expectations


def test_great_expectations_gets_the_value_sets_cut_to_the_projection() -> None:
    """GX reads a value set of 10,800 Gemeinden dozens of times per validation: it is given
    the members its projection holds, which is the same test row by row; a set that another
    kind of expectation also uses is left whole."""
    suite = load_suite("canonical_records")
    frame = pd.DataFrame(
        {"region_code": ["05513000", "05999999", None], "measure": ["leavers_total"] * 3}
    )
    parameters = {
        "known_region_codes": ["05111000", "05513000", "05913000"],
        "covered_region_codes": ["05111000"],
        "known_measures": ["leavers_total", "pupils_total"],
        "latest_start_year": 2026,
    }
    cut = gx_check.projected_parameters(suite, parameters, frame)
    assert cut == {
        "known_region_codes": ["05513000"],
        "covered_region_codes": [gx_check.NO_VALUE],
        "known_measures": ["leavers_total"],
        "latest_start_year": 2026,
    }
    shared = Suite(
        "shared",
        "records",
        "",
        (
            *suite.expectations,
            Expectation(
                "shared",
                "all_keys",
                "expect_column_distinct_values_to_equal_set",
                {"column": "region_code", "value_set": {"$PARAMETER": "known_region_codes"}},
                {"description": "every key"},
                "warning",
                len(suite.expectations),
            ),
        ),
        {},
    )
    kept = gx_check.projected_parameters(shared, parameters, frame)
    assert kept["known_region_codes"] == parameters["known_region_codes"]
