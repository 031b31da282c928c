"""portal/partners.yaml: the partners who may sign in to the portal, and their sources.

Edited by the backbone office, read through the project's strict YAML models (unknown keys and
decimal commas are errors naming file, line and key); every source must be one of the registry:

    partners:
      bildungsbueros_ruhr:                  # the partner's id: a-z, 0-9, _
        name: Kommunale Bildungsbüros der Ruhr
        email: bildungsbuero@example.org    # whom the office writes to
        sources: [schulabgaenger_abschlussart]

The access tokens are not in this file: `bildungsmonitor portal add-partner ID` issues one and
stores only its hash, in `<data dir>/portal/tokens.json` (portal/tokens.py).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field

from schemas.operations import Address
from schemas.yamlmodel import (
    Problem,
    YamlError,
    YamlModel,
    did_you_mean,
    read_yaml,
    sort_problems,
    validate,
)

ENV_VARIABLE = "BILDUNGSMONITOR_PORTAL_PARTNERS"
DEFAULT_FILE = Path(__file__).resolve().parent / "partners.yaml"
_PARTNER_ID = re.compile(r"[a-z][a-z0-9_]{1,63}")


def _partner_id(value: str) -> str:
    if not _PARTNER_ID.fullmatch(value):
        raise ValueError(f"'{value}' is not a partner id (a-z, 0-9 and _, starting with a letter)")
    return value


PartnerId = Annotated[str, AfterValidator(_partner_id)]


class Partner(YamlModel):
    name: str = Field(min_length=1)
    email: Address
    sources: list[str] = Field(min_length=1)


class PartnersFile(YamlModel):
    partners: dict[PartnerId, Partner] = Field(default_factory=dict)


def partners_file() -> Path:
    """$BILDUNGSMONITOR_PORTAL_PARTNERS, else portal/partners.yaml."""
    named = os.environ.get(ENV_VARIABLE)
    return Path(named) if named else DEFAULT_FILE


def load_partners(path: Path, sources: set[str] | dict) -> dict[str, Partner]:
    """The partners of `path`; a mistake is a YamlError naming file, line and key, also a
    source that is not in the registry (`sources`: the registry's ids)."""
    doc = read_yaml(path, str(path))
    problems: list[Problem] = list(doc.problems)
    data = {} if doc.data is None else doc.data
    if not isinstance(data, dict):
        raise YamlError([Problem(str(path), 1, message="expected a mapping of keys at the top")])
    config = validate(PartnersFile, data, doc, problems)
    known = sorted(sources)
    if config is not None:
        for partner_id, partner in config.partners.items():
            for index, source_id in enumerate(partner.sources):
                if source_id not in known:
                    problems.append(
                        doc.problem(
                            ("partners", partner_id, "sources", index),
                            f"'{source_id}' is not a source of the registry"
                            + did_you_mean(source_id, known),
                        )
                    )
    if problems or config is None:
        raise YamlError(sort_problems(problems))
    return dict(config.partners)
