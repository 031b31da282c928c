"""The source registry: loading YAML files, the errors that name file, line and key, the
defaults."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas.catalogue import load_catalogue
from sources.registry import (
    REGISTRY_DIR,
    SOURCES_DIR,
    Dimension,
    GenesisApi,
    Lookup,
    RegistryError,
    ValueColumn,
    load_registry,
    load_source,
)

MINIMAL: dict[str, Any] = {
    "id": "test_source",
    "title": "Test",
    "partner": "Partner",
    "licence": "CC0",
    "kind": "csv",
    "mapping": {
        "region": {"column": "AGS"},
        "school_year": {"column": "Schuljahr"},
        "values": {"Abgänger": "leavers_total"},
    },
    "standing": "partner",  # last: the tests' line numbers stay those of the other keys
}


@pytest.fixture(autouse=True)
def _fresh_registry_cache() -> Iterator[None]:
    load_registry.cache_clear()
    yield
    load_registry.cache_clear()


def spec(**changes: Any) -> dict[str, Any]:
    result = copy.deepcopy(MINIMAL)
    result.update(changes)
    if "standing" in result:  # last (see MINIMAL)
        result["standing"] = result.pop("standing")
    return result


def mapping(**changes: Any) -> dict[str, Any]:
    result = copy.deepcopy(MINIMAL["mapping"])
    result.update(changes)
    return result


def write(tmp_path: Path, content: dict[str, Any] | str, name: str | None = None) -> Path:
    if isinstance(content, dict):
        name = name or f"{content.get('id', 'test_source')}.yaml"
        text = yaml.safe_dump(content, allow_unicode=True, sort_keys=False)
    else:
        text = content
    path = tmp_path / (name or "test_source.yaml")
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(RegistryError) as exc:
        load_source(path)
    return str(exc.value)


# --- a valid minimal source ------------------------------------------------------------------


def test_minimal_source_loads_with_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, spec())
    source = load_source(path)
    assert source.id == "test_source"
    assert source.path == path
    assert (source.title, source.partner, source.licence, source.kind) == (
        "Test",
        "Partner",
        "CC0",
        "csv",
    )
    assert source.owner == "team:backbone-office"
    assert source.dataset == "measures"
    assert source.encoding == "auto"
    assert source.delimiter == "auto"
    assert source.decimal == ","
    assert source.thousands is None
    assert source.location == ()
    assert source.location_paths() == []
    assert source.synthetic is False
    assert source.expectations == ()
    assert source.description == ""
    assert source.coverage is None
    assert source.rounding is None
    assert source.columns == {}
    assert source.constants == {}
    m = source.measures
    assert m is not None
    assert (m.region_column, m.region_by, m.region_scope) == ("AGS", "key", None)
    assert (m.year_column, m.year_format) == ("Schuljahr", "school_year")
    assert m.sex == Dimension(constant="total")
    assert m.nationality == Dimension(constant="total")
    assert m.values == (ValueColumn(column="Abgänger", measure="leavers_total"),)
    assert m.lookups == {}
    assert m.labels == ()
    assert m.filters == {}
    assert m.count_rows_as is None
    assert m.absent_means_zero is False
    assert source.measure_ids() == {"leavers_total"}


def test_full_source_keeps_every_setting(tmp_path: Path) -> None:
    content = spec(
        owner="someone@example.org",
        synthetic=True,
        standing="synthetic",
        rank=2,
        description="  Eine Lieferung.  \n",
        location="demo/deliveries/x.csv",
        format={"encoding": "cp1252", "delimiter": ";", "decimal": ".", "thousands": ","},
        coverage="RVR",
        rounding=5,
        expectations=["school_leavers"],
        mapping=mapping(
            region={"column": "Stadt", "by": "name", "scope": "05562"},
            school_year={"column": "Stichtag", "format": "date"},
            sex={"column": "Geschlecht", "values": {"w": "female", "m": "male", "i": "total"}},
            nationality="foreign",
            values={
                "Abgänger": "leavers_total",
                "Abgänger weiblich": {"measure": "leavers_total", "sex": "female"},
                "ohne HSA deutsch": {"measure": "leavers_without_hsa", "nationality": "german"},
            },
            filters={"Art": 1},
        ),
    )
    source = load_source(write(tmp_path, content))
    assert source.owner == "someone@example.org"
    assert source.synthetic is True
    assert (source.standing, source.rank) == ("synthetic", 2)
    assert source.description == "Eine Lieferung."
    assert source.location == ("demo/deliveries/x.csv",)
    assert (source.encoding, source.delimiter, source.decimal, source.thousands) == (
        "cp1252",
        ";",
        ".",
        ",",
    )
    assert (source.coverage, source.rounding, source.expectations) == (
        "RVR",
        5,
        ("school_leavers",),
    )
    m = source.measures
    assert m is not None
    assert (m.region_column, m.region_by, m.region_scope) == ("Stadt", "name", "05562")
    assert (m.year_column, m.year_format) == ("Stichtag", "date")
    assert m.sex == Dimension(
        column="Geschlecht", values={"w": "female", "m": "male", "i": "total"}
    )
    assert m.nationality == Dimension(constant="foreign")
    assert m.values[1] == ValueColumn(
        column="Abgänger weiblich", measure="leavers_total", sex="female"
    )
    assert m.values[2] == ValueColumn(
        column="ohne HSA deutsch", measure="leavers_without_hsa", nationality="german"
    )
    assert m.filters == {"Art": ("1",)}  # values are compared as text
    assert source.measure_ids() == {"leavers_total", "leavers_without_hsa"}


def test_reference_dataset_renames_columns(tmp_path: Path) -> None:
    content = spec(
        dataset="school_social_index",
        mapping={
            "columns": {"school_number": "Schulnummer", "social_index": "Stufe"},
            "constants": {"school_year": "2025/26"},
        },
    )
    source = load_source(write(tmp_path, content))
    assert source.dataset == "school_social_index"
    assert source.measures is None
    assert source.columns == {"school_number": "Schulnummer", "social_index": "Stufe"}
    assert source.constants == {"school_year": "2025/26"}
    assert source.measure_ids() == set()


# --- errors name the file, the line and the key ------------------------------------------------


def line_of(path: Path, needle: str, after: str = "") -> int:
    """The line number of the first line containing `needle` (after the line with `after`)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if after in line) if after else 0
    return next(i for i in range(start, len(lines)) if needle in lines[i]) + 1


