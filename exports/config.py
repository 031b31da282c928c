"""The small-cell protection rules of public exports (exports/protection.yaml), as a typed model.

The file is edited by the backbone office; it is read strictly (schemas/yamlmodel.py): unknown
keys, a decimal comma, a threshold below 1 or a measure the catalogue does not know are one
plain line each, and the export stops before it writes anything.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

from pydantic import Field

from schemas.catalogue import load_catalogue
from schemas.yamlmodel import (
    Problem,
    YamlError,
    YamlModel,
    did_you_mean,
    read_yaml,
    sort_problems,
    validate,
)

PROTECTION_YAML = Path(__file__).resolve().parent / "protection.yaml"


class FewSchools(YamlModel):
    schools_measure: str
    minimum: int = Field(3, ge=1)
    measures: list[str]


class Protection(YamlModel):
    count_threshold: int = Field(3, ge=1)
    protect_zeros: bool = False
    not_persons: list[str] = Field(default_factory=list)
    denominator_threshold: int = Field(10, ge=1)
    symbol: str = Field(".", min_length=1, max_length=3)
    few_schools: FewSchools | None = None
    measure_totals: dict[str, list[str]] = Field(default_factory=dict)


def load_protection(path: Path = PROTECTION_YAML) -> Protection:
    """The rules of `path`; every mistake is raised at once as a YamlError."""
    doc = read_yaml(path)
    problems: list[Problem] = list(doc.problems)
    protection = validate(Protection, doc.data or {}, doc, problems)
    if protection is not None:
        known = load_catalogue().measures
        named = [("few_schools", m) for m in _few_school_measures(protection)]
        for total, parts in protection.measure_totals.items():
            named += [(f"measure_totals.{total}", m) for m in (total, *parts)]
        for key, measure in named:
            if measure not in known:
                problems.append(
                    Problem(
                        doc.file,
                        doc.position(tuple(key.split("."))).line,
                        key,
                        f"unknown measure {measure!r}{did_you_mean(measure, known)}",
                    )
                )
        for number, pattern in enumerate(protection.not_persons):
            if not fnmatch.filter(known, pattern):
                problems.append(
                    Problem(
                        doc.file,
                        doc.position(("not_persons", number)).line,
                        "not_persons",
                        f"{pattern!r} matches no measure of the catalogue",
                    )
                )
    if problems or protection is None:
        raise YamlError(sort_problems(problems))
    return protection


def person_counts_exempt(protection: Protection) -> list[str]:
    """The measures `not_persons` names."""
    known = load_catalogue().measures
    return sorted({m for p in protection.not_persons for m in fnmatch.filter(known, p)})


def _few_school_measures(protection: Protection) -> list[str]:
    few = protection.few_schools
    return [] if few is None else [few.schools_measure, *few.measures]
