"""The measure and indicator catalogue and the goals: the real YAML, errors in edited copies,
the rendered Markdown, and the worked example of docs/indicators.md."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
import yaml

from schemas.catalogue import (
    SCHEMAS_DIR,
    Catalogue,
    CatalogueError,
    load_catalogue,
    load_goals,
    load_indicators,
    load_measures,
    render_markdown,
)

GESAMTSCHULE_SHARE = """
  - id: gesamtschule_share
    name: "Schüler/-innen an Gesamtschulen"
    goal: hochschulzugang
    kind: rate
    definition: "Anteil der Schüler/-innen an Gesamtschulen an allen Schüler/-innen, in %."
    numerator: [pupils_gesamtschule]
    denominator: [pupils_total]
    scale: 100
    unit: "%"
    direction: up
    baseline: "2015/16"
    target: {value: 22.0, year: "2029/30"}
    responsible_partner: "Schulämter der Kreise und kreisfreien Städte"
"""


@pytest.fixture(autouse=True)
def _fresh_catalogue_cache() -> Iterator[None]:
    load_catalogue.cache_clear()
    yield
    load_catalogue.cache_clear()


@pytest.fixture
def schemas(tmp_path: Path) -> Path:
    """A copy of the three catalogue files to edit."""
    for name in ("measures.yaml", "goals.yaml", "indicators.yaml"):
        shutil.copy(SCHEMAS_DIR / name, tmp_path / name)
    return tmp_path


def edit(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def edit_indicator(schemas: Path, indicator_id: str, **changes: Any) -> None:
    def change(data: dict[str, Any]) -> None:
        (entry,) = [i for i in data["indicators"] if i["id"] == indicator_id]
        entry.update(changes)

    edit(schemas / "indicators.yaml", change)


def error_of(schemas: Path) -> str:
    with pytest.raises(CatalogueError) as exc:
        load_catalogue(schemas)
    return str(exc.value)


def raw(name: str, directory: Path = SCHEMAS_DIR) -> dict[str, Any]:
    """A catalogue file as plain YAML: what the backbone office wrote, not the typed model."""
    return yaml.safe_load((directory / name).read_text(encoding="utf-8"))


def raw_ids(name: str, key: str, directory: Path = SCHEMAS_DIR, **where: str) -> list[str]:
    """The ids of a file's entries in file order, e.g. the rate indicators: kind="rate"."""
    return [
        e["id"] for e in raw(name, directory)[key] if all(e.get(k) == v for k, v in where.items())
    ]


# --- the real catalogue ----------------------------------------------------------------------
# The backbone office edits these files (docs/indicators.md, "Changing the catalogue"): the
# tests compare the typed catalogue with what the YAML says, never with today's entries.


def test_real_catalogue_loads() -> None:
    catalogue = load_catalogue()
    assert len(catalogue.indicators) >= 8
    assert list(catalogue.goals) == raw_ids("goals.yaml", "goals")
    assert list(catalogue.indicators) == raw_ids("indicators.yaml", "indicators")
    rates = catalogue.rate_indicators()
    gaps = catalogue.gap_indicators()
    assert rates and gaps
    assert len(rates) + len(gaps) == len(catalogue.indicators)
    assert [i.id for i in rates] == raw_ids("indicators.yaml", "indicators", kind="rate")
    assert [i.id for i in gaps] == raw_ids("indicators.yaml", "indicators", kind="gap")
    for indicator in rates:
        assert indicator.numerator and indicator.denominator, indicator.id
        for measure in (*indicator.numerator, *indicator.denominator):
            assert measure in catalogue.measures, (indicator.id, measure)
        assert indicator.scale > 0
    for indicator in gaps:
        assert catalogue.indicators[indicator.of_indicator].kind == "rate", indicator.id
        assert indicator.minuend.keys() == indicator.subtrahend.keys()
        assert indicator.minuend != indicator.subtrahend
    for indicator in catalogue.indicators.values():
        assert indicator.goal in catalogue.goals
        assert indicator.direction in ("up", "down")
        assert indicator.baseline_start_year < indicator.target_start_year