def test_missing_keys(tmp_path: Path) -> None:
    content = spec()
    del content["title"], content["kind"]
    message = error_of(write(tmp_path, content))
    assert message == (
        "test_source.yaml, line 1, key 'title': missing (required)\n"
        "test_source.yaml, line 1, key 'kind': missing (required)"
    )


@pytest.mark.parametrize("bad_id", ["Test-Source", "1source", "ab", "test source", "tést"])
def test_bad_id(tmp_path: Path, bad_id: str) -> None:
    message = error_of(write(tmp_path, spec(id=bad_id), name="bad.yaml"))
    assert message == (
        f"bad.yaml, line 1, key 'id': '{bad_id}' is not a valid id: lower case letters, digits "
        "and _, starting with a letter, 3–63 characters"
    )


def test_file_not_named_after_id(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, spec(), name="other_name.yaml"))
    assert message == (
        "other_name.yaml, line 1, key 'id': 'test_source' — the file must be named after its "
        "id: test_source.yaml"
    )


def test_unknown_kind(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, spec(kind="xlsx")))
    assert message == (
        "test_source.yaml, line 5, key 'kind': 'xlsx' is not one of csv, genesis_table_csv, "
        "genesis_ffcsv, genesis_api, json_api"
    )


def test_unknown_dataset(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, spec(dataset="pupils")))
    assert message == (
        "test_source.yaml, line 13, key 'dataset': 'pupils' is not one of measures, "
        "school_directory, school_social_index"
    )


def test_unknown_expectation_suite(tmp_path: Path) -> None:
    path = write(tmp_path, spec(expectations=["school_leavers", "school_laevers_2"]))
    suites = ", ".join(sorted(p.stem for p in (SOURCES_DIR.parent / "expectations").glob("*.json")))
    assert "school_leavers, school_social_index" in suites
    assert error_of(path) == (
        f"test_source.yaml, line {line_of(path, '- school_laevers_2')}, key 'expectations[1]': "
        "'school_laevers_2' is not an expectation suite in expectations/; expected one of "
        f"{suites} — did you mean 'school_leavers'?"
    )


def test_measure_not_in_the_catalogue(tmp_path: Path) -> None:
    content = spec(mapping=mapping(values={"A": "leavers_total", "B": "leavers_totals"}))
    path = write(tmp_path, content)
    assert error_of(path) == (
        f"test_source.yaml, line {line_of(path, 'B: leavers_totals')}, key 'mapping.values.B': "
        "'leavers_totals' is not a measure in schemas/measures.yaml — did you mean "
        "'leavers_total'?"
    )


def test_template_expanding_to_an_unknown_measure(tmp_path: Path) -> None:
    content = spec(
        mapping=mapping(
            lookups={"v": {"column": "Merkmal", "values": {"Schulen": "schools", "X": "bogus"}}},
            values={"Gymnasien": "{v}_gymnasium"},
        )
    )
    path = write(tmp_path, content)
    assert error_of(path) == (
        f"test_source.yaml, line {line_of(path, 'Gymnasien:')}, key 'mapping.values.Gymnasien': "
        "'{v}_gymnasium' gives bogus_gymnasium, not measures in schemas/measures.yaml"
    )


def test_count_rows_as_must_be_a_measure(tmp_path: Path) -> None:
    path = write(tmp_path, spec(mapping=mapping(count_rows_as="schools_counted")))
    assert error_of(path) == (
        f"test_source.yaml, line {line_of(path, 'count_rows_as:')}, key "
        "'mapping.count_rows_as': 'schools_counted' is not a measure in schemas/measures.yaml"
    )


def test_template_placeholder_without_lookup(tmp_path: Path) -> None:
    path = write(tmp_path, spec(mapping=mapping(values={"Gymnasien": "{variable}_gymnasium"})))
    assert error_of(path) == (
        f"test_source.yaml, line {line_of(path, 'Gymnasien:')}, key 'mapping.values.Gymnasien': "
        "'{variable}_gymnasium' uses {variable}, but mapping.lookups has no 'variable'"
    )


