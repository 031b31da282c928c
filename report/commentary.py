"""The "story behind the curve": the backbone office's commentary per indicator, in YAML.

report/commentary.yaml (docs/report.md) is edited by people, so it is read like the catalogue:
a typed model (schemas/yamlmodel.py), unknown keys and unknown indicators are errors that name
file, line and key — all of them at once — and the report is not built from a file with
mistakes:

    commentary.yaml, line 7, key 'indicators.dropout_rat': 'dropout_rat' is not an indicator …
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field

from schemas.catalogue import Catalogue
from schemas.yamlmodel import (
    Problem,
    Text,
    YamlError,
    YamlModel,
    did_you_mean,
    read_yaml,
    sort_problems,
    validate,
)

COMMENTARY_YAML = Path(__file__).resolve().parent / "commentary.yaml"


class CommentaryError(YamlError):
    """A commentary file with mistakes; one line per mistake, each naming file, line and key."""


class Story(YamlModel):
    """What the backbone office writes about one indicator (Results-Based Accountability)."""

    as_of: Text  # when it was written, as people say it: "November 2026"
    story: Text  # the story behind the curve: why the line runs as it does
    partners: list[Text] = Field(default_factory=list)  # partners with a role to play
    actions: list[Text] = Field(default_factory=list)  # what the partners do about it


class CommentaryFile(YamlModel):
    indicators: dict[Text, Story] = Field(default_factory=dict)


Commentary = Annotated[dict[str, Story], "indicator id -> its story"]


def load_commentary(path: Path, catalogue: Catalogue) -> Commentary:
    """The stories of `path`, checked against the catalogue's indicators."""
    try:
        doc = read_yaml(path)
    except YamlError as exc:
        raise CommentaryError(exc.problems) from None
    problems: list[Problem] = list(doc.problems)
    if doc.data is None:
        return {}  # an empty file: no commentary yet
    spec = validate(CommentaryFile, doc.data, doc, problems)
    written = doc.data.get("indicators") if isinstance(doc.data, dict) else None
    if isinstance(written, dict):  # checked whether or not the stories themselves are valid
        for indicator in written:
            if indicator not in catalogue.indicators:
                problems.append(
                    doc.problem(
                        ("indicators", indicator),
                        f"'{indicator}' is not an indicator in schemas/indicators.yaml"
                        f"{did_you_mean(indicator, catalogue.indicators)}",
                        at="key",
                    )
                )
    if problems:
        raise CommentaryError(sort_problems(problems))
    assert spec is not None
    return dict(spec.indicators)
