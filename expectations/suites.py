"""The expectation suites (expectations/<suite>.json, Great Expectations' own format), typed.

Each expectation is one Dagster asset check. Its `meta` says:

    check        short name; the Dagster check is "<suite>_<check>"
    description  what is checked, in plain words (description_de: in German)
    reason       per failing row, a template filled from the row, e.g.
                 "unknown region key {region_code!r}" (reason_de: in German)

and its `severity` (GX's own field) decides what a failure means:

    critical  the check fails with ERROR severity and blocks everything downstream
    warning   the check fails with WARN severity; failing rows are quarantined, the rest loads

`mostly` keeps its GX meaning: a `critical` row-level expectation with `mostly: 0.9` only
blocks when more than 10 % of the rows fail; below that its rows are quarantined and the
check reports a WARNING. The suite's `meta.applies_to` says which relation it is written for:
`records` (canonical records), `wide` (one row per region, year and subgroup with a column per
measure) or `rows` (a reference dataset, a mart).

Reading a suite never imports Great Expectations: the Dagster definitions and the screener
need only this module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

SUITES_DIR = Path(__file__).resolve().parent
ROW_ID = "row_id"
APPLIES_TO = ("records", "wide", "rows")

# The expectation types the SQL evaluator (expectations/rules.py) implements, with the kwargs
# each may carry. A suite using anything else is refused when it is loaded.
SUPPORTED: dict[str, frozenset[str]] = {
    "expect_column_values_to_be_null": frozenset({"column", "mostly"}),
    "expect_column_values_to_not_be_null": frozenset({"column", "mostly"}),
    "expect_column_values_to_be_in_set": frozenset({"column", "value_set", "mostly"}),
    "expect_column_values_to_be_between": frozenset(
        {"column", "min_value", "max_value", "strict_min", "strict_max", "mostly"}
    ),
    "expect_column_values_to_match_regex": frozenset({"column", "regex", "mostly"}),
    "expect_column_values_to_be_unique": frozenset({"column", "mostly"}),
    "expect_compound_columns_to_be_unique": frozenset({"column_list", "mostly"}),
    "expect_column_pair_values_a_to_be_greater_than_b": frozenset(
        {"column_A", "column_B", "or_equal", "ignore_row_if", "mostly"}
    ),
    "expect_column_values_to_be_in_type_list": frozenset({"column", "type_list"}),
}
CONDITION_KWARGS = frozenset({"row_condition", "condition_parser"})


class SuiteError(ValueError):
    """A suite file the evaluator cannot use; the message names the file and the expectation."""


@dataclass(frozen=True)
class Expectation:
    suite: str
    check: str
    type: str
    kwargs: dict[str, Any]
    meta: dict[str, Any]
    severity: Literal["critical", "warning"]
    position: int  # order in the suite: the first failing check of a row names its reason

    @property
    def name(self) -> str:
        return f"{self.suite}_{self.check}"

    @property
    def blocking(self) -> bool:
        return self.severity == "critical"

    @property
    def mostly(self) -> float:
        return float(self.kwargs.get("mostly", 1.0))

    @property
    def description(self) -> str:
        return str(self.meta["description"])

    @property
    def description_de(self) -> str:
        return str(self.meta.get("description_de", self.description))

    @property
    def reason(self) -> str:
        return str(self.meta.get("reason", self.description))

    @property
    def reason_de(self) -> str:
        return str(self.meta.get("reason_de", self.meta.get("description_de", self.reason)))

    def columns(self) -> tuple[str, ...]:
        """The columns the expectation reads (not counting its row condition)."""
        k = self.kwargs
        if "column_list" in k:
            return tuple(k["column_list"])
        if "column_A" in k:
            return (k["column_A"], k["column_B"])
        return (k["column"],)


@dataclass(frozen=True)
class Suite:
    name: str
    applies_to: Literal["records", "wide", "rows"]
    description: str
    expectations: tuple[Expectation, ...]
    raw: dict[str, Any]  # the JSON as written: what Great Expectations is given

    def columns(self) -> set[str]:
        return {c for e in self.expectations for c in e.columns()}


@dataclass(frozen=True)
class CheckSpec:
    """What the Dagster definitions need to know about an expectation."""

    name: str
    suite: str
    expectation_type: str
    description: str
    blocking: bool


def _problem(path: Path, where: str, text: str) -> SuiteError:
    return SuiteError(f"{path.name}: {where}: {text}")


@cache
def load_suite(name: str) -> Suite:
    path = SUITES_DIR / f"{name}.json"
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SuiteError(f"expectations/{name}.json not found") from None
    except json.JSONDecodeError as exc:
        raise SuiteError(f"{path.name}: not valid JSON: {exc}") from None
    applies_to = spec.get("meta", {}).get("applies_to", "records")
    if applies_to not in APPLIES_TO:
        raise _problem(path, "meta.applies_to", f"{applies_to!r} is not one of {APPLIES_TO}")
    expectations = []
    for position, entry in enumerate(spec.get("expectations", [])):
        meta = entry.get("meta") or {}
        where = f"expectation {position + 1} ({meta.get('check', entry.get('type'))})"
        kind = entry.get("type")
        if kind not in SUPPORTED:
            raise _problem(
                path,
                where,
                f"type {kind!r} is not one the evaluator implements "
                f"({', '.join(sorted(SUPPORTED))})",
            )
        kwargs = dict(entry.get("kwargs") or {})
        unknown = set(kwargs) - SUPPORTED[kind] - CONDITION_KWARGS
        if unknown:
            raise _problem(path, where, f"kwargs {sorted(unknown)} are not supported for {kind}")
        if "row_condition" in kwargs and kwargs.get("condition_parser") != "pandas":
            raise _problem(path, where, "a row_condition needs condition_parser 'pandas'")
        for key in ("check", "description"):
            if not meta.get(key):
                raise _problem(path, where, f"meta.{key} is required")
        severity = entry.get("severity", "critical")
        if severity not in ("critical", "warning"):
            raise _problem(path, where, f"severity {severity!r} is not critical or warning")
        expectations.append(
            Expectation(name, meta["check"], kind, kwargs, meta, severity, position)
        )
    names = [e.check for e in expectations]
    if len(set(names)) != len(names):
        raise _problem(path, "meta.check", "two expectations share a check name")
    suite = Suite(
        name=name,
        applies_to=applies_to,
        description=str(spec.get("meta", {}).get("description", "")),
        expectations=tuple(expectations),
        raw=spec,
    )
    from expectations.rules import validate_rules  # the row conditions must translate

    validate_rules(suite)
    return suite


@cache
def suite_specs(name: str) -> tuple[CheckSpec, ...]:
    return tuple(
        CheckSpec(e.name, e.suite, e.type, e.description, e.blocking)
        for e in load_suite(name).expectations
    )


def applies_to(name: str) -> str:
    return load_suite(name).applies_to
