"""Great Expectations suites (expectations/<suite>.json) -> check outcomes and quarantine reasons.

Each expectation in a suite is one Dagster asset check. Its `meta` says:

    check        short name; the Dagster check is "<suite>_<check>"
    description  what is checked, in plain words
    reason       per failing record, a template filled from the record, e.g.
                 "unknown region key {region_code!r}"

and its `severity` (GX's own field) decides what a failure means:

    critical  the check fails with ERROR severity and blocks everything downstream
    warning   the check fails with WARN severity; failing records are quarantined, the rest loads

`mostly` keeps its GX meaning: a `critical` record-level expectation with `mostly: 0.9` only
blocks when more than 10 % of the records fail; below that its records are quarantined and the
check reports a WARNING. Outcomes follow the data screener: PASS, WARNING, FAIL.

Great Expectations takes seconds to import, so it is imported on first use only.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

SUITES_DIR = Path(__file__).resolve().parent
ROW_ID = "row_id"
MAX_EXAMPLES = 5


@dataclass(frozen=True)
class CheckSpec:
    """What the Dagster definitions need to know about an expectation, without importing GX."""

    name: str
    suite: str
    expectation_type: str
    description: str
    blocking: bool


@dataclass
class CheckOutcome:
    name: str
    suite: str
    expectation_type: str
    description: str
    outcome: str  # PASS | WARNING | FAIL
    element_count: int
    unexpected_count: int
    message: str
    observed: dict[str, Any] = field(default_factory=dict)
    reasons: dict[int, str] = field(default_factory=dict)  # row id -> reason (to quarantine)
    reasons_de: dict[int, str] = field(default_factory=dict)  # the same in German
    description_de: str = ""
    message_de: str = ""

    @property
    def passed(self) -> bool:
        return self.outcome == "PASS"

    @property
    def severity(self) -> str:
        return "ERROR" if self.outcome == "FAIL" else "WARN"


def load_suite(suite: str) -> dict[str, Any]:
    path = SUITES_DIR / f"{suite}.json"
    return json.loads(path.read_text(encoding="utf-8"))


@cache
def suite_specs(suite: str) -> tuple[CheckSpec, ...]:
    spec = load_suite(suite)
    return tuple(
        CheckSpec(
            name=f"{suite}_{e['meta']['check']}",
            suite=suite,
            expectation_type=e["type"],
            description=e["meta"]["description"],
            blocking=e.get("severity", "critical") == "critical",
        )
        for e in spec["expectations"]
    )


@cache
def _gx():
    """The ephemeral GX context with one pandas data source, built once per process."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return gx, context, context.data_sources.add_pandas("bildungsmonitor")


@cache
def _batch_definition(dataset: str):
    """One GX data asset per dataset (a source, a mart), so Data Docs show them apart."""
    _, _, datasource = _gx()
    return datasource.add_dataframe_asset(dataset).add_batch_definition_whole_dataframe("whole")


@cache
def _suite(suite: str):
    _, context, _ = _gx()
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    spec = load_suite(suite)
    expectations = [
        ExpectationConfiguration(
            type=e["type"],
            kwargs=e["kwargs"],
            meta=e.get("meta", {}),
            severity=e.get("severity", "critical"),
        ).to_domain_obj()
        for e in spec["expectations"]
    ]
    return context.suites.add(ExpectationSuite(name=suite, expectations=expectations))


@cache
def _validation_definition(suite: str, dataset: str):
    gx, context, _ = _gx()
    return context.validation_definitions.add(
        gx.ValidationDefinition(
            name=f"{dataset}__{suite}", data=_batch_definition(dataset), suite=_suite(suite)
        )
    )


def gx_context():
    """The process's GX context, or None if Great Expectations never ran in this process."""
    return _gx()[1] if _gx.cache_info().currsize else None


