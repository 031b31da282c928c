"""The outcome of one check, as one typed object.

Every check — the structure of a file, an expectation of a suite, a check across deliveries,
a fetch — ends in one `CheckOutcome`. Dagster (asset-check results), quality.check_results and
the partner screener each render this same object; none of them recomputes it.

    PASS           nothing unexpected
    WARNING        something unexpected within what a delivery may have (it loads; the rows
                   are held back or flagged)
    FAIL           beyond that: a blocking check fails and the delivery is rejected
    NOT_EVALUATED  the check did not run — an earlier, blocking check failed, or there was no
                   new delivery to check. It is neither passed nor failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["PASS", "WARNING", "FAIL", "NOT_EVALUATED"]
RANK: dict[str, int] = {"NOT_EVALUATED": -1, "PASS": 0, "WARNING": 1, "FAIL": 2}
MAX_EXAMPLES = 5


@dataclass
class CheckOutcome:
    name: str  # the Dagster check name, e.g. canonical_records_known_region_keys
    suite: str  # expectation suite, "structure", "cross_checks" or "fetch"
    expectation_type: str
    description: str
    outcome: Status
    element_count: int | None
    unexpected_count: int | None
    message: str
    observed: dict[str, Any] = field(default_factory=dict)
    description_de: str = ""
    message_de: str = ""
    blocking: bool = False
    # the first distinct reasons of failing rows, in row order (all of them are in the
    # quarantine or findings relation, never in memory)
    examples: list[str] = field(default_factory=list)
    examples_de: list[str] = field(default_factory=list)
    # rows of the checked relation (records for a wide check) that failed: their count
    rows_unexpected: int = 0

    @property
    def passed(self) -> bool | None:
        """True / False; None when the check was not evaluated."""
        if self.outcome == "NOT_EVALUATED":
            return None
        return self.outcome == "PASS"

    @property
    def evaluated(self) -> bool:
        return self.outcome != "NOT_EVALUATED"

    @property
    def severity(self) -> str:
        return "ERROR" if self.outcome == "FAIL" else "WARN"

    @classmethod
    def not_evaluated(
        cls,
        name: str,
        suite: str,
        description: str,
        why: str,
        why_de: str,
        *,
        expectation_type: str = "",
        description_de: str = "",
        blocking: bool = False,
    ) -> CheckOutcome:
        return cls(
            name=name,
            suite=suite,
            expectation_type=expectation_type,
            description=description,
            outcome="NOT_EVALUATED",
            element_count=None,
            unexpected_count=None,
            message=f"not evaluated: {why}",
            message_de=f"nicht geprüft: {why_de}",
            description_de=description_de or description,
            blocking=blocking,
        )


def worst(outcomes: list[CheckOutcome]) -> CheckOutcome | None:
    """The outcome that decides: the worst evaluated one (FAIL > WARNING > PASS)."""
    evaluated = [o for o in outcomes if o.evaluated]
    return max(evaluated, key=lambda o: RANK[o.outcome], default=None)