def test_real_catalogue_values() -> None:
    """Every indicator carries exactly what its YAML entry says, typed: lists of measures as
    tuples, numbers as floats, school years with their start year."""
    catalogue = load_catalogue()
    for entry in raw("indicators.yaml")["indicators"]:
        indicator = catalogue.indicators[entry["id"]]
        assert (indicator.name, indicator.goal, indicator.kind, indicator.definition) == (
            entry["name"],
            entry["goal"],
            entry["kind"],
            entry["definition"],
        ), entry["id"]
        assert (indicator.unit, indicator.direction, indicator.baseline) == (
            entry["unit"],
            entry["direction"],
            entry["baseline"],
        ), entry["id"]
        assert (indicator.target_value, indicator.target_year) == (
            float(entry["target"]["value"]),
            entry["target"]["year"],
        ), entry["id"]
        assert isinstance(indicator.target_value, float)
        assert indicator.responsible_partner == entry["responsible_partner"]
        assert indicator.baseline_start_year == int(entry["baseline"][:4])
        assert indicator.target_start_year == int(entry["target"]["year"][:4])
        if entry["kind"] == "rate":
            assert (indicator.numerator, indicator.denominator, indicator.scale) == (
                tuple(entry["numerator"]),
                tuple(entry["denominator"]),
                float(entry["scale"]),
            ), entry["id"]
        else:
            assert (indicator.of_indicator, indicator.minuend, indicator.subtrahend) == (
                entry["indicator"],
                entry["minuend"],
                entry["subtrahend"],
            ), entry["id"]
    gymnasium = catalogue.measures["pupils_gymnasium"]
    assert (gymnasium.family, gymnasium.school_form, gymnasium.unit) == (
        "pupils",
        "gymnasium",
        "count",
    )
    assert gymnasium.label == "Schüler/-innen: Gymnasien"
    assert catalogue.measures["leavers_without_hsa_share"].unit == "percent"
    assert catalogue.measures["leavers_total"].family is None
    assert load_catalogue() is load_catalogue()  # cached


def test_families_expand_over_every_school_form() -> None:
    measures = load_measures(SCHEMAS_DIR / "measures.yaml")
    forms = yaml.safe_load((SCHEMAS_DIR / "measures.yaml").read_text("utf-8"))["school_forms"]
    for family in ("schools", "pupils", "teachers", "leavers_schoolform"):
        expanded = [m for m in measures.values() if m.family == family]
        assert [m.school_form for m in expanded] == list(forms)
        assert all(m.id == f"{family}_{m.school_form}" for m in expanded)


def test_copy_loads_like_the_original(schemas: Path) -> None:
    assert load_catalogue(schemas) == load_catalogue()


# --- errors name the file, the line and the key ---------------------------------------------


