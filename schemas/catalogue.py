"""The measure and indicator catalogue and the goals: loaded from YAML, checked for consistency.

The backbone office edits `measures.yaml`, `indicators.yaml` and `goals.yaml`. Each file is
read into a typed model (`MeasuresFile`, `GoalsFile`, `IndicatorsFile`): an unknown key, a
wrong type, a missing key, a value outside its set, an indicator naming a measure or goal that
does not exist, a target year that is not a school year — every mistake of every file stops
the load, all at once, one line each with file, line and key (schemas/yamlmodel.py):

    goals.yaml, line 12, key 'goals[2].lead_partner': missing (required)
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from schemas.tables import parse_school_year
from schemas.yamlmodel import (
    Document,
    Problem,
    Text,
    YamlError,
    YamlModel,
    did_you_mean,
    listing,
    read_yaml,
    sort_problems,
    validate,
)

SCHEMAS_DIR = Path(__file__).resolve().parent
# thousand, eur_thousand, eur_million: official tables state some figures in units of 1.000
# (GENESIS `1000`, `Tsd. EUR`, `Mill. EUR`); a measure keeps the unit its source states
UNITS = ("count", "percent", "hours", "thousand", "eur_thousand", "eur_million")
DIRECTIONS = ("up", "down")


class CatalogueError(YamlError):
    """Catalogue files with mistakes; one line per mistake, each naming file, line and key."""


# --- the files, as written ----------------------------------------------------------------------


def _identifier(value: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", value):
        raise ValueError(
            f"'{value}' is not a valid id: lower case letters, digits and _, starting with a letter"
        )
    return value


def _school_year(value: str) -> str:
    parse_school_year(value)  # ValueError: "school year '2022/24': the second year must …"
    return value


Identifier = Annotated[Text, AfterValidator(_identifier)]
SchoolYear = Annotated[Text, AfterValidator(_school_year)]
Unit = Literal[UNITS]  # type: ignore[valid-type]
Sex = Literal["total", "female", "male"]
Nationality = Literal["total", "german", "foreign"]


class SchoolFormSpec(YamlModel):
    label: Text


class FamilySpec(YamlModel):
    """Expands into one measure per school form: <prefix>_<school form>."""

    prefix: Identifier
    label: Text  # with {school_form}
    unit: Unit
    description: Text  # with {school_form}


class MeasureSpec(YamlModel):
    label: Text
    unit: Unit
    description: Text
    # the GENESIS value variables (value_variable_code) that state this measure: a starting
    # registry YAML (`genesis-metadata --yaml`) maps them to it
    genesis: list[Text] = Field(default_factory=list)


class MeasuresFile(YamlModel):
    """schemas/measures.yaml"""

    school_forms: dict[Identifier, SchoolFormSpec] = Field(default_factory=dict)
    families: list[FamilySpec] = Field(default_factory=list)
    measures: dict[Identifier, MeasureSpec] = Field(default_factory=dict)


class GoalSpec(YamlModel):
    id: Identifier
    title: Text
    description: Text
    lead_partner: Text


class GoalsFile(YamlModel):
    """schemas/goals.yaml"""

    goals: list[GoalSpec]


class TargetSpec(YamlModel):
    value: float
    year: SchoolYear


class SubgroupSpec(YamlModel):
    sex: Sex | None = None
    nationality: Nationality | None = None


class RateSpec(YamlModel):
    """value = scale × Σ numerator / Σ denominator"""

    id: Identifier
    name: Text
    goal: Text
    kind: Literal["rate"]
    definition: Text
    numerator: Annotated[list[Text], Field(min_length=1)]
    denominator: Annotated[list[Text], Field(min_length=1)]
    scale: Annotated[float, Field(gt=0)]
    unit: Text
    direction: Literal["up", "down"]
    baseline: SchoolYear
    target: TargetSpec
    responsible_partner: Text


class GapSpec(YamlModel):
    """value = rate of `indicator` for `minuend` − for `subtrahend`, in percentage points"""

    id: Identifier
    name: Text
    goal: Text
    kind: Literal["gap"]
    indicator: Text
    minuend: SubgroupSpec
    subtrahend: SubgroupSpec
    definition: Text
    unit: Text
    direction: Literal["up", "down"]
    baseline: SchoolYear
    target: TargetSpec
    responsible_partner: Text


class IndicatorsFile(YamlModel):
    """schemas/indicators.yaml"""

    indicators: list[Annotated[RateSpec | GapSpec, Field(discriminator="kind")]]


# --- the catalogue, as the pipeline uses it ------------------------------------------------------


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Measure(_Frozen):
    id: str
    label: str
    unit: str
    description: str
    genesis: tuple[str, ...] = ()
    family: str | None = None
    school_form: str | None = None


class Goal(_Frozen):
    id: str
    title: str
    description: str
    lead_partner: str


class Indicator(_Frozen):
    id: str
    name: str
    goal: str
    kind: str  # rate | gap
    definition: str
    unit: str
    direction: str
    baseline: str
    target_value: float
    target_year: str
    responsible_partner: str
    numerator: tuple[str, ...] = ()
    denominator: tuple[str, ...] = ()
    scale: float = 100.0
    # gap indicators: the rate indicator and the two subgroups compared
    of_indicator: str | None = None
    minuend: dict[str, str] = Field(default_factory=dict)
    subtrahend: dict[str, str] = Field(default_factory=dict)

    @property
    def baseline_start_year(self) -> int:
        return parse_school_year(self.baseline)

    @property
    def target_start_year(self) -> int:
        return parse_school_year(self.target_year)


class Catalogue(_Frozen):
    measures: dict[str, Measure]
    goals: dict[str, Goal]
    indicators: dict[str, Indicator]

    def rate_indicators(self) -> list[Indicator]:
        return [i for i in self.indicators.values() if i.kind == "rate"]

    def gap_indicators(self) -> list[Indicator]:
        return [i for i in self.indicators.values() if i.kind == "gap"]


# --- loading -------------------------------------------------------------------------------------


def _read(path: Path, problems: list[Problem]) -> Document | None:
    try:
        doc = read_yaml(path)
    except YamlError as exc:
        problems += exc.problems
        return None
    problems += doc.problems
    if not isinstance(doc.data, dict):
        problems.append(
            Problem(
                doc.file, doc.position(()).line, None, "expected a mapping of keys at the top level"
            )
        )
        return None
    return doc


def _measures(path: Path) -> tuple[dict[str, Measure], list[Problem]]:
    problems: list[Problem] = []
    doc = _read(path, problems)
    spec = doc and validate(MeasuresFile, doc.data, doc, problems)
    if doc is None or spec is None:
        return {}, problems
    measures: dict[str, Measure] = {}
    made_by: dict[str, int] = {}  # measure id -> index of the family that makes it
    prefixes: dict[str, int] = {}  # prefix -> its line
    for i, family in enumerate(spec.families):
        if family.prefix in prefixes:
            first = prefixes[family.prefix]
            problems.append(
                doc.problem(
                    ("families", i, "prefix"),
                    f"'{family.prefix}' is defined twice (also on line {first})",
                )
            )
            continue
        prefixes[family.prefix] = doc.position(("families", i, "prefix")).line
        texts: dict[str, str] = {}
        for key in ("label", "description"):
            template = getattr(family, key)
            try:
                template.format(school_form="")
            except (KeyError, IndexError, ValueError) as exc:
                problems.append(doc.problem(("families", i, key), _template_problem(exc)))
            texts[key] = template
        for form, form_spec in spec.school_forms.items():
            measure_id = f"{family.prefix}_{form}"
            made_by[measure_id] = i
            try:
                label = texts["label"].format(school_form=form_spec.label)
                description = texts["description"].format(school_form=form_spec.label)
            except (KeyError, IndexError, ValueError):
                label = description = ""  # reported above
            measures[measure_id] = Measure(
                id=measure_id,
                label=label,
                unit=family.unit,
                description=description,
                family=family.prefix,
                school_form=form,
            )
    for measure_id, entry in spec.measures.items():
        if measure_id in measures:
            family = spec.families[made_by[measure_id]]
            line = doc.position(("families", made_by[measure_id])).line
            problems.append(
                doc.problem(
                    ("measures", measure_id),
                    f"'{measure_id}' is defined twice: the family '{family.prefix}' "
                    f"(line {line}) makes it too",
                    at="key",
                )
            )
            continue
        measures[measure_id] = Measure(
            id=measure_id,
            label=entry.label,
            unit=entry.unit,
            description=entry.description,
            genesis=tuple(entry.genesis),
        )
    return measures, problems


def _template_problem(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"{{{exc.args[0]}}} is not a placeholder here; the only one is {{school_form}}"
    if isinstance(exc, IndexError):
        return "{} is not a placeholder here; the only one is {school_form}"
    return f"not a valid template ({exc}); write {{{{ and }}}} for a literal brace"


def _goals(path: Path) -> tuple[dict[str, Goal], list[Problem]]:
    problems: list[Problem] = []
    doc = _read(path, problems)
    spec = doc and validate(GoalsFile, doc.data, doc, problems)
    if doc is None or spec is None:
        return {}, problems
    goals: dict[str, Goal] = {}
    lines: dict[str, int] = {}
    for i, entry in enumerate(spec.goals):
        if entry.id in goals:
            problems.append(
                doc.problem(
                    ("goals", i, "id"),
                    f"'{entry.id}' is defined twice (also on line {lines[entry.id]})",
                )
            )
            continue
        lines[entry.id] = doc.position(("goals", i, "id")).line
        goals[entry.id] = Goal(
            id=entry.id,
            title=entry.title,
            description=entry.description.strip(),
            lead_partner=entry.lead_partner,
        )
    return goals, problems


def _indicators(
    path: Path, measures: dict[str, Measure] | None, goals: dict[str, Goal] | None
) -> tuple[dict[str, Indicator], list[Problem]]:
    """`measures` / `goals` None: not known (their file has mistakes); not checked against."""
    problems: list[Problem] = []
    doc = _read(path, problems)
    spec = doc and validate(IndicatorsFile, doc.data, doc, problems)
    if doc is None or spec is None:
        return {}, problems
    indicators: dict[str, Indicator] = {}
    lines: dict[str, int] = {}
    for i, entry in enumerate(spec.indicators):
        at = ("indicators", i)
        if entry.id in indicators:
            problems.append(
                doc.problem(
                    (*at, "id"), f"'{entry.id}' is defined twice (also on line {lines[entry.id]})"
                )
            )
            continue
        lines[entry.id] = doc.position((*at, "id")).line
        if goals is not None and entry.goal not in goals:
            problems.append(
                doc.problem(
                    (*at, "goal"),
                    f"'{entry.goal}' is not a goal in goals.yaml; expected one of "
                    f"{listing(goals)}{did_you_mean(entry.goal, goals)}",
                )
            )
        if parse_school_year(entry.baseline) > parse_school_year(entry.target.year):
            problems.append(
                doc.problem(
                    (*at, "baseline"),
                    f"{entry.baseline} is after the target year {entry.target.year}",
                )
            )
        extra: dict[str, Any] = {}
        if isinstance(entry, RateSpec):
            for part in ("numerator", "denominator"):
                for j, measure in enumerate(getattr(entry, part)):
                    if measures is not None and measure not in measures:
                        problems.append(
                            doc.problem(
                                (*at, part, j),
                                f"'{measure}' is not a measure in measures.yaml"
                                f"{did_you_mean(measure, measures)}",
                            )
                        )
            extra = {
                "numerator": tuple(entry.numerator),
                "denominator": tuple(entry.denominator),
                "scale": entry.scale,
            }
        else:
            minuend = entry.minuend.model_dump(exclude_none=True)
            subtrahend = entry.subtrahend.model_dump(exclude_none=True)
            for key, group in (("minuend", minuend), ("subtrahend", subtrahend)):
                if len(group) != 1:
                    problems.append(
                        doc.problem(
                            (*at, key),
                            "must name exactly one subgroup, e.g. {sex: male} or "
                            "{nationality: foreign}",
                        )
                    )
            if len(minuend) == len(subtrahend) == 1:
                if minuend.keys() != subtrahend.keys():
                    problems.append(
                        doc.problem(
                            (*at, "subtrahend"),
                            f"compares {next(iter(subtrahend))}, the minuend "
                            f"{next(iter(minuend))}: both must name the same subgroup "
                            "dimension, e.g. {sex: male} and {sex: female}",
                        )
                    )
                elif minuend == subtrahend:
                    problems.append(
                        doc.problem(
                            (*at, "subtrahend"),
                            "is the minuend's subgroup; a gap compares two different subgroups",
                        )
                    )
            extra = {"of_indicator": entry.indicator, "minuend": minuend, "subtrahend": subtrahend}
        indicators[entry.id] = Indicator(
            id=entry.id,
            name=entry.name,
            goal=entry.goal,
            kind=entry.kind,
            definition=entry.definition,
            unit=entry.unit,
            direction=entry.direction,
            baseline=entry.baseline,
            target_value=entry.target.value,
            target_year=entry.target.year,
            responsible_partner=entry.responsible_partner,
            **extra,
        )
    rates = [i.id for i in indicators.values() if i.kind == "rate"]
    for i, entry in enumerate(spec.indicators):
        if isinstance(entry, GapSpec) and entry.indicator not in rates:
            what = (
                "a gap indicator; a gap compares the subgroups of a rate indicator"
                if entry.indicator in indicators
                else "not an indicator in indicators.yaml"
            )
            problems.append(
                doc.problem(
                    ("indicators", i, "indicator"),
                    f"'{entry.indicator}' is {what}; expected one of {listing(rates)}"
                    f"{did_you_mean(entry.indicator, rates)}",
                )
            )
    return indicators, problems


def _raise(problems: list[Problem], first: str | None = None) -> None:
    if problems:
        raise CatalogueError(sort_problems(problems, first)) from None


def load_measures(path: Path) -> dict[str, Measure]:
    measures, problems = _measures(path)
    _raise(problems)
    return measures


def load_goals(path: Path) -> dict[str, Goal]:
    goals, problems = _goals(path)
    _raise(problems)
    return goals


def load_indicators(
    path: Path, measures: dict[str, Measure], goals: dict[str, Goal]
) -> dict[str, Indicator]:
    indicators, problems = _indicators(path, measures, goals)
    _raise(problems)
    return indicators


@cache
def load_catalogue(directory: Path = SCHEMAS_DIR) -> Catalogue:
    """The three files of `directory`; every mistake in any of them is raised at once."""
    measures, problems = _measures(directory / "measures.yaml")
    goals, goal_problems = _goals(directory / "goals.yaml")
    indicators, indicator_problems = _indicators(
        directory / "indicators.yaml",
        None if problems else measures,
        None if goal_problems else goals,
    )
    _raise([*problems, *goal_problems, *indicator_problems])
    return Catalogue(measures=measures, goals=goals, indicators=indicators)


def render_markdown(catalogue: Catalogue | None = None) -> str:
    """The catalogue section of docs/indicators.md: goals, their indicators, the measures."""
    catalogue = catalogue or load_catalogue()
    arrow = {"up": "↑ higher is better", "down": "↓ lower is better"}
    parts: list[str] = []
    for goal in catalogue.goals.values():
        parts += [
            f"### Goal `{goal.id}`: {goal.title}",
            "",
            goal.description,
            "",
            f"Lead partner: {goal.lead_partner}",
            "",
        ]
        for i in (i for i in catalogue.indicators.values() if i.goal == goal.id):
            if i.kind == "rate":
                formula = (
                    f"{i.scale:g} × Σ {' + '.join(f'`{m}`' for m in i.numerator)} / "
                    f"Σ {' + '.join(f'`{m}`' for m in i.denominator)}"
                )
            else:
                a = ", ".join(f"{k}={v}" for k, v in i.minuend.items())
                b = ", ".join(f"{k}={v}" for k, v in i.subtrahend.items())
                formula = f"`{i.of_indicator}` ({a}) − `{i.of_indicator}` ({b})"
            parts += [
                f"#### `{i.id}` — {i.name}",
                "",
                f"- Definition: {i.definition}",
                f"- Computed as: {formula}",
                f"- Unit: {i.unit}; direction: {arrow[i.direction]}",
                f"- Baseline: {i.baseline}; target: {i.target_value:g} by {i.target_year} (Ruhr)",
                f"- Responsible partner: {i.responsible_partner}",
                "",
            ]
    parts += ["### Measures", "", "| measure | label | unit |", "|---|---|---|"]
    parts += [f"| `{m.id}` | {m.label} | {m.unit} |" for m in catalogue.measures.values()]
    return "\n".join(parts) + "\n"