@pytest.mark.parametrize(
    ("changes", "needle", "expected"),
    [
        (
            {"sex": {"column": "G", "values": {"w": "woman", "m": "male"}}},
            "w: woman",
            "key 'mapping.sex.values.w': 'woman' is not one of total, female, male",
        ),
        (
            {"nationality": {"column": "N", "values": {"d": "deutsch"}}},
            "d: deutsch",
            "key 'mapping.nationality.values.d': 'deutsch' is not one of total, german, foreign",
        ),
        (
            {"sex": "weiblich"},
            "sex: weiblich",
            "key 'mapping.sex': 'weiblich' is not one of total, female, male",
        ),
        ({"sex": {"column": "G"}}, "sex:", "key 'mapping.sex.values': missing (required)"),
        (
            {"sex": ["female"]},
            "sex:",
            "key 'mapping.sex': expected total, female or male, or {column: …, values: …}, got "
            "a list",
        ),
        (
            {"values": {"A": {"measure": "leavers_total", "sex": "girls"}}},
            "sex: girls",
            "key 'mapping.values.A.sex': 'girls' is not one of total, female, male",
        ),
        (
            {"values": {"A": {"measure": "leavers_total", "nationality": "eu"}}},
            "nationality: eu",
            "key 'mapping.values.A.nationality': 'eu' is not one of total, german, foreign",
        ),
        (
            {"derive_totals": ["sex", "age"]},
            "- age",
            "key 'mapping.derive_totals[1]': 'age' is not one of sex, nationality",
        ),
    ],
)
def test_subgroup_values_must_be_canonical(
    tmp_path: Path, changes: dict[str, Any], needle: str, expected: str
) -> None:
    path = write(tmp_path, spec(mapping=mapping(**changes)))
    assert error_of(path) == f"test_source.yaml, line {line_of(path, needle)}, {expected}"


def test_bad_region_by(tmp_path: Path) -> None:
    path = write(tmp_path, spec(mapping=mapping(region={"column": "AGS", "by": "ags"})))
    assert error_of(path) == (
        "test_source.yaml, line 9, key 'mapping.region.by': 'ags' is not one of key, name, "
        "school_number"
    )


def test_bad_school_year_format(tmp_path: Path) -> None:
    path = write(tmp_path, spec(mapping=mapping(school_year={"column": "Jahr", "format": "yyyy"})))
    assert error_of(path) == (
        "test_source.yaml, line 11, key 'mapping.school_year.format': 'yyyy' is not one of "
        "school_year, start_year, end_year, date, iso_date, semester, quarter, month, period"
    )


@pytest.mark.parametrize("key", ["region", "school_year", "values"])
def test_mapping_needs_region_year_and_values(tmp_path: Path, key: str) -> None:
    content = spec(mapping=mapping())
    del content["mapping"][key]
    assert error_of(write(tmp_path, content)) == (
        f"test_source.yaml, line 6, key 'mapping.{key}': missing (required)"
    )


def test_reference_dataset_needs_columns(tmp_path: Path) -> None:
    content = spec(dataset="school_directory", mapping={"constants": {"a": "b"}})
    assert error_of(write(tmp_path, content)) == (
        "test_source.yaml, line 6, key 'mapping.columns': missing (required)"
    )


def test_bad_location(tmp_path: Path) -> None:
    path = write(tmp_path, spec(location={"path": "x.csv"}))
    assert error_of(path) == (
        "test_source.yaml, line 13, key 'location': expected a path or a list of paths, got a "
        "mapping"
    )


def test_not_yaml_and_not_a_mapping(tmp_path: Path) -> None:
    assert error_of(write(tmp_path, "id: [unclosed\n")) == (
        "test_source.yaml, line 2: not valid YAML: expected ',' or ']', but got '<stream end>' "
        "(while parsing a flow sequence from line 1)"
    )
    assert error_of(write(tmp_path, "- a list\n")) == (
        "test_source.yaml, line 1: expected a mapping of keys (id: …, title: …) at the top level"
    )
    assert error_of(write(tmp_path, "")) == (
        "test_source.yaml, line 1: expected a mapping of keys (id: …, title: …) at the top level"
    )


def test_region_without_column_names_file_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, spec(mapping=mapping(region={"by": "key"})))
    assert (
        error_of(path)
        == "test_source.yaml, line 7, key 'mapping.region.column': missing (required)"
    )


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ({"decimal": ";"}, "key 'format.decimal': ';' is not one of ',', '.'"),
        (
            {"decimal": ",", "thousands": ","},
            "key 'format.thousands': ',' is also the decimal separator; thousands must differ "
            "from decimal",
        ),
        (
            {"encoding": "latin-9x"},
            "key 'format.encoding': 'latin-9x' is not an encoding; expected auto, utf-8, "
            "utf-8-sig, cp1252, cp850 or another Python codec",
        ),
        (
            {"delimiter": ";;"},
            "key 'format.delimiter': ';;' is not a delimiter; expected auto or one character: "
            "; , | \\t",
        ),
    ],
)
def test_bad_format_is_rejected(tmp_path: Path, fmt: dict[str, str], expected: str) -> None:
    path = write(tmp_path, spec(format=fmt))
    key = expected.split("'")[1].split(".")[1]
    line = line_of(path, f"{key}:", "format:")
    assert error_of(path) == f"test_source.yaml, line {line}, {expected}"


def test_owner_must_be_a_team_or_an_address(tmp_path: Path) -> None:
    assert error_of(write(tmp_path, spec(owner="Bildungsbüro"))) == (
        "test_source.yaml, line 13, key 'owner': 'Bildungsbüro' is not an owner Dagster accepts: "
        "team:<name> or an e-mail address"
    )


