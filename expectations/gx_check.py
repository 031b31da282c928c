"""Great Expectations validates the decisive rows of every evaluation.

The SQL evaluator (expectations/evaluation.py) decides over the whole relation. Great
Expectations then validates the suite on a projection of it: the rows that decide each
expectation's outcome —

- up to `FAILING` failing rows of every expectation (all rows of the first duplicated keys of a
  uniqueness check);
- the passing rows that lie closest to failing: the smallest and largest value of a range
  check, the smallest margin of a pair, one row per distinct value of a set, pattern or null
  check (up to `DISTINCT` values), one row of a unique key.

Because every supported rule is a per-row test (or, for uniqueness, a test within the
projection), GX's verdict on each projected row must equal the SQL verdict on the same rows.
They are compared row by row; any difference raises `ExpectationMismatch` — a change of Great
Expectations' semantics, or a translation error, fails the run loudly instead of quarantining
the wrong rows. `mostly` is left out of what GX is given: on a projection a share means
nothing; the SQL evaluator applies it to the whole relation.

The GX validation results are kept in the process's GX context, so the run's Data Docs
(expectations/data_docs.py) show every validation. Great Expectations is imported here only,
on first use: the screener never needs it.
"""

from __future__ import annotations

import copy
import os
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache
from typing import TYPE_CHECKING, Any

import duckdb

from expectations.evaluation import Evaluation, evaluate
from expectations.outcomes import CheckOutcome
from expectations.rules import quote, same_keys
from expectations.suites import ROW_ID, Suite, load_suite
from sources.scratch import drop, temp_name

if TYPE_CHECKING:
    import pandas as pd

FAILING = 200
DISTINCT = 200


class ExpectationMismatch(RuntimeError):
    """Great Expectations and the SQL evaluator disagree about rows of a relation."""


@cache
def _gx():
    """The ephemeral GX context with one pandas data source, built once per process."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return gx, context, context.data_sources.add_pandas("bildungsmonitor")


def gx_context():
    """The process's GX context, or None if Great Expectations never ran in this process."""
    return _gx()[1] if _gx.cache_info().currsize else None


@cache
def _batch_definition(dataset: str):
    """One GX data asset per dataset (a source, a mart), so Data Docs show them apart."""
    _, _, datasource = _gx()
    return datasource.add_dataframe_asset(dataset).add_batch_definition_whole_dataframe("whole")


@cache
def _gx_suite(name: str):
    """The suite as GX reads it, without `mostly` (see the module docstring)."""
    _, context, _ = _gx()
    suite = load_suite(name)
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    expectations = []
    for entry in suite.raw["expectations"]:
        kwargs = {k: v for k, v in copy.deepcopy(entry["kwargs"]).items() if k != "mostly"}
        expectations.append(
            ExpectationConfiguration(
                type=entry["type"],
                kwargs=kwargs,
                meta=entry.get("meta", {}),
                severity=entry.get("severity", "critical"),
            ).to_domain_obj()
        )
    return context.suites.add_or_update(
        ExpectationSuite(name=suite.name, expectations=expectations)
    )


@cache
def _validation_definition(name: str, dataset: str):
    gx, context, _ = _gx()
    return context.validation_definitions.add_or_update(
        gx.ValidationDefinition(
            name=f"{dataset}__{name}", data=_batch_definition(dataset), suite=_gx_suite(name)
        )
    )