def _fill(template: str, row: dict[str, Any]) -> str:
    clean = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
    try:
        return template.format(**clean)
    except (KeyError, IndexError, ValueError):
        return template


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def validate(
    suite: str,
    frame: pd.DataFrame,
    parameters: dict[str, Any],
    dataset: str = "frame",
    run_name: str | None = None,
) -> list[CheckOutcome]:
    """Run one suite over `frame` (which must have a unique integer column `row_id`);
    `dataset` and `run_name` (the Dagster run id) name it in the Data Docs."""
    from great_expectations.core.run_identifier import RunIdentifier

    spec = load_suite(suite)
    definition = _validation_definition(suite, dataset)
    result = definition.run(
        batch_parameters={"dataframe": frame},
        expectation_parameters=parameters,
        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [ROW_ID]},
        run_id=RunIdentifier(run_name=run_name) if run_name else None,
    )
    rows_by_id = frame.set_index(ROW_ID, drop=False)
    outcomes = []
    by_check = {e["meta"]["check"]: e for e in spec["expectations"]}
    for item in result.results:
        meta = item.expectation_config.meta or {}
        config = by_check[meta["check"]]
        critical = config.get("severity", "critical") == "critical"
        info = item.result or {}
        element_count = int(info.get("element_count") or len(frame))
        unexpected = int(info.get("unexpected_count") or 0)
        exception = (item.exception_info or {}).get("exception_message")
        reasons: dict[int, str] = {}
        reasons_de: dict[int, str] = {}
        template = meta.get("reason", meta["description"])
        template_de = meta.get("reason_de", meta.get("description_de", template))
        description_de = meta.get("description_de", meta["description"])
        for entry in info.get("unexpected_index_list") or []:
            row_id = int(entry[ROW_ID])
            row = rows_by_id.loc[row_id].to_dict()
            reasons[row_id] = _fill(template, row)
            reasons_de[row_id] = _fill(
                template_de, {**row, "problem": row.get("problem_de") or row.get("problem")}
            )
        if exception:
            outcome = "FAIL" if critical else "WARNING"
            message = f"{meta['description']}: could not be evaluated: {exception}"
            message_de = f"{description_de}: konnte nicht geprüft werden: {exception}"
        elif unexpected or not item.success:
            # within `mostly` a failure is a WARNING: quarantined, the rest loads
            outcome = "FAIL" if not item.success and critical else "WARNING"
            message = _summary(meta["description"], unexpected, element_count, reasons, info)
            message_de = _summary(
                description_de, unexpected, element_count, reasons_de, info, german=True
            )
        else:
            outcome = "PASS"
            message = f"{meta['description']}: all {element_count} passed"
            message_de = f"{description_de}: alle {element_count} in Ordnung"
        observed = {
            k: _jsonable(info[k])
            for k in ("observed_value", "unexpected_percent", "partial_unexpected_list")
            if k in info
        }
        if "partial_unexpected_list" in observed:
            observed["partial_unexpected_list"] = observed["partial_unexpected_list"][:MAX_EXAMPLES]
        outcomes.append(
            CheckOutcome(
                name=f"{suite}_{meta['check']}",
                suite=suite,
                expectation_type=item.expectation_config.type,
                description=meta["description"],
                outcome=outcome,
                element_count=element_count,
                unexpected_count=unexpected,
                message=message,
                observed=observed,
                reasons=reasons,
                reasons_de=reasons_de,
                description_de=description_de,
                message_de=message_de,
            )
        )
    return outcomes


def _summary(
    description: str,
    unexpected: int,
    total: int,
    reasons: dict[int, str],
    info: dict[str, Any],
    german: bool = False,
) -> str:
    if not reasons and "observed_value" in info:
        return f"{description}: {'beobachtet' if german else 'observed'} {info['observed_value']!r}"
    examples = list(dict.fromkeys(reasons.values()))[:MAX_EXAMPLES]
    if german:
        text = f"{description}: {unexpected} von {total} nicht erfüllt"
        return text + (" — z. B. " + "; ".join(examples) if examples else "")
    text = f"{description}: {unexpected} of {total} failed"
    return text + (" — e.g. " + "; ".join(examples) if examples else "")