def test_credentials_name_environment_variables(tmp_path: Path) -> None:
    text = API_YAML.replace("username_env: REGIONALSTATISTIK_USERNAME", "username_env: max")
    assert error_of(write(tmp_path, text, "test_api.yaml")) == (
        "test_api.yaml, line 9, key 'api.credentials.username_env': 'max' must name an "
        "environment variable (upper case, e.g. REGIONALSTATISTIK_USERNAME) — never the "
        "credential itself"
    )


def test_api_only_for_api_kinds_and_required_for_them(tmp_path: Path) -> None:
    assert error_of(write(tmp_path, API_YAML.replace("kind: genesis_api", "kind: csv"),
                          "test_api.yaml")) == (
        "test_api.yaml, line 6, key 'api': only for the kinds genesis_api, json_api, not for "
        "kind csv"
    )  # fmt: skip
    text = SOURCE_YAML.replace("kind: csv", "kind: json_api")
    assert error_of(write(tmp_path, text)) == (
        "test_source.yaml, line 1, key 'api': missing (required for kind json_api)"
    )


def test_json_api_unknown_key(tmp_path: Path) -> None:
    text = SOURCE_YAML.replace("kind: csv", "kind: json_api") + (
        "api: {url: 'https://example.org/api/', page_sise: 100}\n"
    )
    assert error_of(write(tmp_path, text)) == (
        "test_source.yaml, line 18, key 'api.page_sise': unknown key; expected one of url, "
        "page_size, page_size_param, results_key, next_key, count_key, token_env, auth, "
        "timeout_seconds, time_budget_seconds, attempts — did you mean 'page_size'?"
    )


def test_quality_overrides_are_checked_against_quality_yaml(tmp_path: Path) -> None:
    text = SOURCE_YAML + (
        "quality:\n"
        "  year_over_year: {relative: 1,5, measures: every}\n"
        "  level_consistency: nein\n"
        "  completness: false\n"
    )
    assert error_of(write(tmp_path, text)) == (
        "test_source.yaml, line 19, key 'quality.year_over_year.relative': '1,5' — a decimal "
        "comma? YAML numbers take a point: 1.5\n"
        "test_source.yaml, line 19, key 'quality.year_over_year.measures': 'every' is not one of "
        "indicators, all\n"
        "test_source.yaml, line 20, key 'quality.level_consistency': expected true, false or a "
        "mapping of its settings, got 'nein'\n"
        "test_source.yaml, line 21, key 'quality.completness': unknown key; expected one of "
        "year_over_year, completeness, level_consistency, subgroups, revisions, "
        "source_conflicts, examples — did you mean 'completeness'?"
    )


def test_quality_overrides_that_fit_load(tmp_path: Path) -> None:
    text = SOURCE_YAML + (
        "quality:\n"
        "  year_over_year: {relative: 1, min_absolute: 20, measures: all}\n"
        "  level_consistency: false\n"
        "  completeness: {level: kreis}\n"
        "  examples: 10\n"
    )
    source = load_source(write(tmp_path, text))
    assert source.quality == {
        "year_over_year": {"relative": 1, "min_absolute": 20, "measures": "all"},
        "level_consistency": False,
        "completeness": {"level": "kreis"},
        "examples": 10,
    }


# --- one test per kind of YAML mistake ---------------------------------------------------------

SOURCE_YAML = """\
id: test_source
title: "Schulabgänger/-innen"
partner: "Bildungsbüro"
licence: "CC0"
kind: csv
format: {encoding: utf-8, delimiter: ";", decimal: ","}
coverage: "05"
rounding: 5
expectations: [school_leavers]
mapping:
  region: {column: AGS, by: key}
  school_year: {column: Schuljahr, format: school_year}
  sex: {column: Geschlecht, values: {insgesamt: total, weiblich: female, männlich: male}}
  values:
    Abgänger/-innen: leavers_total
    ohne Abschluss: leavers_without_hsa
standing: partner
"""

API_YAML = """\
id: test_api
title: "Abgänger/-innen nach Abschlussart (GENESIS)"
partner: "Regionalstatistik"
licence: "Datenlizenz Deutschland – Namensnennung – Version 2.0"
kind: genesis_api
api:
  base_url: https://www.regionalstatistik.de/genesisws/rest/2020
  table: 21111-02-06-4
  credentials: {username_env: REGIONALSTATISTIK_USERNAME}
  timeout_seconds: 60
mapping:
  region: {column: "variable:KREISE", by: key}
  school_year: {column: time, format: end_year}
  values:
    value: leavers_total
standing: official
"""


def mistake(tmp_path: Path, old: str, new: str, text: str = SOURCE_YAML) -> str:
    """The message of SOURCE_YAML (or `text`) with `old` replaced by `new`."""
    assert old in text
    name = "test_api.yaml" if text is API_YAML else "test_source.yaml"
    return error_of(write(tmp_path, text.replace(old, new, 1), name))


def test_the_yaml_of_these_tests_loads(tmp_path: Path) -> None:
    source = load_source(write(tmp_path, SOURCE_YAML))
    assert (source.coverage, source.rounding, source.encoding) == ("05", 5, "utf-8")
    api = load_source(write(tmp_path, API_YAML, "test_api.yaml")).api
    assert isinstance(api, GenesisApi)
    assert (api.username_env, api.password_env, api.timeout_seconds) == (
        "REGIONALSTATISTIK_USERNAME",
        None,
        60.0,
    )


