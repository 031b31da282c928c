"""Validation outcomes -> Dagster asset-check results (and their specs, from the suites)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

import dagster as dg

from expectations.cross_checks import CHECKS as CROSS_CHECKS
from expectations.runner import CheckOutcome, suite_specs
from sources.registry import Source
from sources.staging import (
    CROSS_CHECK_DESCRIPTIONS,
    STRUCTURE_CHECK,
    StagingResult,
    cross_outcome,
    outcome_for,
    source_suites,
)

RANK = {"PASS": 0, "WARNING": 1, "FAIL": 2}


def _describe(spec, suite: str) -> str:
    return f"{spec.description} (expectations/{suite}.json, {spec.expectation_type})"


def staging_check_specs(source: Source, asset_key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    specs = [
        dg.AssetCheckSpec(
            STRUCTURE_CHECK,
            asset=asset_key,
            blocking=True,
            description="The delivery can be read: encoding, delimiter, header rows and every "
            "column the source's mapping names. A failure names the file, line and column.",
        )
    ]
    for suite in source_suites(source):
        specs += suite_check_specs(suite, asset_key)
    if source.dataset == "measures":
        specs += [
            dg.AssetCheckSpec(
                name,
                asset=asset_key,
                blocking=False,
                description=f"{text} (WARNING only; details in quality.findings)",
            )
            for name, text in CROSS_CHECK_DESCRIPTIONS.items()
        ]
    return specs


def suite_check_specs(suite: str, asset_key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            spec.name,
            asset=asset_key,
            blocking=spec.blocking,
            description=_describe(spec, suite),
            metadata={"suite": suite, "expectation_type": spec.expectation_type},
        )
        for spec in suite_specs(suite)
    ]


def to_check_result(
    outcome: CheckOutcome, asset_key: dg.AssetKey, extra: dict | None = None
) -> dg.AssetCheckResult:
    metadata = {
        "outcome": outcome.outcome,
        "checked": outcome.element_count,
        "unexpected": outcome.unexpected_count,
        "message": outcome.message,
    }
    if outcome.observed:
        metadata["observed"] = dg.MetadataValue.json(
            json.loads(json.dumps(outcome.observed, default=str))
        )
    metadata.update(extra or {})
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=outcome.name,
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.ERROR
        if outcome.severity == "ERROR"
        else dg.AssetCheckSeverity.WARN,
        description=outcome.message[:2000],
        metadata=metadata,
    )


def staging_check_results(
    check_names: Iterable[str], result: StagingResult, asset_key: dg.AssetKey
) -> Iterator[dg.AssetCheckResult]:
    """One result per check: the worst outcome over this run's new deliveries."""
    for name in check_names:
        if not result.deliveries:
            yield dg.AssetCheckResult(
                asset_key=asset_key,
                check_name=name,
                passed=True,
                description=f"No new delivery; current data from {result.current_delivery}.",
                metadata={"outcome": "PASS", "new_deliveries": 0},
            )
            continue
        if name in CROSS_CHECKS:
            outcome = cross_outcome(result, name)
            if outcome is None:
                yield dg.AssetCheckResult(
                    asset_key=asset_key,
                    check_name=name,
                    passed=False,
                    severity=dg.AssetCheckSeverity.WARN,
                    description="Not evaluated: no delivery of this run was loaded.",
                    metadata={"outcome": "NOT_EVALUATED"},
                )
            else:
                check = next(c for c in result.cross_checks if c.name == name)
                yield to_check_result(
                    outcome,
                    asset_key,
                    {
                        "findings": len(check.findings),
                        "details": "quality.findings (check_name = '" + name + "')",
                    },
                )
            continue
        evaluated = [(d, outcome_for(d, name)) for d in result.deliveries]
        ran = [(d, o) for d, o in evaluated if o is not None]
        if not ran:
            files = ", ".join(d.file_name for d in result.deliveries)
            yield dg.AssetCheckResult(
                asset_key=asset_key,
                check_name=name,
                passed=False,
                severity=dg.AssetCheckSeverity.WARN,
                description=f"Not evaluated: {files} could not be read (see check 'structure').",
                metadata={"outcome": "NOT_EVALUATED"},
            )
            continue
        delivery, worst = max(ran, key=lambda pair: RANK[pair[1].outcome])
        yield to_check_result(
            worst,
            asset_key,
            {
                "file": delivery.file_name,
                "deliveries": [d.file_name for d, _ in ran],
                "quarantined_records": sum(d.records_quarantined for d in result.deliveries),
            },
        )
