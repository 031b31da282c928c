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


# --- the real catalogue ----------------------------------------------------------------------


def test_real_catalogue_loads() -> None:
    catalogue = load_catalogue()
    assert len(catalogue.indicators) >= 8
    assert list(catalogue.goals) == [
        "schulabschluss",
        "fruehe_bildung",
        "hochschulzugang",
        "inklusion",
        "lernbedingungen",
    ]
    rates = catalogue.rate_indicators()
    gaps = catalogue.gap_indicators()
    assert len(rates) + len(gaps) == len(catalogue.indicators)
    assert {i.id for i in gaps} == {
        "dropout_gap_male_female",
        "dropout_gap_foreign_german",
        "abitur_gap_german_foreign",
    }
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
    catalogue = load_catalogue()
    dropout = catalogue.indicators["dropout_rate"]
    assert (dropout.numerator, dropout.denominator, dropout.scale) == (
        ("leavers_without_hsa",),
        ("leavers_total",),
        100.0,
    )
    assert (dropout.direction, dropout.baseline, dropout.target_value, dropout.target_year) == (
        "down",
        "2015/16",
        5.0,
        "2029/30",
    )
    assert (dropout.baseline_start_year, dropout.target_start_year) == (2015, 2029)
    gap = catalogue.indicators["dropout_gap_male_female"]
    assert (gap.of_indicator, gap.minuend, gap.subtrahend) == (
        "dropout_rate",
        {"sex": "male"},
        {"sex": "female"},
    )
    assert catalogue.indicators["programme_pupil_reach"].scale == 1000.0
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


# --- errors name the file and the entry ------------------------------------------------------


def test_unknown_measure(schemas: Path) -> None:
    edit_indicator(schemas, "abitur_rate", numerator=["leavers_abitur", "leavers_abi_bogus"])
    assert error_of(schemas) == (
        "indicators.yaml: indicator 'abitur_rate': numerator measure(s) leavers_abi_bogus not in "
        "measures.yaml"
    )


def test_unknown_denominator_measure(schemas: Path) -> None:
    edit_indicator(schemas, "gymnasium_share", denominator=["pupils_everyone"])
    assert error_of(schemas) == (
        "indicators.yaml: indicator 'gymnasium_share': denominator measure(s) pupils_everyone not "
        "in measures.yaml"
    )


def test_unknown_goal(schemas: Path) -> None:
    edit_indicator(schemas, "dropout_rate", goal="weltfrieden")
    assert error_of(schemas) == (
        "indicators.yaml: indicator 'dropout_rate': goal 'weltfrieden' is not in goals.yaml"
    )


def test_removing_a_goal_still_used(schemas: Path) -> None:
    edit(schemas / "goals.yaml", lambda d: d["goals"].pop(0))  # schulabschluss
    assert error_of(schemas).startswith(
        "indicators.yaml: indicator 'dropout_rate': goal 'schulabschluss' is not in goals.yaml"
    )


def test_bad_direction(schemas: Path) -> None:
    edit_indicator(schemas, "betreuungsquote_u3", direction="higher")
    assert error_of(schemas) == (
        "indicators.yaml: indicator 'betreuungsquote_u3': direction must be one of ('up', 'down')"
    )


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"baseline": "2022/24"},
            "school year '2022/24': the second year must follow the first (expected 2022/23)",
        ),
        (
            {"target": {"value": 5.0, "year": "2029/31"}},
            "school year '2029/31': the second year must follow the first (expected 2029/30)",
        ),
        ({"baseline": "2015"}, "school year '2015' is not of the form 2022/23"),
    ],
)
def test_bad_school_year(schemas: Path, changes: dict[str, Any], expected: str) -> None:
    edit_indicator(schemas, "dropout_rate", **changes)
    assert error_of(schemas) == f"indicators.yaml: indicator 'dropout_rate': {expected}"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"minuend": {"sex": "boys"}}, "subgroup sex='boys' is not a canonical subgroup"),
        ({"subtrahend": {"gender": "female"}}, "subgroup gender='female' is not a canonical"),
        (
            {"minuend": {"nationality": "eu"}},
            "subgroup nationality='eu' is not a canonical subgroup",
        ),
    ],
)
def test_bad_subgroup(schemas: Path, changes: dict[str, Any], expected: str) -> None:
    edit_indicator(schemas, "dropout_gap_male_female", **changes)
    assert error_of(schemas).startswith(
        f"indicators.yaml: indicator 'dropout_gap_male_female': {expected}"
    )


def test_duplicate_indicator_id(schemas: Path) -> None:
    def duplicate(data: dict[str, Any]) -> None:
        data["indicators"].append(dict(data["indicators"][0]))

    edit(schemas / "indicators.yaml", duplicate)
    assert error_of(schemas) == "indicators.yaml: indicator 'dropout_rate': defined twice"


def test_measure_defined_twice(schemas: Path) -> None:
    edit(
        schemas / "measures.yaml",
        lambda d: d["measures"].update(
            pupils_gymnasium={"label": "x", "unit": "count", "description": "x"}
        ),
    )
    assert error_of(schemas) == (
        "measures.yaml: measure 'pupils_gymnasium': defined twice (also produced by a family)"
    )


def test_duplicate_goal_id(schemas: Path) -> None:
    def duplicate(data: dict[str, Any]) -> None:
        data["goals"].append({**data["goals"][0], "title": "Zweiter Titel"})

    edit(schemas / "goals.yaml", duplicate)
    with pytest.raises(CatalogueError, match=r"goals\.yaml: goal 'schulabschluss'"):
        load_catalogue(schemas)


