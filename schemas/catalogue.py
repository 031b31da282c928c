"""The measure and indicator catalogue and the goals: loaded from YAML, checked for consistency.

The backbone office edits `measures.yaml`, `indicators.yaml` and `goals.yaml`; a mistake there
(an indicator naming a measure that does not exist, a target year that is not a school year)
stops the pipeline at load time with the file and the entry named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from schemas.tables import NATIONALITIES, SEXES, parse_school_year

SCHEMAS_DIR = Path(__file__).resolve().parent
UNITS = ("count", "percent", "hours")
DIRECTIONS = ("up", "down")


class CatalogueError(ValueError):
    """A catalogue file that contradicts itself; the message names the file and the entry."""


@dataclass(frozen=True)
class Measure:
    id: str
    label: str
    unit: str
    description: str
    family: str | None = None
    school_form: str | None = None


@dataclass(frozen=True)
class Goal:
    id: str
    title: str
    description: str
    lead_partner: str


@dataclass(frozen=True)
class Indicator:
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
    minuend: dict[str, str] = field(default_factory=dict)
    subtrahend: dict[str, str] = field(default_factory=dict)

    @property
    def baseline_start_year(self) -> int:
        return parse_school_year(self.baseline)

    @property
    def target_start_year(self) -> int:
        return parse_school_year(self.target_year)


@dataclass(frozen=True)
class Catalogue:
    measures: dict[str, Measure]
    goals: dict[str, Goal]
    indicators: dict[str, Indicator]

    def rate_indicators(self) -> list[Indicator]:
        return [i for i in self.indicators.values() if i.kind == "rate"]

    def gap_indicators(self) -> list[Indicator]:
        return [i for i in self.indicators.values() if i.kind == "gap"]


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{path.name}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise CatalogueError(f"{path.name}: expected a mapping at the top level")
    return data


def _require(entry: dict[str, Any], keys: tuple[str, ...], where: str) -> None:
    missing = [k for k in keys if k not in entry]
    if missing:
        raise CatalogueError(f"{where}: missing {', '.join(missing)}")


def load_measures(path: Path) -> dict[str, Measure]:
    data = _read(path)
    forms: dict[str, dict[str, str]] = data.get("school_forms", {})
    measures: dict[str, Measure] = {}
    for family in data.get("families", []):
        where = f"{path.name}: family {family.get('prefix')!r}"
        _require(family, ("prefix", "label", "unit", "description"), where)
        for form, spec in forms.items():
            label = spec["label"]
            measure_id = f"{family['prefix']}_{form}"
            measures[measure_id] = Measure(
                id=measure_id,
                label=family["label"].format(school_form=label),
                unit=family["unit"],
                description=family["description"].format(school_form=label),
                family=family["prefix"],
                school_form=form,
            )
    for measure_id, spec in data.get("measures", {}).items():
        where = f"{path.name}: measure {measure_id!r}"
        _require(spec, ("label", "unit", "description"), where)
        if measure_id in measures:
            raise CatalogueError(f"{where}: defined twice (also produced by a family)")
        measures[measure_id] = Measure(
            id=measure_id, label=spec["label"], unit=spec["unit"], description=spec["description"]
        )
    for measure in measures.values():
        if measure.unit not in UNITS:
            raise CatalogueError(
                f"{path.name}: measure {measure.id!r}: unit {measure.unit!r} is not one of {UNITS}"
            )
    return measures


def load_goals(path: Path) -> dict[str, Goal]:
    goals: dict[str, Goal] = {}
    for entry in _read(path).get("goals", []):
        where = f"{path.name}: goal {entry.get('id')!r}"
        _require(entry, ("id", "title", "description", "lead_partner"), where)
        if entry["id"] in goals:
            raise CatalogueError(f"{where}: defined twice")
        goals[entry["id"]] = Goal(
            id=entry["id"],
            title=entry["title"],
            description=entry["description"].strip(),
            lead_partner=entry["lead_partner"],
        )
    return goals


def _subgroup(spec: dict[str, str], where: str) -> dict[str, str]:
    allowed = {"sex": SEXES, "nationality": NATIONALITIES}
    for key, value in spec.items():
        if key not in allowed or value not in allowed[key]:
            raise CatalogueError(f"{where}: subgroup {key}={value!r} is not a canonical subgroup")
    return dict(spec)


def load_indicators(path: Path, measures: dict[str, Measure], goals: dict[str, Goal]):
    indicators: dict[str, Indicator] = {}
    common = (
        "id",
        "name",
        "goal",
        "kind",
        "definition",
        "unit",
        "direction",
        "baseline",
        "target",
        "responsible_partner",
    )
    for entry in _read(path).get("indicators", []):
        where = f"{path.name}: indicator {entry.get('id')!r}"
        _require(entry, common, where)
        if entry["id"] in indicators:
            raise CatalogueError(f"{where}: defined twice")
        if entry["goal"] not in goals:
            raise CatalogueError(f"{where}: goal {entry['goal']!r} is not in goals.yaml")
        if entry["direction"] not in DIRECTIONS:
            raise CatalogueError(f"{where}: direction must be one of {DIRECTIONS}")
        target = entry["target"]
        _require(target, ("value", "year"), f"{where}: target")
        for label in (entry["baseline"], target["year"]):
            try:
                parse_school_year(str(label))
            except ValueError as exc:
                raise CatalogueError(f"{where}: {exc}") from exc
        if parse_school_year(str(entry["baseline"])) > parse_school_year(str(target["year"])):
            raise CatalogueError(
                f"{where}: the baseline {entry['baseline']} is after the target "
                f"year {target['year']}"
            )
        if not isinstance(target["value"], int | float) or isinstance(target["value"], bool):
            raise CatalogueError(f"{where}: target value {target['value']!r} is not a number")
        extra: dict[str, Any] = {}
        if entry["kind"] == "rate":
            _require(entry, ("numerator", "denominator", "scale"), where)
            for part in ("numerator", "denominator"):
                unknown = [m for m in entry[part] if m not in measures]
                if unknown:
                    raise CatalogueError(
                        f"{where}: {part} measure(s) {', '.join(unknown)} not in measures.yaml"
                    )
            extra = {
                "numerator": tuple(entry["numerator"]),
                "denominator": tuple(entry["denominator"]),
                "scale": float(entry["scale"]),
            }
        elif entry["kind"] == "gap":
            _require(entry, ("indicator", "minuend", "subtrahend"), where)
            extra = {
                "of_indicator": entry["indicator"],
                "minuend": _subgroup(entry["minuend"], where),
                "subtrahend": _subgroup(entry["subtrahend"], where),
            }
            if len(extra["minuend"]) != 1 or set(extra["minuend"]) != set(extra["subtrahend"]):
                raise CatalogueError(
                    f"{where}: minuend and subtrahend must name the same single subgroup "
                    "dimension (sex or nationality), e.g. {sex: male} and {sex: female}"
                )
        else:
            raise CatalogueError(f"{where}: kind must be 'rate' or 'gap', not {entry['kind']!r}")
        indicators[entry["id"]] = Indicator(
            id=entry["id"],
            name=entry["name"],
            goal=entry["goal"],
            kind=entry["kind"],
            definition=entry["definition"],
            unit=entry["unit"],
            direction=entry["direction"],
            baseline=str(entry["baseline"]),
            target_value=float(target["value"]),
            target_year=str(target["year"]),
            responsible_partner=entry["responsible_partner"],
            **extra,
        )
    for indicator in indicators.values():
        if indicator.kind == "gap":
            base = indicators.get(indicator.of_indicator or "")
            if base is None or base.kind != "rate":
                raise CatalogueError(
                    f"{path.name}: indicator {indicator.id!r}: gap of {indicator.of_indicator!r}, "
                    "which is not a rate indicator in this file"
                )
    return indicators


@cache
def load_catalogue(directory: Path = SCHEMAS_DIR) -> Catalogue:
    measures = load_measures(directory / "measures.yaml")
    goals = load_goals(directory / "goals.yaml")
    indicators = load_indicators(directory / "indicators.yaml", measures, goals)
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