def _decisive_rows(conn: duckdb.DuckDBPyConnection, evaluation: Evaluation) -> str:
    """SQL selecting the row ids of the projection."""
    relation, parts = evaluation.relation, []
    parts.append(
        f"SELECT row_id FROM (SELECT row_id, row_number() OVER (PARTITION BY position "
        f"ORDER BY row_id) AS n FROM {evaluation.unexpected}) WHERE n <= {FAILING}"
    )
    # the extremes of every range and pair check in one pass over the relation
    extremes: list[str] = []
    for r in evaluation.rules:
        e = r.expectation
        if r.kind == "aggregate":
            continue
        passing = f"({r.domain}) AND ({r.considered})"
        if r.kind == "map":
            passing += f" AND NOT ({r.unexpected})"
        columns = [quote(c) for c in e.columns()]
        if e.type == "expect_column_values_to_be_between":
            column = columns[0]
            extremes.append(f"arg_min({ROW_ID}, {column}) FILTER (WHERE {passing})")
            extremes.append(f"arg_max({ROW_ID}, {column}) FILTER (WHERE {passing})")
        elif e.type == "expect_column_pair_values_a_to_be_greater_than_b":
            a, b = columns
            extremes.append(f"arg_min({ROW_ID}, {a} - {b}) FILTER (WHERE {passing})")
        elif r.kind == "unique":
            # the evaluation flagged every row of a repeated key: a row it did not flag is
            # unique; the repeated keys come from the flagged rows (no pass over the relation)
            keys = ", ".join(columns)
            flagged = f"(SELECT row_id FROM {evaluation.unexpected} WHERE position = {e.position})"
            parts.append(
                f"SELECT min({ROW_ID}) FROM {relation} WHERE ({r.domain}) AND ({r.considered}) "
                f"AND {ROW_ID} NOT IN {flagged}"
            )
            parts.append(
                f"SELECT r.{ROW_ID} FROM {relation} r SEMI JOIN (SELECT DISTINCT {keys} "
                f"FROM {relation} WHERE {ROW_ID} IN {flagged} ORDER BY ALL "
                f"LIMIT {FAILING // 4}) d ON {same_keys(e.columns(), 'r', 'd')} "
                f"WHERE ({r.domain}) AND ({r.considered})"
            )
        else:
            parts.append(
                f"SELECT min({ROW_ID}) FROM {relation} WHERE ({r.domain}) GROUP BY "
                f"{', '.join(columns)} LIMIT {DISTINCT}"
            )
    if extremes:
        parts.append(f"SELECT unnest([{', '.join(extremes)}]) FROM {relation}")
    return " UNION ".join(f"({p})" for p in parts)


# Great Expectations is pure Python (its import alone ~3 s here, each suite run ~1 s of its own
# bookkeeping, whatever the rows), while the rest of a delivery's staging runs in DuckDB, which
# releases the GIL: GX works on one background thread meanwhile. One thread, so GX's context,
# its caches and the validation results are never touched by two threads at once.
_GX_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="great-expectations")


def warm_up() -> None:
    """Start importing Great Expectations in the background: call it where a validation will
    follow work that runs in DuckDB (reading a delivery)."""
    if not _gx.cache_info().currsize:
        _GX_THREAD.submit(_gx)


def validate_projection(
    conn: duckdb.DuckDBPyConnection,
    evaluation: Evaluation,
    parameters: dict[str, Any],
    dataset: str,
    run_name: str | None = None,
) -> None:
    """Run Great Expectations on the decisive rows of `evaluation` and compare its verdicts
    with the SQL evaluator's on the same rows; raise ExpectationMismatch if they differ."""
    submit_projection(conn, evaluation, parameters, dataset, run_name).result()


def submit_projection(
    conn: duckdb.DuckDBPyConnection,
    evaluation: Evaluation,
    parameters: dict[str, Any],
    dataset: str,
    run_name: str | None = None,
) -> Future[None]:
    """validate_projection, with Great Expectations' part on the background thread: the
    decisive rows and the SQL verdicts on them are taken now, from `conn`; the future raises
    ExpectationMismatch if GX disagrees."""
    projection = temp_name("projection")
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE {projection} AS SELECT * FROM {evaluation.relation} "
        f"WHERE {ROW_ID} IN ({_decisive_rows(conn, evaluation)}) ORDER BY {ROW_ID}"
    )
    try:
        mirrored = evaluate(conn, projection, evaluation.suite, parameters)
        sql_verdicts: dict[int, set[int]] = {r.expectation.position: set() for r in mirrored.rules}
        for row_id, position in conn.execute(
            f"SELECT row_id, position FROM {mirrored.unexpected}"
        ).fetchall():
            sql_verdicts[position].add(int(row_id))
        drop(conn, mirrored.unexpected)
        frame = conn.execute(f"SELECT * FROM {projection} ORDER BY {ROW_ID}").df()
    finally:
        drop(conn, projection)
    sql_outcomes = {
        e.position: mirrored.outcomes[e.position] for e in evaluation.suite.expectations
    }
    return _GX_THREAD.submit(
        _compare_with_gx,
        evaluation.suite,
        frame,
        sql_verdicts,
        sql_outcomes,
        projected_parameters(evaluation.suite, parameters, frame),
        dataset,
        run_name,
    )


