"""Every table the warehouse builds, declared once: what it is made of and how.

A model reads tables (`core.regions`), the staged deliveries of a dataset
(`staging:measures`) or files of the repository (`file:schemas/regions.csv`). From this one
declaration follow Dagster's lineage (pipelines/assets/) and the fingerprints that let a
night with no new delivery and no changed catalogue rebuild nothing (warehouse/fingerprints.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CATALOGUE_FILES = (
    "file:schemas/measures.yaml",
    "file:schemas/goals.yaml",
    "file:schemas/indicators.yaml",
    "file:schemas/school_forms.yaml",
)


@dataclass(frozen=True)
class Model:
    name: str  # schema.table; core.catalogue stands for the catalogue's tables
    group: Literal["core", "indicators", "marts"]
    reads: tuple[str, ...]
    sql: str | None = None  # warehouse/sql/<path>, if the model is one SQL file

    @property
    def schema(self) -> str:
        return self.name.split(".")[0]


MODELS: dict[str, Model] = {
    m.name: m
    for m in (
        Model(
            "core.regions",
            "core",
            (
                "file:schemas/regions.csv",
                "file:schemas/territory.yaml",
                "file:schemas/kreis_changes_2007-2026.csv",
            ),
            "core/region_members.sql",
        ),
        Model("core.catalogue", "core", (*CATALOGUE_FILES, "registry")),
        Model(
            "core.measure_revisions",
            "core",
            # the registry's standing and rank (core.sources), territories (core.regions)
            ("staging:measures", "core.regions", "core.catalogue"),
            "core/measure_revisions.sql",
        ),
        Model(
            "marts.indicator_values",
            "indicators",
            ("core.measure_revisions", "core.regions", "core.catalogue"),
            "indicators/indicator_values.sql",
        ),
        Model(
            "marts.indicator_trends",
            "indicators",
            ("marts.indicator_values", "marts.indicators"),
            "indicators/indicator_trends.sql",
        ),
        Model("marts.regions", "marts", ("core.regions",), "marts/regions.sql"),
        Model("marts.region_changes", "marts", ("core.regions",), "marts/region_changes.sql"),
        Model("marts.goals", "marts", ("core.catalogue",), "marts/goals.sql"),
        Model("marts.indicators", "marts", ("core.catalogue",), "marts/indicators.sql"),
        Model(
            "marts.measure_history",
            "marts",
            ("core.measure_revisions", "core.regions", "core.catalogue"),
            "marts/measure_history.sql",
        ),
        Model(
            "marts.measure_values",
            "marts",
            ("marts.measure_history",),
            "marts/measure_values.sql",
        ),
        Model(
            "marts.schools",
            "marts",
            (
                "staging:school_directory",
                "staging:school_social_index",
                "core.regions",
                "core.catalogue",
            ),
            "marts/schools.sql",
        ),
    )
}


def staged_datasets(model: Model) -> list[str]:
    """The datasets whose staged deliveries the model reads."""
    return [r.split(":", 1)[1] for r in model.reads if r.startswith("staging:")]


def upstream_models(model: Model) -> list[str]:
    return [r for r in model.reads if r in MODELS]
