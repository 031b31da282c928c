"""Which checks a source has: its structure, every expectation of its suites, the cross checks.

One list, in one order, for the Dagster definitions, quality.check_results and the screener.
"""

from __future__ import annotations

from dataclasses import dataclass

from expectations.cross_checks import CHECKS as CROSS_CHECKS
from expectations.suites import load_suite
from expectations.validation import RECORD_SUITE
from sources.registry import Source

STRUCTURE_CHECK = "structure"
STRUCTURE_DESCRIPTION = "the file can be read"
STRUCTURE_DESCRIPTION_DE = "die Datei ist lesbar"
CROSS_SUITE = "cross_checks"
CROSS_CHECK_DESCRIPTIONS = {
    "year_over_year": "no value jumps against the school year before beyond the threshold "
    "(expectations/quality.yaml)",
    "completeness": "every region and school year the source covers is present",
    "level_consistency": "municipalities add up to their Kreis, Kreise to higher levels, "
    "within the rounding the source declares",
    "subgroups": "female + male and german + foreign add up to the total",
    "revisions": "the new delivery does not change values an earlier delivery loaded",
    "source_conflicts": "no other source states the same figure with another value",
}
CROSS_CHECK_DESCRIPTIONS_DE = {
    "year_over_year": "kein Wert springt gegenüber dem Vorjahr über die Schwelle hinaus",
    "completeness": "jedes Gebiet und Schuljahr im Abdeckungsgebiet der Quelle ist vorhanden",
    "level_consistency": "Gemeinden ergeben ihren Kreis, Kreise die höheren Ebenen, im Rahmen "
    "der angegebenen Rundung",
    "subgroups": "weiblich + männlich und deutsch + ausländisch ergeben die Gesamtzahl",
    "revisions": "die neue Lieferung ändert keine Werte früherer Lieferungen",
    "source_conflicts": "keine andere Quelle gibt denselben Wert anders an",
}


@dataclass(frozen=True)
class SourceCheck:
    name: str
    suite: str  # a suite, "structure" or "cross_checks"
    expectation_type: str
    description: str
    description_de: str
    blocking: bool


def source_suites(source: Source) -> tuple[str, ...]:
    base = (RECORD_SUITE,) if source.dataset == "measures" else ()
    return base + source.expectations


def source_checks(source: Source) -> list[SourceCheck]:
    """The checks of a source's staging asset, in order."""
    checks = [
        SourceCheck(
            STRUCTURE_CHECK,
            STRUCTURE_CHECK,
            "",
            STRUCTURE_DESCRIPTION,
            STRUCTURE_DESCRIPTION_DE,
            True,
        )
    ]
    for suite in source_suites(source):
        checks += [
            SourceCheck(e.name, e.suite, e.type, e.description, e.description_de, e.blocking)
            for e in load_suite(suite).expectations
        ]
    if source.dataset == "measures":
        checks += [
            SourceCheck(
                name,
                CROSS_SUITE,
                name,
                CROSS_CHECK_DESCRIPTIONS[name],
                CROSS_CHECK_DESCRIPTIONS_DE[name],
                False,
            )
            for name in CROSS_CHECKS
        ]
    return checks


def check_names(source: Source) -> list[str]:
    return [c.name for c in source_checks(source)]