def test_yaml_mistake_unknown_key_with_a_hint(tmp_path: Path) -> None:
    assert mistake(tmp_path, "by: key}", "bx: key}") == (
        "test_source.yaml, line 11, key 'mapping.region.bx': unknown key; expected one of "
        "column, by, scope — did you mean 'by'?"
    )


def test_yaml_mistake_unknown_key_without_a_hint(tmp_path: Path) -> None:
    assert mistake(tmp_path, "rounding: 5\n", "rounding: 5\nremarks: none\n") == (
        "test_source.yaml, line 9, key 'remarks': unknown key; expected one of id, title, "
        "partner, owner, licence, synthetic, standing, rank, description, kind, dataset, "
        "location, format, coverage, territory, rounding, expectations, api, quality, mapping"
    )


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("rounding: 5", "rounding: five",
         "line 8, key 'rounding': expected a whole number, got 'five'"),
        ("rounding: 5", "rounding: 2.5",
         "line 8, key 'rounding': expected a whole number, got 2.5"),
        ('coverage: "05"', "coverage: 05",
         "line 7, key 'coverage': expected text, got 05 — put it in quotes: \"05\""),
        ('title: "Schulabgänger/-innen"', "title:",
         "line 2, key 'title': expected text, got nothing (the value is empty)"),
        ("    ohne Abschluss: leavers_without_hsa", "    ohne Abschluss:",
         "line 16, key 'mapping.values[\"ohne Abschluss\"]': expected a measure id or "
         "{measure: …, sex: …, nationality: …}, got nothing (the value is empty)"),
        ("expectations: [school_leavers]", "expectations: school_leavers",
         "line 9, key 'expectations': expected a list, got 'school_leavers'"),
        ("  values:\n    Abgänger/-innen: leavers_total\n    ohne Abschluss: leavers_without_hsa\n",
         "  values: leavers_total\n",
         "line 14, key 'mapping.values': expected a mapping (key: value), got 'leavers_total'"),
    ],
)  # fmt: skip
def test_yaml_mistake_wrong_type(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert mistake(tmp_path, old, new) == f"test_source.yaml, {expected}"


def test_yaml_mistake_decimal_comma_in_a_block_number(tmp_path: Path) -> None:
    assert mistake(tmp_path, "rounding: 5", "rounding: 2,5") == (
        "test_source.yaml, line 8, key 'rounding': '2,5' — a decimal comma? YAML numbers take a "
        "point: 2.5"
    )


def test_yaml_mistake_decimal_comma_in_a_flow_number(tmp_path: Path) -> None:
    # {…, timeout_seconds: 7,5} is {…, timeout_seconds: 7, "5": null} to YAML
    flow = "api: {base_url: 'https://x.example/rest/2020', table: '1', timeout_seconds: 7,5,\n"
    text = API_YAML.replace(
        "api:\n  base_url: https://www.regionalstatistik.de/genesisws/rest/2020\n"
        "  table: 21111-02-06-4\n"
        "  credentials: {username_env: REGIONALSTATISTIK_USERNAME}\n  timeout_seconds: 60\n",
        flow + "      credentials: {username_env: REGIONALSTATISTIK_USERNAME}}\n",
    )
    assert error_of(write(tmp_path, text, "test_api.yaml")) == (
        "test_api.yaml, line 6, key 'api.timeout_seconds': '7,5' — a decimal comma? YAML "
        "numbers take a point: 7.5"
    )


def test_yaml_mistake_missing_key(tmp_path: Path) -> None:
    assert mistake(
        tmp_path, "{column: Schuljahr, format: school_year}", "{format: school_year}"
    ) == ("test_source.yaml, line 12, key 'mapping.school_year.column': missing (required)")


def test_yaml_mistake_value_outside_its_set(tmp_path: Path) -> None:
    assert mistake(tmp_path, "by: key}", "by: nam}") == (
        "test_source.yaml, line 11, key 'mapping.region.by': 'nam' is not one of key, name, "
        "school_number — did you mean 'name'?"
    )


def test_yaml_mistake_two_in_one_file(tmp_path: Path) -> None:
    text = SOURCE_YAML.replace("rounding: 5", "rounding: 2,5").replace("by: key}", "by: nam}")
    assert error_of(write(tmp_path, text)) == (
        "test_source.yaml, line 8, key 'rounding': '2,5' — a decimal comma? YAML numbers take a "
        "point: 2.5\n"
        "test_source.yaml, line 11, key 'mapping.region.by': 'nam' is not one of key, name, "
        "school_number — did you mean 'name'?"
    )


def test_yaml_mistake_key_given_twice(tmp_path: Path) -> None:
    assert mistake(tmp_path, "rounding: 5\n", "rounding: 5\nrounding: 3\n") == (
        "test_source.yaml, line 9, key 'rounding': given twice (also on line 8); keep one"
    )


def test_numbers_where_text_is_expected_are_taken_as_written(tmp_path: Path) -> None:
    text = SOURCE_YAML.replace(
        "  values:\n", "  filters: {Schulart: 007, Stand: 1.50}\n  values:\n"
    )
    text = text.replace("weiblich: female, männlich: male", "01: female, 02: mänlich")
    assert error_of(write(tmp_path, text)) == (
        "test_source.yaml, line 13, key 'mapping.sex.values[\"02\"]': 'mänlich' is not one of "
        "total, female, male"
    )
    source = load_source(write(tmp_path, text.replace("02: mänlich", "02: male")))
    assert source.measures is not None
    assert source.measures.filters == {"Schulart": ("007",), "Stand": ("1.50",)}
    assert source.measures.sex.values == {"insgesamt": "total", "01": "female", "02": "male"}


# --- extends -----------------------------------------------------------------------------------


def extending(tmp_path: Path, base: str, child: str) -> Path:
    """demo/test_source.yaml = `base`, production/test_source.yaml = `child` (extends it)."""
    (tmp_path / "demo").mkdir(exist_ok=True)
    (tmp_path / "production").mkdir(exist_ok=True)
    write(tmp_path / "demo", base)
    return write(tmp_path / "production", "extends: ../demo/test_source.yaml\n" + child)


def test_extends_merges_format_and_api_key_by_key(tmp_path: Path) -> None:
    path = extending(tmp_path, SOURCE_YAML, 'title: "Live"\nformat: {decimal: "."}\nrounding: 3\n')
    source = load_source(path)
    assert (source.title, source.partner, source.rounding) == ("Live", "Bildungsbüro", 3)
    assert (source.encoding, source.delimiter, source.decimal) == ("utf-8", ";", ".")
    assert source.path == path


def test_yaml_mistake_in_a_file_reached_through_extends(tmp_path: Path) -> None:
    path = extending(
        tmp_path,
        SOURCE_YAML.replace("by: key}", "by: nam}"),
        'title: "Live"\nformat: {decmal: "."}\nrounding: fünf\n',
    )
    assert error_of(path) == (
        "test_source.yaml, line 3, key 'format.decmal': unknown key; expected one of encoding, "
        "excel_encodings, delimiter, decimal, thousands, symbols — did you mean 'decimal'?\n"
        "test_source.yaml, line 4, key 'rounding': expected a whole number, got 'fünf'\n"
        "../demo/test_source.yaml, line 11, key 'mapping.region.by': 'nam' is not one of key, "
        "name, school_number — did you mean 'name'?"
    )


def test_extends_a_missing_file_or_itself(tmp_path: Path) -> None:
    path = write(tmp_path, "extends: ../demo/nothing.yaml\nsynthetic: false\n")
    assert error_of(path) == (
        f"test_source.yaml, line 1, key 'extends': '../demo/nothing.yaml' not found "
        f"({(tmp_path.parent / 'demo' / 'nothing.yaml').resolve()})"
    )
    path = write(tmp_path, "extends: test_source.yaml\n")
    assert error_of(path) == (
        "test_source.yaml, line 1, key 'extends': 'test_source.yaml' loops back to test_source.yaml"
    )


# --- location, measure ids -------------------------------------------------------------------


def test_location_paths_keep_the_listed_order_and_expand_globs_by_name(tmp_path: Path) -> None:
    folder = tmp_path / "files"
    (folder / "sub.csv").mkdir(parents=True)  # a folder matching the glob is not a file
    for name in ("c.csv", "a.csv", "b.csv", "z_first.csv", "notes.txt"):
        (folder / name).write_text("x")
        os.utime(folder / name, (1000, 1000))
    content = spec(
        location=[
            str(folder / "z_first.csv"),
            str(folder / "*.csv"),
            str(folder / "missing.csv"),
            str(folder / "notes.txt"),
        ]
    )
    source = load_source(write(tmp_path, content))
    assert [p.name for p in source.location_paths()] == [
        "z_first.csv",  # listed first; the glob does not repeat it
        "a.csv",
        "b.csv",
        "c.csv",
        "notes.txt",
    ]


def test_location_relative_to_sources(tmp_path: Path) -> None:
    content = spec(location="demo/deliveries/kita_betreuung/SYNTHETISCH_*.csv")
    source = load_source(write(tmp_path, content))
    assert source.location_paths() == [
        SOURCES_DIR / "demo/deliveries/kita_betreuung" / name
        for name in (
            "SYNTHETISCH_kindertagesbetreuung_berichtigung_2024.csv",
            "SYNTHETISCH_kindertagesbetreuung_nrw_2013-2024.csv",
        )
    ]


def test_measure_ids_expand_templates_over_lookups(tmp_path: Path) -> None:
    content = spec(
        mapping=mapping(
            lookups={
                "variable": {
                    "column": "Merkmal",
                    "values": {"Schulen": "schools", "Schüler/-innen": "pupils", "SuS": "pupils"},
                },
                "form": {"column": "Form", "values": {"GY": "gymnasium", "GE": "gesamtschule"}},
            },
            values={"Wert": "{variable}_{form}", "Summe": "{variable}_total"},
            count_rows_as="programme_schools_reached",
        )
    )
    source = load_source(write(tmp_path, content))
    assert source.measures is not None
    assert source.measures.lookups["form"] == Lookup(
        column="Form", values={"GY": "gymnasium", "GE": "gesamtschule"}
    )
    assert source.measure_ids() == {
        "schools_gymnasium",
        "schools_gesamtschule",
        "pupils_gymnasium",
        "pupils_gesamtschule",
        "schools_total",
        "pupils_total",
        "programme_schools_reached",
    }


# --- the real registry -----------------------------------------------------------------------


def test_real_registry_loads_all_sources() -> None:
    """Every file of the demo registry loads; the demo reads bundled files only, and the
    synthetic ones say so in their file names. (The list follows the folder: the sources
    themselves are listed in docs/sources.md, generated from the same files.)"""
    registry = load_registry()
    assert list(registry) == sorted(p.stem for p in REGISTRY_DIR.glob("*.yaml"))
    for source_id, source in registry.items():
        assert source.path == REGISTRY_DIR / f"{source_id}.yaml"
        files = source.location_paths()
        assert files, f"{source_id}: bundled files not found"
        labelled = [p.name.startswith("SYNTHETISCH_") for p in files]
        assert labelled == [source.synthetic] * len(files), source_id
    assert {source.synthetic for source in registry.values()} == {True, False}


def test_real_registry_details() -> None:
    registry = load_registry()
    itnrw = registry["itnrw_21111_9k21"]
    assert "schools_foerderschule" in itnrw.measure_ids()
    assert "leavers_schoolform_gymnasium" in itnrw.measure_ids()
    assert len(itnrw.measure_ids()) == 4 * 13  # 4 variables x 13 school forms
    kita = registry["kita_betreuung"]
    assert [p.name for p in kita.location_paths()] == [
        "SYNTHETISCH_kindertagesbetreuung_nrw_2013-2024.csv",  # listed first: corrected later
        "SYNTHETISCH_kindertagesbetreuung_berichtigung_2024.csv",
    ]
    assert registry["bevoelkerung_kinder"].measure_ids() == {"population_u3", "population_3_6"}
    assert registry["lernfoerderung"].measure_ids() == {
        "programme_pupils_reached",
        "programme_tutoring_hours",
        "programme_schools_reached",
    }
    assert registry["nrw_schuldaten"].measure_ids() == set()


def test_load_registry_of_another_directory(tmp_path: Path) -> None:
    write(tmp_path, spec())
    write(tmp_path, spec(id="second_source", rank=2))
    assert list(load_registry(tmp_path)) == ["second_source", "test_source"]


def test_two_sources_of_one_standing_and_rank_with_a_common_measure_are_a_mistake(
    tmp_path: Path,
) -> None:
    """Which of their figures is current would depend on the order of arrival."""
    write(tmp_path, spec())
    write(tmp_path, spec(id="second_source"))
    write(tmp_path, spec(id="other_measure", mapping=mapping(values={"x": "pupils_total"})))
    assert error_of_registry(tmp_path) == (
        "test_source.yaml, key 'rank': test_source and second_source (second_source.yaml) both "
        "deliver leavers_total with standing partner and rank 1; give one of them another "
        "rank (1 comes first)"
    )


def test_standing_and_the_synthetic_flag_agree(tmp_path: Path) -> None:
    assert error_of(write(tmp_path, spec(synthetic=True))) == (
        "test_source.yaml, line 14, key 'standing': 'partner' with synthetic: true; a "
        "synthetic source has standing synthetic, and only a synthetic one"
    )
    assert error_of(write(tmp_path, spec(standing="offiziell"))) == (
        "test_source.yaml, line 13, key 'standing': 'offiziell' is not one of official, "
        "partner, synthetic — did you mean 'official'?"
    )


def test_load_registry_of_an_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="no source files"):
        load_registry(tmp_path)