def line_of(path: Path, needle: str, after: str = "") -> int:
    """The line number of the first line containing `needle` (after the line with `after`)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if after in line) if after else 0
    return next(i for i in range(start, len(lines)) if needle in lines[i]) + 1


def index_of(schemas: Path, indicator_id: str) -> int:
    data = yaml.safe_load((schemas / "indicators.yaml").read_text(encoding="utf-8"))
    return [i["id"] for i in data["indicators"]].index(indicator_id)


def test_unknown_measure(schemas: Path) -> None:
    edit_indicator(schemas, "abitur_rate", numerator=["leavers_abitur", "leavers_abi_bogus"])
    line = line_of(schemas / "indicators.yaml", "- leavers_abi_bogus")
    i = index_of(schemas, "abitur_rate")
    assert error_of(schemas) == (
        f"indicators.yaml, line {line}, key 'indicators[{i}].numerator[1]': 'leavers_abi_bogus' "
        "is not a measure in measures.yaml — did you mean 'leavers_abitur'?"
    )


def test_unknown_denominator_measure(schemas: Path) -> None:
    edit_indicator(schemas, "gymnasium_share", denominator=["pupils_everyone"])
    line = line_of(schemas / "indicators.yaml", "- pupils_everyone")
    i = index_of(schemas, "gymnasium_share")
    assert error_of(schemas) == (
        f"indicators.yaml, line {line}, key 'indicators[{i}].denominator[0]': 'pupils_everyone' "
        "is not a measure in measures.yaml"
    )


def test_unknown_goal(schemas: Path) -> None:
    edit_indicator(schemas, "dropout_rate", goal="weltfrieden")
    line = line_of(schemas / "indicators.yaml", "goal: weltfrieden")
    goals = ", ".join(raw_ids("goals.yaml", "goals", schemas))
    assert error_of(schemas) == (
        f"indicators.yaml, line {line}, key 'indicators[0].goal': 'weltfrieden' is not a goal "
        f"in goals.yaml; expected one of {goals}"
    )


def test_removing_a_goal_still_used(schemas: Path) -> None:
    edit(schemas / "goals.yaml", lambda d: d["goals"].pop(0))  # schulabschluss
    path = schemas / "indicators.yaml"
    rest = ", ".join(raw_ids("goals.yaml", "goals", schemas))
    using = raw_ids("indicators.yaml", "indicators", schemas, goal="schulabschluss")
    assert len(using) >= 3  # dropout_rate and its two gaps
    assert error_of(schemas) == "\n".join(
        f"indicators.yaml, line {line_of(path, 'goal: schulabschluss', f'- id: {name}')}, "
        f"key 'indicators[{index_of(schemas, name)}].goal': 'schulabschluss' is not a goal in "
        f"goals.yaml; expected one of {rest}"
        for name in using
    )


def test_bad_direction(schemas: Path) -> None:
    edit_indicator(schemas, "betreuungsquote_u3", direction="higher")
    line = line_of(schemas / "indicators.yaml", "direction: higher")
    i = index_of(schemas, "betreuungsquote_u3")
    assert error_of(schemas) == (
        f"indicators.yaml, line {line}, key 'indicators[{i}].direction': 'higher' is not one "
        "of up, down"
    )


@pytest.mark.parametrize(
    ("changes", "needle", "key", "expected"),
    [
        (
            {"baseline": "2022/24"},
            "baseline: 2022/24",
            "baseline",
            "school year '2022/24': the second year must follow the first (expected 2022/23)",
        ),
        (
            {"target": {"value": 5.0, "year": "2029/31"}},
            "year: 2029/31",
            "target.year",
            "school year '2029/31': the second year must follow the first (expected 2029/30)",
        ),
        (
            {"baseline": "2015"},
            "baseline: '2015'",
            "baseline",
            "school year '2015' is not of the form 2022/23",
        ),
    ],
)
def test_bad_school_year(
    schemas: Path, changes: dict[str, Any], needle: str, key: str, expected: str
) -> None:
    edit_indicator(schemas, "dropout_rate", **changes)
    line = line_of(schemas / "indicators.yaml", needle)
    assert (
        error_of(schemas) == f"indicators.yaml, line {line}, key 'indicators[0].{key}': {expected}"
    )


@pytest.mark.parametrize(
    ("changes", "needle", "expected"),
    [
        (
            {"minuend": {"sex": "boys"}},
            "sex: boys",
            "key 'indicators[1].minuend.sex': 'boys' is not one of total, female, male",
        ),
        (
            {"subtrahend": {"gender": "female"}},
            "gender: female",
            "key 'indicators[1].subtrahend.gender': unknown key; expected one of sex, nationality",
        ),
        (
            {"minuend": {"nationality": "eu"}},
            "nationality: eu",
            "key 'indicators[1].minuend.nationality': 'eu' is not one of total, german, foreign",
        ),
    ],
)
def test_bad_subgroup(schemas: Path, changes: dict[str, Any], needle: str, expected: str) -> None:
    edit_indicator(schemas, "dropout_gap_male_female", **changes)
    assert index_of(schemas, "dropout_gap_male_female") == 1
    line = line_of(schemas / "indicators.yaml", needle)
    assert error_of(schemas) == f"indicators.yaml, line {line}, {expected}"


def test_duplicate_indicator_id(schemas: Path) -> None:
    def duplicate(data: dict[str, Any]) -> None:
        data["indicators"].append(dict(data["indicators"][0]))

    edit(schemas / "indicators.yaml", duplicate)
    path = schemas / "indicators.yaml"
    last = len(yaml.safe_load(path.read_text(encoding="utf-8"))["indicators"]) - 1
    line = line_of(path, "- id: dropout_rate", "- id: programme_pupil_reach")
    assert error_of(schemas) == (
        f"indicators.yaml, line {line}, key 'indicators[{last}].id': 'dropout_rate' is defined "
        f"twice (also on line {line_of(path, '- id: dropout_rate')})"
    )


def test_measure_defined_twice(schemas: Path) -> None:
    edit(
        schemas / "measures.yaml",
        lambda d: d["measures"].update(
            pupils_gymnasium={"label": "x", "unit": "count", "description": "x"}
        ),
    )
    path = schemas / "measures.yaml"
    assert error_of(schemas) == (
        f"measures.yaml, line {line_of(path, 'pupils_gymnasium:')}, key "
        "'measures.pupils_gymnasium': 'pupils_gymnasium' is defined twice: the family 'pupils' "
        f"(line {line_of(path, '- prefix: pupils')}) makes it too"
    )


def test_duplicate_goal_id(schemas: Path) -> None:
    def duplicate(data: dict[str, Any]) -> None:
        data["goals"].append({**data["goals"][0], "title": "Zweiter Titel"})

    edit(schemas / "goals.yaml", duplicate)
    path = schemas / "goals.yaml"
    assert error_of(schemas) == (
        f"goals.yaml, line {line_of(path, '- id: schulabschluss', '- id: lernbedingungen')}, key "
        "'goals[5].id': 'schulabschluss' is defined twice (also on line "
        f"{line_of(path, '- id: schulabschluss')})"
    )


def test_gap_of_a_non_rate(schemas: Path) -> None:
    edit_indicator(schemas, "abitur_gap_german_foreign", indicator="dropout_gap_male_female")
    path = schemas / "indicators.yaml"
    i = index_of(schemas, "abitur_gap_german_foreign")
    line = line_of(path, "indicator: dropout_gap_male_female")
    assert error_of(schemas) == (
        f"indicators.yaml, line {line}, key 'indicators[{i}].indicator': "
        "'dropout_gap_male_female' is a gap indicator; a gap compares the subgroups of a rate "
        f"indicator; expected one of {rates(schemas)}"
    )


def rates(schemas: Path) -> str:
    """The rate indicators of the catalogue copy, as an error message lists them."""
    return ", ".join(raw_ids("indicators.yaml", "indicators", schemas, kind="rate"))


def test_gap_of_an_unknown_indicator(schemas: Path) -> None:
    edit_indicator(schemas, "dropout_gap_male_female", indicator="dropout_quote")
    line = line_of(schemas / "indicators.yaml", "indicator: dropout_quote")
    assert error_of(schemas) == (
        f"indicators.yaml, line {line}, key 'indicators[1].indicator': 'dropout_quote' is not "
        f"an indicator in indicators.yaml; expected one of {rates(schemas)} — did you mean "
        "'dropout_rate'?"
    )


def test_gap_must_compare_one_dimension(schemas: Path) -> None:
    edit_indicator(
        schemas,
        "dropout_gap_male_female",
        minuend={"sex": "male"},
        subtrahend={"nationality": "german"},
    )
    line = line_of(schemas / "indicators.yaml", "subtrahend:", "- id: dropout_gap_male_female")
    assert error_of(schemas) == (
        f"indicators.yaml, line {line}, key 'indicators[1].subtrahend': compares nationality, "
        "the minuend sex: both must name the same subgroup dimension, e.g. {sex: male} and "
        "{sex: female}"
    )


def test_unknown_kind(schemas: Path) -> None:
    edit_indicator(schemas, "gymnasium_share", kind="ratio")
    i = index_of(schemas, "gymnasium_share")
    line = line_of(schemas / "indicators.yaml", "kind: ratio")
    assert error_of(schemas) == (
        f"indicators.yaml, line {line}, key 'indicators[{i}].kind': 'ratio' is not one of rate, gap"
    )


def test_missing_keys(schemas: Path) -> None:
    def drop(data: dict[str, Any]) -> None:
        del data["indicators"][0]["target"], data["indicators"][0]["unit"]

    edit(schemas / "indicators.yaml", drop)
    line = line_of(schemas / "indicators.yaml", "- id: dropout_rate")
    assert error_of(schemas) == (
        f"indicators.yaml, line {line}, key 'indicators[0].unit': missing (required)\n"
        f"indicators.yaml, line {line}, key 'indicators[0].target': missing (required)"
    )


def test_rate_needs_numerator_denominator_scale(schemas: Path) -> None:
    def drop(data: dict[str, Any]) -> None:
        del data["indicators"][0]["scale"]

    edit(schemas / "indicators.yaml", drop)
    line = line_of(schemas / "indicators.yaml", "- id: dropout_rate")
    assert error_of(schemas) == (
        f"indicators.yaml, line {line}, key 'indicators[0].scale': missing (required)"
    )


def test_target_needs_value_and_year(schemas: Path) -> None:
    edit_indicator(schemas, "dropout_rate", target={"value": 5.0})
    line = line_of(schemas / "indicators.yaml", "target:")
    assert error_of(schemas) == (
        f"indicators.yaml, line {line}, key 'indicators[0].target.year': missing (required)"
    )


def test_bad_measure_unit(schemas: Path) -> None:
    edit(schemas / "measures.yaml", lambda d: d["measures"]["leavers_total"].update(unit="Köpfe"))
    line = line_of(schemas / "measures.yaml", "unit: Köpfe")
    assert error_of(schemas) == (
        f"measures.yaml, line {line}, key 'measures.leavers_total.unit': 'Köpfe' is not one of "
        "count, percent, hours, thousand, eur_thousand, eur_million"
    )


def test_family_missing_keys(schemas: Path) -> None:
    edit(schemas / "measures.yaml", lambda d: d["families"][1].pop("unit"))
    line = line_of(schemas / "measures.yaml", "- prefix: pupils")
    assert error_of(schemas) == (
        f"measures.yaml, line {line}, key 'families[1].unit': missing (required)"
    )


def test_family_template_with_an_unknown_placeholder(schemas: Path) -> None:
    edit(schemas / "measures.yaml", lambda d: d["families"][2].update(label="L: {schulform}"))
    line = line_of(schemas / "measures.yaml", "label: 'L: {schulform}'")
    assert error_of(schemas) == (
        f"measures.yaml, line {line}, key 'families[2].label': {{schulform}} is not a "
        "placeholder here; the only one is {school_form}"
    )


def test_goal_missing_keys(schemas: Path) -> None:
    edit(schemas / "goals.yaml", lambda d: d["goals"][2].pop("lead_partner"))
    line = line_of(schemas / "goals.yaml", "- id: hochschulzugang")
    assert error_of(schemas) == (
        f"goals.yaml, line {line}, key 'goals[2].lead_partner': missing (required)"
    )


def test_not_yaml_and_not_a_mapping(schemas: Path) -> None:
    (schemas / "goals.yaml").write_text("goals: [unclosed\n", encoding="utf-8")
    assert error_of(schemas) == (
        "goals.yaml, line 2: not valid YAML: expected ',' or ']', but got '<stream end>' "
        "(while parsing a flow sequence from line 1)"
    )
    (schemas / "goals.yaml").write_text("# goals\n- a list\n", encoding="utf-8")
    assert error_of(schemas) == "goals.yaml, line 2: expected a mapping of keys at the top level"


def test_mistakes_in_several_files_are_reported_together(schemas: Path) -> None:
    edit(schemas / "goals.yaml", lambda d: d["goals"][2].pop("lead_partner"))
    edit_indicator(schemas, "dropout_rate", direction="higher")
    goals_line = line_of(schemas / "goals.yaml", "- id: hochschulzugang")
    direction_line = line_of(schemas / "indicators.yaml", "direction: higher")
    assert error_of(schemas) == (
        f"goals.yaml, line {goals_line}, key 'goals[2].lead_partner': missing (required)\n"
        f"indicators.yaml, line {direction_line}, key 'indicators[0].direction': 'higher' is not "
        "one of up, down"
    )


def test_loaders_can_be_called_directly(schemas: Path) -> None:
    measures = load_measures(schemas / "measures.yaml")
    goals = load_goals(schemas / "goals.yaml")
    indicators = load_indicators(schemas / "indicators.yaml", measures, goals)
    assert indicators == load_catalogue().indicators
    with pytest.raises(
        CatalogueError, match=r"^indicators\.yaml, line \d+, key 'indicators\[0\]\.goal'"
    ):
        load_indicators(schemas / "indicators.yaml", measures, {})


# --- one test per kind of YAML mistake, on a small catalogue -----------------------------------

SMALL_MEASURES = """\
measures:
  leavers_total: {label: "Abgänger/-innen", unit: count, description: "Alle Abgänger/-innen."}
  leavers_without_hsa: {label: "ohne HSA", unit: count, description: "Ohne Abschluss."}