def test_gap_of_a_non_rate(schemas: Path) -> None:
    edit_indicator(schemas, "abitur_gap_german_foreign", indicator="dropout_gap_male_female")
    assert error_of(schemas) == (
        "indicators.yaml: indicator 'abitur_gap_german_foreign': gap of "
        "'dropout_gap_male_female', which is not a rate indicator in this file"
    )


def test_gap_of_an_unknown_indicator(schemas: Path) -> None:
    edit_indicator(schemas, "dropout_gap_male_female", indicator="dropout_quote")
    assert error_of(schemas).startswith(
        "indicators.yaml: indicator 'dropout_gap_male_female': gap of 'dropout_quote', which is "
        "not a rate indicator"
    )


def test_gap_must_compare_one_dimension(schemas: Path) -> None:
    edit_indicator(
        schemas,
        "dropout_gap_male_female",
        minuend={"sex": "male"},
        subtrahend={"nationality": "german"},
    )
    with pytest.raises(CatalogueError, match="dropout_gap_male_female"):
        load_catalogue(schemas)


def test_unknown_kind(schemas: Path) -> None:
    edit_indicator(schemas, "gymnasium_share", kind="ratio")
    assert error_of(schemas) == (
        "indicators.yaml: indicator 'gymnasium_share': kind must be 'rate' or 'gap', not 'ratio'"
    )


def test_missing_keys(schemas: Path) -> None:
    def drop(data: dict[str, Any]) -> None:
        del data["indicators"][0]["target"], data["indicators"][0]["unit"]

    edit(schemas / "indicators.yaml", drop)
    assert error_of(schemas) == "indicators.yaml: indicator 'dropout_rate': missing unit, target"


def test_rate_needs_numerator_denominator_scale(schemas: Path) -> None:
    def drop(data: dict[str, Any]) -> None:
        del data["indicators"][0]["scale"]

    edit(schemas / "indicators.yaml", drop)
    assert error_of(schemas) == "indicators.yaml: indicator 'dropout_rate': missing scale"


def test_target_needs_value_and_year(schemas: Path) -> None:
    edit_indicator(schemas, "dropout_rate", target={"value": 5.0})
    assert error_of(schemas) == "indicators.yaml: indicator 'dropout_rate': target: missing year"


def test_bad_measure_unit(schemas: Path) -> None:
    edit(schemas / "measures.yaml", lambda d: d["measures"]["leavers_total"].update(unit="Köpfe"))
    assert error_of(schemas) == (
        "measures.yaml: measure 'leavers_total': unit 'Köpfe' is not one of "
        "('count', 'percent', 'hours')"
    )


def test_family_missing_keys(schemas: Path) -> None:
    edit(schemas / "measures.yaml", lambda d: d["families"][1].pop("unit"))
    assert error_of(schemas) == "measures.yaml: family 'pupils': missing unit"


def test_goal_missing_keys(schemas: Path) -> None:
    edit(schemas / "goals.yaml", lambda d: d["goals"][2].pop("lead_partner"))
    assert error_of(schemas) == "goals.yaml: goal 'hochschulzugang': missing lead_partner"


def test_not_yaml_and_not_a_mapping(schemas: Path) -> None:
    (schemas / "goals.yaml").write_text("goals: [unclosed\n", encoding="utf-8")
    assert error_of(schemas).startswith("goals.yaml: not valid YAML:")
    (schemas / "goals.yaml").write_text("- a list\n", encoding="utf-8")
    assert error_of(schemas) == "goals.yaml: expected a mapping at the top level"


def test_loaders_can_be_called_directly(schemas: Path) -> None:
    measures = load_measures(schemas / "measures.yaml")
    goals = load_goals(schemas / "goals.yaml")
    indicators = load_indicators(schemas / "indicators.yaml", measures, goals)
    assert indicators == load_catalogue().indicators
    with pytest.raises(CatalogueError, match=r"^indicators\.yaml: indicator 'dropout_rate': goal"):
        load_indicators(schemas / "indicators.yaml", measures, {})


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
    assert "- Computed as: 100 × Σ `leavers_without_hsa` / Σ `leavers_total`" in text
    assert "- Computed as: `dropout_rate` (sex=male) − `dropout_rate` (sex=female)" in text
    assert "- Unit: %; direction: ↓ lower is better" in text
    assert "- Baseline: 2015/16; target: 5 by 2029/30 (Ruhr)" in text
    assert render_markdown() == text


def test_render_markdown_matches_the_doc() -> None:
    doc = (SCHEMAS_DIR.parent / "docs" / "indicators.md").read_text(encoding="utf-8")
    match = re.search(
        r"<!-- generated:catalogue:start -->\n(.*)<!-- generated:catalogue:end -->", doc, re.S
    )
    assert match, "docs/indicators.md has no generated catalogue section"
    assert match.group(1) == render_markdown()


# --- the worked example of docs/indicators.md ------------------------------------------------


def with_gesamtschule_share(schemas: Path) -> Catalogue:
    indicators = schemas / "indicators.yaml"
    indicators.write_text(
        indicators.read_text(encoding="utf-8") + GESAMTSCHULE_SHARE, encoding="utf-8"
    )
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
        conn.execute("CREATE TABLE core.sources (source_id VARCHAR, title VARCHAR)")
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
    assert error_of(schemas) == (
        "indicators.yaml: indicator 'dropout_rate': the baseline 2031/32 is after the target "
        "year 2029/30"
    )
    edit_indicator(schemas, "dropout_rate", baseline="2015/16",
                   target={"value": "fünf", "year": "2029/30"})  # fmt: skip
    assert error_of(schemas) == (
        "indicators.yaml: indicator 'dropout_rate': target value 'fünf' is not a number"
    )
