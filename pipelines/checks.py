"""Check outcomes -> Dagster asset checks (and their specs). Rendering only: the outcomes are
computed once, in warehouse/staging.py and expectations/."""

from __future__ import annotations

import json
from collections.abc import Iterator

import dagster as dg

from expectations.checks import STRUCTURE_CHECK, SourceCheck, source_checks
from expectations.outcomes import RANK, CheckOutcome
from expectations.suites import suite_specs
from sources.registry import Source
from warehouse.staging import DeliveryResult, StagingResult

STRUCTURE_TEXT = (
    "The delivery can be read: encoding, delimiter, header rows and every column the source's "
    "mapping names. A failure names the file, line and column."
)


# A check that blocks a delivery rejects it whole in staging: nothing of it is loaded, so nothing
# bad can flow on, and the night goes on with the source's last good data. In Dagster the check
# therefore does not block the downstream assets — one partner's broken file must not hold back
# every other source's new data (docs/operations.md, "A bad delivery holds back only its source").
REJECTS = " A failure rejects the delivery: its source keeps its last good data, the run goes on."


def _describe(check: SourceCheck) -> str:
    if check.name == STRUCTURE_CHECK:
        return STRUCTURE_TEXT + REJECTS
    if check.suite == "cross_checks":
        return f"{check.description} (WARNING only; details in quality.findings)"
    text = f"{check.description} (expectations/{check.suite}.json, {check.expectation_type})"
    return text + (REJECTS if check.blocking else "")


def staging_check_specs(source: Source, asset_key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            check.name,
            asset=asset_key,
            blocking=False,
            description=_describe(check),
            metadata={
                "suite": check.suite,
                "rejects_delivery": check.blocking,
                **({"expectation_type": check.expectation_type} if check.expectation_type else {}),
            },
        )
        for check in source_checks(source)
    ]


def suite_check_specs(suite: str, asset_key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            spec.name,
            asset=asset_key,
            blocking=spec.blocking,
            description=f"{spec.description} (expectations/{suite}.json, {spec.expectation_type})",
            metadata={"suite": suite, "expectation_type": spec.expectation_type},
        )
        for spec in suite_specs(suite)
    ]


def to_check_result(
    outcome: CheckOutcome, asset_key: dg.AssetKey, extra: dict | None = None
) -> dg.AssetCheckResult:
    metadata = {
        "outcome": outcome.outcome,
        "checked": outcome.element_count or 0,
        "unexpected": outcome.unexpected_count or 0,
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
        passed=bool(outcome.passed),
        severity=dg.AssetCheckSeverity.ERROR
        if outcome.severity == "ERROR"
        else dg.AssetCheckSeverity.WARN,
        description=outcome.message[:2000],
        metadata=metadata,
    )


def staging_check_results(
    result: StagingResult, asset_key: dg.AssetKey
) -> Iterator[dg.AssetCheckResult]:
    """One result per evaluated check: the worst outcome over this run's new deliveries. A
    check that was not evaluated yields nothing: Dagster shows it as not executed in this run
    (the staging asset is a subsettable multi-asset for that reason), never passed or failed."""
    for check, pairs in result.outcomes():
        evaluated = [(d, o) for d, o in pairs if o.evaluated]
        if not evaluated:
            continue
        delivery, worst = max(evaluated, key=lambda pair: RANK[pair[1].outcome])
        extra: dict = {}
        if isinstance(delivery, DeliveryResult):
            extra = {
                "file": delivery.file_name,
                "delivery_state": delivery.state,
                "deliveries": [d.file_name for d, _ in evaluated if d is not None],
                "quarantined_records": sum(d.records_quarantined for d in result.deliveries),
            }
        elif check.name in result.findings:
            extra = {
                "findings": result.findings[check.name],
                "details": f"quality.findings (check_name = '{check.name}')",
            }
        yield to_check_result(worst, asset_key, extra)


def not_evaluated_metadata(result: StagingResult) -> dict[str, str]:
    """Which checks did not run this time, and why (shown on the materialization)."""
    reasons = {}
    for check, pairs in result.outcomes():
        if all(not o.evaluated for _, o in pairs):
            reasons[check.name] = pairs[0][1].message
    if not reasons:
        return {}
    grouped: dict[str, list[str]] = {}
    for name, why in reasons.items():
        grouped.setdefault(why, []).append(name)
    return {"checks_not_evaluated": "; ".join(f"{', '.join(n)}: {w}" for w, n in grouped.items())}