"""
SMALL_GOALS = """\
goals:
  - id: schulabschluss
    title: "Kein Abschluss ohne Anschluss"
    description: "Fewer young people leave school without a qualification."
    lead_partner: "Kommunale Bildungsbüros der Ruhr"
"""
SMALL_INDICATORS = """\
indicators:
  - id: dropout_rate
    name: "Schulabgänger/-innen ohne Hauptschulabschluss"
    goal: schulabschluss
    kind: rate
    definition: "Anteil ohne Hauptschulabschluss, in %."
    numerator: [leavers_without_hsa]
    denominator: [leavers_total]
    scale: 100
    unit: "%"
    direction: down
    baseline: "2015/16"
    target: {value: 5.0, year: "2029/30"}
    responsible_partner: "Kommunale Bildungsbüros der Ruhr"
"""


def small(tmp_path: Path, old: str = "", new: str = "") -> str:
    """The message of a small catalogue whose indicators.yaml has `old` replaced by `new`."""
    (tmp_path / "measures.yaml").write_text(SMALL_MEASURES, encoding="utf-8")
    (tmp_path / "goals.yaml").write_text(SMALL_GOALS, encoding="utf-8")
    assert old in SMALL_INDICATORS
    text = SMALL_INDICATORS.replace(old, new, 1)
    (tmp_path / "indicators.yaml").write_text(text, encoding="utf-8")
    return error_of(tmp_path)


def test_the_small_catalogue_loads(tmp_path: Path) -> None:
    for name, text in [("measures", SMALL_MEASURES), ("goals", SMALL_GOALS),
                       ("indicators", SMALL_INDICATORS)]:  # fmt: skip
        (tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8")
    assert load_catalogue(tmp_path).indicators["dropout_rate"].target_value == 5.0


def test_yaml_mistake_unknown_key_with_a_hint(tmp_path: Path) -> None:
    assert small(tmp_path, "    scale: 100", "    scael: 100") == (
        "indicators.yaml, line 2, key 'indicators[0].scale': missing (required)\n"
        "indicators.yaml, line 9, key 'indicators[0].scael': unknown key; expected one of id, "
        "name, goal, kind, definition, numerator, denominator, scale, unit, direction, "
        "baseline, target, responsible_partner — did you mean 'scale'?"
    )


def test_yaml_mistake_wrong_type(tmp_path: Path) -> None:
    assert small(
        tmp_path, "numerator: [leavers_without_hsa]", "numerator: leavers_without_hsa"
    ) == (
        "indicators.yaml, line 7, key 'indicators[0].numerator': expected a list, got "
        "'leavers_without_hsa'"
    )


def test_yaml_mistake_decimal_comma_in_a_flow_mapping(tmp_path: Path) -> None:
    # {value: 4,5} is {value: 4, "5": null} to YAML: it must not silently become 4
    assert small(tmp_path, "{value: 5.0,", "{value: 4,5,") == (
        "indicators.yaml, line 13, key 'indicators[0].target.value': '4,5' — a decimal comma? "
        "YAML numbers take a point: 4.5"
    )


def test_yaml_mistake_decimal_comma_in_a_block_mapping(tmp_path: Path) -> None:
    block = '    target:\n      value: 4,5\n      year: "2029/30"'
    assert small(tmp_path, '    target: {value: 5.0, year: "2029/30"}', block) == (
        "indicators.yaml, line 14, key 'indicators[0].target.value': '4,5' — a decimal comma? "
        "YAML numbers take a point: 4.5"
    )


def test_yaml_mistake_missing_key(tmp_path: Path) -> None:
    assert small(tmp_path, '    unit: "%"\n', "") == (
        "indicators.yaml, line 2, key 'indicators[0].unit': missing (required)"
    )


def test_yaml_mistake_value_outside_its_set(tmp_path: Path) -> None:
    assert small(tmp_path, "direction: down", "direction: lower") == (
        "indicators.yaml, line 11, key 'indicators[0].direction': 'lower' is not one of up, down"
    )


def test_yaml_mistake_two_in_one_file(tmp_path: Path) -> None:
    text = SMALL_INDICATORS.replace("direction: down", "direction: lower")
    assert small(tmp_path, SMALL_INDICATORS, text.replace("{value: 5.0,", "{value: 4,5,")) == (
        "indicators.yaml, line 11, key 'indicators[0].direction': 'lower' is not one of up, "
        "down\n"
        "indicators.yaml, line 13, key 'indicators[0].target.value': '4,5' — a decimal comma? "
        "YAML numbers take a point: 4.5"
    )


def test_yaml_mistake_key_given_twice(tmp_path: Path) -> None:
    assert small(tmp_path, "    direction: down\n", "    direction: down\n    direction: up\n") == (
        "indicators.yaml, line 12, key 'indicators[0].direction': given twice (also on line 11); "
        "keep one"
    )


# --- Markdown --------------------------------------------------------------------------------


def test_render_markdown_mentions_every_indicator_goal_and_measure() -> None:
    catalogue = load_catalogue()
    text = render_markdown(catalogue)
    for indicator in catalogue.indicators.values():
        assert f"#### `{indicator.id}` — {indicator.name}" in text
        assert f"- Definition: {indicator.definition}" in text
    for goal in catalogue.goals.values():
        assert f"### Goal `{goal.id}`: {goal.title}" in text
    for measure in catalogue.measures.values():
        assert f"| `{measure.id}` | {measure.label} | {measure.unit} |" in text
    assert render_markdown() == text


def test_render_markdown_writes_formula_unit_and_target_plainly(schemas: Path) -> None:
    """The lines of an entry, for values this test sets (the real ones are the office's)."""
    edit_indicator(schemas, "dropout_rate", numerator=["leavers_without_hsa"],
                   denominator=["leavers_total"], scale=100, unit="%", direction="down",
                   baseline="2015/16", target={"value": 5.0, "year": "2029/30"})  # fmt: skip
    edit_indicator(schemas, "dropout_gap_male_female", indicator="dropout_rate",
                   minuend={"sex": "male"}, subtrahend={"sex": "female"})  # fmt: skip
    edit_indicator(schemas, "betreuungsquote_u3", target={"value": 37.5, "year": "2030/31"})
    text = render_markdown(load_catalogue(schemas))
    assert "- Computed as: 100 × Σ `leavers_without_hsa` / Σ `leavers_total`" in text
    assert "- Computed as: `dropout_rate` (sex=male) − `dropout_rate` (sex=female)" in text
    assert "- Unit: %; direction: ↓ lower is better" in text
    assert "- Baseline: 2015/16; target: 5 by 2029/30 (Ruhr)" in text  # 5.0 written as 5
    assert "target: 37.5 by 2030/31 (Ruhr)" in text


def test_render_markdown_matches_the_doc() -> None:
    doc = (SCHEMAS_DIR.parent / "docs" / "indicators.md").read_text(encoding="utf-8")
    match = re.search(
        r"<!-- generated:catalogue:start -->\n(.*)<!-- generated:catalogue:end -->", doc, re.S
    )
    assert match, "docs/indicators.md has no generated catalogue section"
    assert match.group(1) == render_markdown()


# --- the worked example of docs/indicators.md ------------------------------------------------


def with_gesamtschule_share(schemas: Path) -> Catalogue:
    """The catalogue copy with the doc's entry appended. Once the backbone office has added
    the indicator for real, its entry is taken out of the copy first."""
    indicators = schemas / "indicators.yaml"
    text = indicators.read_text(encoding="utf-8")
    text = re.sub(r"^  - id: gesamtschule_share\n(?:(?!  - id: ).*\n?)*", "", text, flags=re.M)
    assert "gesamtschule_share" not in text
    indicators.write_text(text.rstrip("\n") + "\n" + GESAMTSCHULE_SHARE, encoding="utf-8")
    return load_catalogue(schemas)


def test_worked_example_is_the_doc_text() -> None:
    doc = (SCHEMAS_DIR.parent / "docs" / "indicators.md").read_text(encoding="utf-8")
    (block,) = [b for b in re.findall(r"```yaml\n(.*?)```", doc, re.S) if "gesamtschule" in b]
    assert block.strip() == GESAMTSCHULE_SHARE.strip()


def test_worked_example_loads_and_renders(schemas: Path) -> None:
    catalogue = with_gesamtschule_share(schemas)
    share = catalogue.indicators["gesamtschule_share"]
    assert (share.kind, share.goal, share.numerator, share.denominator, share.scale) == (
        "rate",
        "hochschulzugang",
        ("pupils_gesamtschule",),
        ("pupils_total",),
        100.0,
    )
    assert (share.target_value, share.target_year, share.baseline_start_year) == (
        22.0,
        "2029/30",
        2015,
    )
    text = render_markdown(catalogue)
    assert "#### `gesamtschule_share` — Schüler/-innen an Gesamtschulen" in text
    assert "- Computed as: 100 × Σ `pupils_gesamtschule` / Σ `pupils_total`" in text
    # listed under its goal, after the goal's other indicators
    goal = text.index("### Goal `hochschulzugang`")
    next_goal = text.index("### Goal `inklusion`")
    assert text.index("gymnasium_share") < text.index("gesamtschule_share") < next_goal
    assert goal < text.index("gesamtschule_share")


RECKLINGHAUSEN_TOWNS = [
    f"05562{n}" for n in ("004", "008", "012", "014", "016", "020", "024", "028", "032", "036")
]


def test_worked_example_is_computed(schemas: Path, tmp_path: Path) -> None:
    """The new indicator is computed by the unchanged warehouse SQL: Σ over the Kreis' towns."""
    from warehouse.build import (
        build_measure_revisions,
        build_sql_table,
        load_catalogue_tables,
        load_regions_table,
    )
    from warehouse.db import init_schema

    catalogue = with_gesamtschule_share(schemas)
    records = []
    for i, town in enumerate(RECKLINGHAUSEN_TOWNS):
        records.append(("pupils_total", town, 1000.0 + 100 * i))
        records.append(("pupils_gesamtschule", town, 200.0 + 10 * i))
    frame = pd.DataFrame(
        [
            {
                "delivery_id": "d1",
                "source_id": "test",
                "measure": measure,
                "region_code": region,
                "school_year": "2016/17",
                "start_year": 2016,
                "sex": "total",
                "nationality": "total",
                "value": value,
                "status": "ok",
                "raw_value": str(value),
                "source_line": 1,
                "source_column": "c",
            }
            for measure, region, value in records
        ]
    )
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        init_schema(conn)
        load_regions_table(conn)
        load_catalogue_tables(conn, catalogue)
        conn.execute(
            "CREATE TABLE core.sources AS SELECT 'test' AS source_id, 'Test' AS title, "
            "'partner' AS standing, 1 AS rank"
        )
        conn.execute(
            "INSERT INTO meta.deliveries (delivery_id, source_id, delivery_seq, file_name, "
            "synthetic, state) VALUES ('d1', 'test', 1, 'd1.csv', false, 'loaded')"
        )
        conn.register("new_records", frame)
        conn.execute("INSERT INTO staging.records BY NAME SELECT * FROM new_records")
        build_measure_revisions(conn)
        build_sql_table(conn, "indicators/indicator_values.sql")
        rows = conn.execute(
            "SELECT region_code, value, status FROM marts.indicator_values "
            "WHERE indicator_id = 'gesamtschule_share' AND sex = 'total' "
            "AND nationality = 'total' AND school_year = '2016/17'"
        ).fetchall()
    values = {region: (value, status) for region, value, status in rows}
    pupils = sum(1000.0 + 100 * i for i in range(10))
    gesamtschule = sum(200.0 + 10 * i for i in range(10))
    assert values["05562"][0] == pytest.approx(100 * gesamtschule / pupils)
    assert values["05562"][1] == "ok"
    assert values["05562004"][0] == pytest.approx(20.0)
    assert values["05562036"][0] == pytest.approx(100 * 290 / 1900)
    assert "RVR" not in values  # the Ruhr needs all 53 municipalities


def test_baseline_after_target_and_non_numeric_targets_are_errors(schemas: Path) -> None:
    edit_indicator(schemas, "dropout_rate", baseline="2031/32")
    line = line_of(schemas / "indicators.yaml", "baseline: 2031/32")
    assert error_of(schemas) == (
        f"indicators.yaml, line {line}, key 'indicators[0].baseline': 2031/32 is after the "
        "target year 2029/30"
    )
    edit_indicator(schemas, "dropout_rate", baseline="2015/16",
                   target={"value": "fünf", "year": "2029/30"})  # fmt: skip
    line = line_of(schemas / "indicators.yaml", "value: fünf")
    assert error_of(schemas) == (
        f"indicators.yaml, line {line}, key 'indicators[0].target.value': expected a number, "
        "got 'fünf'"
    )


def test_the_catalogue_rebuilds_while_a_lookup_left_its_result_unread(tmp_path: Path) -> None:
    """A registry change makes core.catalogue rebuild in a connection whose last lookup read one
    row of its answer (the fingerprints do); DuckDB 2.0 then refused to register the tables:
    'connection has an unfinished result'. Found editing a source's YAML between two nights."""
    import duckdb

    from schemas.catalogue import load_catalogue
    from warehouse.build import load_catalogue_tables
    from warehouse.db import init_schema

    with duckdb.connect(str(tmp_path / "work.duckdb")) as conn:
        init_schema(conn)
        assert conn.execute("SELECT * FROM range(3)").fetchone() == (0,)  # two rows unread
        load_catalogue_tables(conn, load_catalogue())
        assert conn.execute("SELECT count(*) FROM core.indicators").fetchone()[0] >= 12