def test_load_registry_reports_every_bad_file(tmp_path: Path) -> None:
    write(tmp_path, spec())
    write(tmp_path, spec(id="broken_source", kind="pdf"))
    write(tmp_path, spec(id="other_source", rounding="2,5"))
    assert error_of_registry(tmp_path) == (
        "broken_source.yaml, line 5, key 'kind': 'pdf' is not one of csv, genesis_table_csv, "
        "genesis_ffcsv, genesis_api, json_api\n"
        "other_source.yaml, line 13, key 'rounding': '2,5' — a decimal comma? YAML numbers take "
        "a point: 2.5"
    )


def error_of_registry(directory: Path) -> str:
    with pytest.raises(RegistryError) as exc:
        load_registry(directory)
    return str(exc.value)


# --- the CLI and Dagster say it plainly ------------------------------------------------------


@pytest.fixture
def broken_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A registry folder with two mistakes in one file; the CLI's environment restored after."""
    for name in ("BILDUNGSMONITOR_REGISTRY_DIR", "BILDUNGSMONITOR_PROFILE", "DAGSTER_HOME",
                 "BILDUNGSMONITOR_DATA_DIR"):  # fmt: skip
        monkeypatch.setenv(name, "")  # so that monkeypatch restores what the CLI sets
        monkeypatch.delenv(name)
    folder = tmp_path / "registry"
    folder.mkdir()
    text = SOURCE_YAML.replace("rounding: 5", "rounding: 2,5").replace("by: key}", "by: nam}")
    write(folder, text)
    return folder


