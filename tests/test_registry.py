"""The source registry: loading YAML files, the errors that name file and key, the defaults."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sources.registry import (
    REGISTRY_DIR,
    SOURCES_DIR,
    Dimension,
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
}


@pytest.fixture(autouse=True)
def _fresh_registry_cache() -> Iterator[None]:
    load_registry.cache_clear()
    yield
    load_registry.cache_clear()


def spec(**changes: Any) -> dict[str, Any]:
    result = copy.deepcopy(MINIMAL)
    result.update(changes)
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
    assert m.values[1] == ValueColumn("Abgänger weiblich", "leavers_total", sex="female")
    assert m.values[2] == ValueColumn(
        "ohne HSA deutsch", "leavers_without_hsa", nationality="german"
    )
    assert m.filters == {"Art": "1"}  # values are compared as text
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


# --- errors name the file and the key --------------------------------------------------------


def test_missing_keys(tmp_path: Path) -> None:
    content = spec()
    del content["title"], content["kind"]
    message = error_of(write(tmp_path, content))
    assert message == "test_source.yaml: missing title, kind"


@pytest.mark.parametrize("bad_id", ["Test-Source", "1source", "ab", "test source", "tést"])
def test_bad_id(tmp_path: Path, bad_id: str) -> None:
    message = error_of(write(tmp_path, spec(id=bad_id), name="bad.yaml"))
    assert message.startswith(f"bad.yaml: id {bad_id!r} must be lower case letters, digits and _")


def test_file_not_named_after_id(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, spec(), name="other_name.yaml"))
    assert message == ("other_name.yaml: the file must be named after its id (test_source.yaml)")


def test_unknown_kind(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, spec(kind="xlsx")))
    assert message.startswith("test_source.yaml: kind 'xlsx' is not one of")
    assert "genesis_table_csv" in message


def test_unknown_dataset(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, spec(dataset="pupils")))
    assert message.startswith("test_source.yaml: dataset 'pupils' is not one of")
    assert "school_directory" in message


def test_unknown_expectation_suite(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, spec(expectations=["school_leavers", "no_such_suite"])))
    assert message == (
        "test_source.yaml: expectation suite expectations/no_such_suite.json not found"
    )


def test_measure_not_in_the_catalogue(tmp_path: Path) -> None:
    content = spec(mapping=mapping(values={"A": "leavers_total", "B": "leavers_unknown"}))
    message = error_of(write(tmp_path, content))
    assert message == (
        "test_source.yaml: mapping: maps to measures not in schemas/measures.yaml: leavers_unknown"
    )


def test_template_expanding_to_an_unknown_measure(tmp_path: Path) -> None:
    content = spec(
        mapping=mapping(
            lookups={"v": {"column": "Merkmal", "values": {"Schulen": "schools", "X": "bogus"}}},
            values={"Gymnasien": "{v}_gymnasium"},
        )
    )
    message = error_of(write(tmp_path, content))
    assert message.endswith("not in schemas/measures.yaml: bogus_gymnasium")


def test_count_rows_as_must_be_a_measure(tmp_path: Path) -> None:
    content = spec(mapping=mapping(count_rows_as="schools_counted"))
    assert error_of(write(tmp_path, content)).endswith("schools_counted")


def test_template_placeholder_without_lookup(tmp_path: Path) -> None:
    content = spec(mapping=mapping(values={"Gymnasien": "{variable}_gymnasium"}))
    message = error_of(write(tmp_path, content))
    assert message == (
        "test_source.yaml: mapping: values['Gymnasien'] uses {variable} but lookups has no "
        "'variable'"
    )


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"sex": {"column": "G", "values": {"w": "woman", "m": "male"}}},
            "test_source.yaml: mapping: sex: values map to ['woman'], expected one of",
        ),
        (
            {"nationality": {"column": "N", "values": {"d": "deutsch"}}},
            "test_source.yaml: mapping: nationality: values map to ['deutsch'], expected one of",
        ),
        ({"sex": "weiblich"}, "test_source.yaml: mapping: sex: 'weiblich' is not one of"),
        ({"sex": {"column": "G"}}, "test_source.yaml: mapping: sex: give `column` and `values`"),
        (
            {"values": {"A": {"measure": "leavers_total", "sex": "girls"}}},
            "test_source.yaml: mapping: values['A'].sex must be one of",
        ),
        (
            {"values": {"A": {"measure": "leavers_total", "nationality": "eu"}}},
            "test_source.yaml: mapping: values['A'].nationality must be one of",
        ),
    ],
)
def test_subgroup_values_must_be_canonical(
    tmp_path: Path, changes: dict[str, Any], expected: str
) -> None:
    assert error_of(write(tmp_path, spec(mapping=mapping(**changes)))).startswith(expected)


def test_bad_region_by(tmp_path: Path) -> None:
    content = spec(mapping=mapping(region={"column": "AGS", "by": "ags"}))
    message = error_of(write(tmp_path, content))
    assert message == (
        "test_source.yaml: mapping: region.by must be one of ('key', 'name', 'school_number')"
    )


def test_bad_school_year_format(tmp_path: Path) -> None:
    content = spec(mapping=mapping(school_year={"column": "Jahr", "format": "yyyy"}))
    message = error_of(write(tmp_path, content))
    assert message.startswith("test_source.yaml: mapping: school_year.format must be one of")
    assert "iso_date" in message


@pytest.mark.parametrize("key", ["region", "school_year", "values"])
def test_mapping_needs_region_year_and_values(tmp_path: Path, key: str) -> None:
    content = spec(mapping=mapping())
    del content["mapping"][key]
    assert error_of(write(tmp_path, content)) == f"test_source.yaml: mapping: needs `{key}`"


def test_reference_dataset_needs_columns(tmp_path: Path) -> None:
    content = spec(dataset="school_directory", mapping={"constants": {"a": "b"}})
    message = error_of(write(tmp_path, content))
    assert message == "test_source.yaml: mapping.columns (canonical → delivered) is required"


def test_bad_location(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, spec(location={"path": "x.csv"})))
    assert message == "test_source.yaml: location must be a path or a list of paths"


def test_not_yaml_and_not_a_mapping(tmp_path: Path) -> None:
    assert error_of(write(tmp_path, "id: [unclosed\n")).startswith(
        "test_source.yaml: not valid YAML:"
    )
    assert error_of(write(tmp_path, "- a list\n")) == (
        "test_source.yaml: expected a mapping at the top level"
    )


def test_region_without_column_names_file_and_key(tmp_path: Path) -> None:
    content = spec(mapping=mapping(region={"by": "key"}))
    with pytest.raises(RegistryError, match=r"test_source\.yaml.*column"):
        load_source(write(tmp_path, content))


@pytest.mark.parametrize("fmt", [{"decimal": ";"}, {"decimal": ",", "thousands": ","}])
def test_bad_number_format_is_rejected(tmp_path: Path, fmt: dict[str, str]) -> None:
    with pytest.raises(RegistryError, match=r"test_source\.yaml.*(decimal|thousands)"):
        load_source(write(tmp_path, spec(format=fmt)))


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
        "Form", {"GY": "gymnasium", "GE": "gesamtschule"}
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
    registry = load_registry()
    assert list(registry) == [
        "bevoelkerung_kinder",
        "itnrw_21111_9k21",
        "kita_betreuung",
        "lernfoerderung",
        "nrw_schuldaten",
        "nrw_schulsozialindex",
        "regionalstatistik_21111_01_03_4",
        "schulabgaenger_abschlussart",
    ]
    for source_id, source in registry.items():
        assert source.path == REGISTRY_DIR / f"{source_id}.yaml"
        assert source.location_paths(), f"{source_id}: bundled files not found"
    synthetic = sorted(s for s, source in registry.items() if source.synthetic)
    assert synthetic == [
        "bevoelkerung_kinder",
        "kita_betreuung",
        "lernfoerderung",
        "schulabgaenger_abschlussart",
    ]


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
    write(tmp_path, spec(id="second_source"))
    assert list(load_registry(tmp_path)) == ["second_source", "test_source"]


def test_load_registry_of_an_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="no source files"):
        load_registry(tmp_path)


def test_load_registry_stops_at_the_first_bad_file(tmp_path: Path) -> None:
    write(tmp_path, spec())
    write(tmp_path, spec(id="broken_source", kind="pdf"))
    with pytest.raises(RegistryError, match=r"^broken_source\.yaml: kind 'pdf'"):
        load_registry(tmp_path)