# per-row set tests: "x in S" on the projection is the same test as "x in (S ∩ projected x)"
_SET_TESTS = ("expect_column_values_to_be_in_set", "expect_column_values_to_not_be_in_set")
# stands for an empty set (GX wants a value set with a member): no cell can hold it
NO_VALUE = "\x00(none)"


def projected_parameters(
    suite: Suite, parameters: dict[str, Any], frame: pd.DataFrame
) -> dict[str, Any]:
    """`parameters` with every value set that only per-row set tests use cut to the values of
    its columns in the projection. Great Expectations copies an expectation's resolved
    parameters each time it reads its configuration (dozens of times per validation): with
    the 10,800 Gemeinden of a national delivery that was 22 s of a run, for the few hundred
    keys a projection holds."""
    used: dict[str, set[str] | None] = {}  # parameter -> columns (None: used otherwise too)
    for e in suite.expectations:
        for value in e.kwargs.values():
            if isinstance(value, dict) and "$PARAMETER" in value:
                name = value["$PARAMETER"]
                if e.type in _SET_TESTS and e.kwargs.get("value_set") is value:
                    columns = used.setdefault(name, set())
                    if columns is not None:
                        columns.add(e.kwargs["column"])
                else:
                    used[name] = None
    cut = dict(parameters)
    for name, columns in used.items():
        if columns is None or not isinstance(parameters.get(name), list):
            continue
        present = {v for c in columns if c in frame for v in frame[c].dropna().tolist()}
        cut[name] = [v for v in parameters[name] if v in present] or [NO_VALUE]
    return cut


def _compare_with_gx(
    suite: Suite,
    frame: pd.DataFrame,
    sql_verdicts: dict[int, set[int]],
    sql_outcomes: dict[int, CheckOutcome],
    parameters: dict[str, Any],
    dataset: str,
    run_name: str | None,
) -> None:
    """On the GX thread: validate `frame` with the suite; raise ExpectationMismatch where GX's
    failing rows differ from the SQL evaluator's."""
    from great_expectations.core.run_identifier import RunIdentifier

    definition = _validation_definition(suite.name, dataset)
    result = definition.run(
        batch_parameters={"dataframe": frame},
        expectation_parameters=parameters,
        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [ROW_ID]},
        run_id=RunIdentifier(run_name=run_name) if run_name else None,
    )
    by_check = {e.check: e for e in suite.expectations}
    problems = []
    for item in result.results:
        e = by_check[(item.expectation_config.meta or {})["check"]]
        exception = (item.exception_info or {}).get("exception_message")
        sql_outcome = sql_outcomes[e.position]
        if exception:
            if sql_outcome.message.find("could not be evaluated") < 0:
                problems.append(f"{e.name}: GX could not evaluate it: {exception}")
            continue
        if e.type == "expect_column_values_to_be_in_type_list":
            if bool(item.success) != (sql_outcome.outcome == "PASS"):
                problems.append(
                    f"{e.name}: GX says {item.success}, SQL says {sql_outcome.outcome} "
                    f"({sql_outcome.observed})"
                )
            continue
        info = item.result or {}
        gx_rows = {int(entry[ROW_ID]) for entry in info.get("unexpected_index_list") or []}
        if gx_rows != sql_verdicts[e.position]:
            only_gx = sorted(gx_rows - sql_verdicts[e.position])[:5]
            only_sql = sorted(sql_verdicts[e.position] - gx_rows)[:5]
            problems.append(f"{e.name}: rows failing only in GX {only_gx}, only in SQL {only_sql}")
    if problems:
        raise ExpectationMismatch(
            f"Great Expectations and the SQL evaluator disagree on suite "
            f"{suite.name} ({dataset}): " + "; ".join(problems)
        )