BROKEN = (
    "test_source.yaml, line 8, key 'rounding': '2,5' — a decimal comma? YAML numbers take a "
    "point: 2.5\n"
    "test_source.yaml, line 11, key 'mapping.region.by': 'nam' is not one of key, name, "
    "school_number — did you mean 'name'?\n"
)


@pytest.mark.parametrize(
    "command",
    [
        ["run"],
        ["screen", "delivery.csv", "--source", "test_source"],
        ["genesis-metadata", "--source", "test_source"],
    ],
)
def test_the_cli_prints_the_mistakes_and_exits_with_2(
    broken_registry: Path, tmp_path: Path, capsys: pytest.CaptureFixture, command: list[str]
) -> None:
    from pipelines.cli import main

    (tmp_path / "delivery.csv").write_text("AGS;Schuljahr\n", encoding="utf-8")
    argv = [*command, "--registry", str(broken_registry), "--data-dir", str(tmp_path / "data")]
    argv = [str(tmp_path / a) if a == "delivery.csv" else a for a in argv]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", BROKEN)
    assert not (tmp_path / "data").exists()  # nothing was started


def test_the_cli_prints_catalogue_mistakes_and_exits_with_2(
    broken_registry: Path, tmp_path: Path, capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    import schemas.catalogue
    import sources.registry
    from pipelines.cli import main

    for name in ("measures.yaml", "goals.yaml", "indicators.yaml"):
        text = (schemas.catalogue.SCHEMAS_DIR / name).read_text(encoding="utf-8")
        (tmp_path / name).write_text(text.replace("direction: down", "direction: dwn", 1))
    monkeypatch.setattr(sources.registry, "load_catalogue", lambda: load_catalogue(tmp_path))
    assert main(["screen", "x.csv", "--source", "kita_betreuung"]) == 2
    line = next(
        n for n, line in enumerate((tmp_path / "indicators.yaml").read_text().splitlines(), 1)
        if "direction: dwn" in line
    )  # fmt: skip
    assert capsys.readouterr().err == (
        f"indicators.yaml, line {line}, key 'indicators[0].direction': 'dwn' is not one of up, "
        "down — did you mean 'down'?\n"
    )


def test_dagster_definitions_fail_with_the_plain_message(broken_registry: Path) -> None:
    from pipelines.definitions import build_definitions

    with pytest.raises(RegistryError) as exc:
        build_definitions(data_dir=broken_registry.parent / "data", registry=broken_registry)
    assert str(exc.value) + "\n" == BROKEN
    assert exc.value.__cause__ is None and exc.value.__context__ is None  # no pydantic dump


def test_auth_schemes_and_their_mistakes(tmp_path: Path) -> None:
    base = SOURCE_YAML.replace("kind: csv", "kind: json_api")
    good = base + "api: {url: 'https://example.org/api/', token_env: T, auth: {scheme: bearer}}\n"
    api = load_source(write(tmp_path, good)).api
    assert (api.auth_scheme, api.auth_name) == ("bearer", None)
    cases = {
        "{scheme: header}": "key 'api.auth': scheme header needs the header's name, e.g. "
        "{scheme: header, name: X-API-Key}",
        "{scheme: query}": "key 'api.auth': scheme query needs the query parameter's name, e.g. "
        "{scheme: query, name: api_key}",
        "{scheme: bearer, name: X-Key}": "key 'api.auth.name': 'X-Key' — scheme bearer sends "
        "`Authorization: Bearer …`; for a header of another name use scheme header",
        "{scheme: basic}": "key 'api.auth.scheme': 'basic' is not one of token, bearer, header, "
        "query",
    }
    for auth, message in cases.items():
        text = base + f"api: {{url: 'https://example.org/api/', token_env: T, auth: {auth}}}\n"
        assert error_of(write(tmp_path, text)) == f"test_source.yaml, line 18, {message}", auth
    no_token = base + "api: {url: 'https://example.org/api/', auth: {scheme: bearer}}\n"
    assert error_of(write(tmp_path, no_token)) == (
        "test_source.yaml, line 18, key 'api.auth': an auth scheme without token_env: name the "
        "environment variable that holds the token (token_env: …)"
    )


def test_a_source_declares_its_own_codes(tmp_path: Path) -> None:
    text = SOURCE_YAML.replace(
        "format: {", "format: {symbols: {'-1': not_available, 'k.A.': not_available}, "
    )
    assert "format: {symbols" in text
    source = load_source(write(tmp_path, text))
    assert source.symbols == (("-1", "not_available"), ("k.A.", "not_available"))
    wrong = SOURCE_YAML.replace("format: {", "format: {symbols: {'-1': missing}, ")
    assert error_of(write(tmp_path, wrong)).endswith(
        "key 'format.symbols[\"-1\"]': 'missing' is not one of suppressed, not_available, "
        "not_applicable, unreliable"
    )


def test_region_over_several_level_variables_and_filters_with_lists(tmp_path: Path) -> None:
    """A GENESIS flat file keys each level by its own variable; a filter may keep several
    values. Both take one value as well."""
    path = write(tmp_path, spec(mapping=mapping(
        region={"column": ["variable:DLAND", "variable:KREISE"], "by": "key"},
        filters={"variable:IND006": ["NE2-04-01-A-1", "NE2-04-01-A-2"], "Art": 1},
    )))  # fmt: skip
    m = load_source(path).measures
    assert (m.region_column, m.region_columns) == (
        "variable:DLAND", ("variable:DLAND", "variable:KREISE")
    )  # fmt: skip
    assert m.filters == {"variable:IND006": ("NE2-04-01-A-1", "NE2-04-01-A-2"), "Art": ("1",)}


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"region": {"column": [], "by": "key"}},
         "key 'mapping.region.column': expected at least 1 entry, got none"),
        ({"filters": {"value_variable_code": {"a": "b"}}},
         "key 'mapping.filters.value_variable_code': expected text, got a mapping"),
    ],
)  # fmt: skip
def test_region_columns_and_filters_said_plainly(tmp_path: Path, changes: dict, said: str) -> None:
    message = error_of(write(tmp_path, spec(mapping=mapping(**changes))))
    assert message.startswith("test_source.yaml, line ") and message.endswith(said), message
