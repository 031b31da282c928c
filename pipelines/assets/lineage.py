"""Dagster lineage from the one declaration of every built table (warehouse/models.py)."""

import dagster as dg

from sources.registry import Source
from warehouse.models import Model, staged_datasets, upstream_models


def model_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(name.split("."))


def model_deps(model: Model, sources: dict[str, Source]) -> list[dg.AssetKey]:
    """The assets a model reads: the models it is built on, the staging assets of the
    datasets it reads."""
    deps = [model_key(name) for name in upstream_models(model)]
    for dataset in staged_datasets(model):
        deps += [dg.AssetKey(["staging", s.id]) for s in sources.values() if s.dataset == dataset]
    return deps
