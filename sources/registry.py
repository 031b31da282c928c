"""The source registry: one YAML file per source (sources/registry/<id>.yaml).

Adding a partner source is a YAML file, not code (docs/sources.md). This module reads and
checks those files; a mistake stops the load with the file and the key named, before any data
is touched.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from schemas.catalogue import Catalogue, load_catalogue
from schemas.tables import NATIONALITIES, SEXES

SOURCES_DIR = Path(__file__).resolve().parent
REGISTRIES = SOURCES_DIR / "registry"
PROFILES = ("demo", "production")
DEFAULT_PROFILE = "demo"
REGISTRY_DIR = REGISTRIES / DEFAULT_PROFILE
EXPECTATIONS_DIR = SOURCES_DIR.parent / "expectations"

FILE_KINDS = ("csv", "genesis_table_csv", "genesis_ffcsv")
API_KINDS = ("genesis_api", "json_api")
KINDS = FILE_KINDS + API_KINDS
DATASETS = ("measures", "school_directory", "school_social_index")
REGION_BY = ("key", "name", "school_number")
YEAR_FORMATS = ("school_year", "start_year", "end_year", "date", "iso_date")
_ID = re.compile(r"^[a-z][a-z0-9_]{2,62}$")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class RegistryError(ValueError):
    """A registry file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class Lookup:
    """A row column whose values map to a piece of the measure id (e.g. variable → pupils)."""

    column: str
    values: dict[str, str]


@dataclass(frozen=True)
class Dimension:
    """Where a canonical dimension comes from: a column (with a value map) or a constant."""

    column: str | None = None
    values: dict[str, str] = field(default_factory=dict)
    constant: str | None = None


@dataclass(frozen=True)
class ValueColumn:
    """A delivered column holding values: which measure (template) and subgroup it is."""

    column: str
    measure: str  # may contain {lookup} placeholders
    sex: str | None = None
    nationality: str | None = None


@dataclass(frozen=True)
class MeasureMapping:
    region_column: str
    region_by: str
    region_scope: str | None
    year_column: str
    year_format: str
    sex: Dimension
    nationality: Dimension
    values: tuple[ValueColumn, ...]
    lookups: dict[str, Lookup]
    labels: tuple[str, ...] = ()  # GENESIS tables: names for the row-label columns
    filters: dict[str, str] = field(default_factory=dict)  # keep rows where column == value
    count_rows_as: str | None = None  # school-grain sources: measure = rows per region
    absent_means_zero: bool = False  # school-grain: a covered region without rows has 0
    # flat files list leaves only: lines that differ only in dimensions the mapping ignores
    # are added up, and totals over sex / nationality are derived as sums
    combine_rows: bool = False
    derive_totals: tuple[str, ...] = ()
    # delivered columns the mapping knowingly leaves unused (e.g. the municipality's name)
    ignore_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class GenesisApi:
    """A table of a GENESIS-Online service (kind genesis_api)."""

    base_url: str
    table: str
    parameters: dict[str, str]
    username_env: str
    password_env: str | None  # None: an API token in the username
    timeout_seconds: float = 60.0
    poll_interval_seconds: float = 10.0
    time_budget_seconds: float = 1800.0
    max_parallel: int = 5
    attempts: int = 5


@dataclass(frozen=True)
class JsonApi:
    """A paginated JSON API (kind json_api), {count, next, results} style."""

    url: str
    page_size: int = 500
    page_size_param: str = "page_size"
    results_key: str = "results"
    next_key: str = "next"
    count_key: str = "count"
    token_env: str | None = None
    timeout_seconds: float = 60.0
    time_budget_seconds: float = 600.0
    attempts: int = 5


@dataclass(frozen=True)
class Source:
    id: str
    title: str
    partner: str
    owner: str
    licence: str
    kind: str
    # paths or globs relative to sources/ (or absolute); received in this order, a glob's
    # files in name order — list a correction after the file it corrects
    location: tuple[str, ...]
    dataset: str
    synthetic: bool
    encoding: str
    delimiter: str
    decimal: str
    thousands: str | None
    expectations: tuple[str, ...]
    description: str
    coverage: str | None  # region code whose members the source covers (e.g. RVR, 05)
    rounding: int | None  # the source rounds counts to multiples of this (IT.NRW: 5)
    measures: MeasureMapping | None  # dataset == measures
    columns: dict[str, str]  # reference datasets: canonical column -> delivered column
    constants: dict[str, str]  # reference datasets: canonical column -> fixed value
    path: Path  # the YAML file
    api: GenesisApi | JsonApi | None = None  # the API kinds
    # overrides of expectations/quality.yaml for this source's cross checks
    quality: dict[str, Any] = field(default_factory=dict)

    def measure_ids(self) -> set[str]:
        """Every measure id this source can produce (templates expanded over lookups)."""
        if self.measures is None:
            return set()
        ids: set[str] = set()
        for value in self.measures.values:
            ids |= _expand(value.measure, self.measures.lookups)
        if self.measures.count_rows_as:
            ids.add(self.measures.count_rows_as)
        return ids

    def location_paths(self) -> list[Path]:
        paths: list[Path] = []
        for entry in self.location:
            base = Path(entry)
            if not base.is_absolute():
                base = SOURCES_DIR / base
            if any(ch in entry for ch in "*?["):
                found = sorted(p for p in base.parent.glob(base.name) if p.is_file())
            else:
                found = [base] if base.is_file() else []
            paths += [p for p in found if p not in paths]
        return paths


def _expand(template: str, lookups: dict[str, Lookup]) -> set[str]:
    results = {template}
    for name in _PLACEHOLDER.findall(template):
        results = {
            r.replace("{" + name + "}", v)
            for r in results
            for v in set(lookups[name].values.values())
        }
    return results


def _dimension(spec: Any, allowed: tuple[str, ...], where: str) -> Dimension:
    if spec is None:
        return Dimension(constant="total")
    if isinstance(spec, str):
        if spec not in allowed:
            raise RegistryError(f"{where}: {spec!r} is not one of {allowed}")
        return Dimension(constant=spec)
    if "column" not in spec or "values" not in spec:
        raise RegistryError(f"{where}: give `column` and `values`, or a constant")
    values = {str(k): str(v) for k, v in spec["values"].items()}
    bad = sorted(v for v in values.values() if v not in allowed)
    if bad:
        raise RegistryError(f"{where}: values map to {bad}, expected one of {allowed}")
    return Dimension(column=str(spec["column"]), values=values)


def _need(entry: Any, keys: tuple[str, ...], where: str) -> None:
    if not isinstance(entry, dict):
        raise RegistryError(f"{where}: expected a mapping with {', '.join(keys)}")
    missing = [k for k in keys if k not in entry]
    if missing:
        raise RegistryError(f"{where}: needs {', '.join(f'`{k}`' for k in missing)}")


def _number_format(fmt: dict[str, Any], where: str) -> tuple[str, str | None]:
    decimal = str(fmt.get("decimal", ","))
    thousands = fmt.get("thousands")
    if decimal not in (",", "."):
        raise RegistryError(f"{where}: format.decimal must be ',' or '.', not {decimal!r}")
    if thousands is not None and (thousands not in (".", ",", " ", "'") or thousands == decimal):
        raise RegistryError(
            f"{where}: format.thousands must be '.', ',', ' ' or \"'\" and differ from the "
            f"decimal separator, not {thousands!r}"
        )
    return decimal, thousands


def _api(kind: str, spec: Any, where: str) -> GenesisApi | JsonApi:
    where = f"{where}: api"
    if kind == "genesis_api":
        _need(spec, ("base_url", "table", "credentials"), where)
        credentials = spec["credentials"]
        _need(credentials, ("username_env",), f"{where}.credentials")
        for key in ("username_env", "password_env"):
            name = credentials.get(key)
            if name is not None and not re.fullmatch(r"[A-Z][A-Z0-9_]*", str(name)):
                raise RegistryError(
                    f"{where}.credentials.{key}: {name!r} must name an environment variable "
                    "(upper case, e.g. REGIONALSTATISTIK_USERNAME) — never the credential itself"
                )
        options = {k: spec[k] for k in ("timeout_seconds", "poll_interval_seconds",
                                         "time_budget_seconds", "max_parallel", "attempts")
                   if k in spec}  # fmt: skip
        return GenesisApi(
            base_url=str(spec["base_url"]).rstrip("/"),
            table=str(spec["table"]),
            parameters={str(k): str(v) for k, v in (spec.get("parameters") or {}).items()},
            username_env=str(credentials["username_env"]),
            password_env=credentials.get("password_env"),
            **options,
        )
    _need(spec, ("url",), where)
    known = {f.name for f in dataclasses.fields(JsonApi)}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise RegistryError(f"{where}: unknown key(s) {', '.join(unknown)}")
    return JsonApi(**spec)


def _measure_mapping(spec: dict[str, Any], catalogue: Catalogue, where: str) -> MeasureMapping:
    _need(spec, ("region", "school_year", "values"), where)
    _need(spec["region"], ("column",), f"{where}: region")
    _need(spec["school_year"], ("column",), f"{where}: school_year")
    for name, lookup in (spec.get("lookups") or {}).items():
        _need(lookup, ("column", "values"), f"{where}: lookups.{name}")
    for column, target in spec["values"].items():
        if not isinstance(target, str):
            _need(target, ("measure",), f"{where}: values[{column!r}]")
    region = spec["region"]
    if region.get("by", "key") not in REGION_BY:
        raise RegistryError(f"{where}: region.by must be one of {REGION_BY}")
    year = spec["school_year"]
    if year.get("format", "school_year") not in YEAR_FORMATS:
        raise RegistryError(f"{where}: school_year.format must be one of {YEAR_FORMATS}")
    lookups = {
        name: Lookup(
            column=str(lk["column"]), values={str(k): str(v) for k, v in lk["values"].items()}
        )
        for name, lk in (spec.get("lookups") or {}).items()
    }
    values: list[ValueColumn] = []
    for column, target in spec["values"].items():
        if isinstance(target, str):
            target = {"measure": target}
        value = ValueColumn(
            column=str(column),
            measure=str(target["measure"]),
            sex=target.get("sex"),
            nationality=target.get("nationality"),
        )
        if value.sex is not None and value.sex not in SEXES:
            raise RegistryError(f"{where}: values[{column!r}].sex must be one of {SEXES}")
        if value.nationality is not None and value.nationality not in NATIONALITIES:
            raise RegistryError(
                f"{where}: values[{column!r}].nationality must be one of {NATIONALITIES}"
            )
        for name in _PLACEHOLDER.findall(value.measure):
            if name not in lookups:
                raise RegistryError(
                    f"{where}: values[{column!r}] uses {{{name}}} but lookups has no {name!r}"
                )
        values.append(value)
    mapping = MeasureMapping(
        region_column=str(region["column"]),
        region_by=region.get("by", "key"),
        region_scope=region.get("scope"),
        year_column=str(year["column"]),
        year_format=year.get("format", "school_year"),
        sex=_dimension(spec.get("sex"), SEXES, f"{where}: sex"),
        nationality=_dimension(spec.get("nationality"), NATIONALITIES, f"{where}: nationality"),
        values=tuple(values),
        lookups=lookups,
        labels=tuple(spec.get("labels") or ()),
        filters={str(k): str(v) for k, v in (spec.get("filters") or {}).items()},
        count_rows_as=spec.get("count_rows_as"),
        absent_means_zero=bool(spec.get("absent_means_zero", False)),
        combine_rows=bool(spec.get("combine_rows", False)),
        derive_totals=tuple(spec.get("derive_totals") or ()),
        ignore_columns=tuple(str(c) for c in spec.get("ignore_columns") or ()),
    )
    bad = [d for d in mapping.derive_totals if d not in ("sex", "nationality")]
    if bad:
        raise RegistryError(f"{where}: derive_totals may name sex and nationality, not {bad}")
    produced: set[str] = set()
    for value in mapping.values:
        produced |= _expand(value.measure, lookups)
    if mapping.count_rows_as:
        produced.add(mapping.count_rows_as)
    unknown = sorted(m for m in produced if m not in catalogue.measures)
    if unknown:
        raise RegistryError(
            f"{where}: maps to measures not in schemas/measures.yaml: {', '.join(unknown)}"
        )
    return mapping


def _location(value: Any, where: str) -> tuple[str, ...]:
    """No location: the source's deliveries arrive only through data/inbox/<id>/."""
    entries = [value] if isinstance(value, str) else value
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        raise RegistryError(f"{where}: location must be a path or a list of paths")
    return tuple(entries)


def _read_spec(path: Path, where: str, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The YAML of a source; `extends: <file>` takes another source's file as the base and
    overrides its top-level keys (`format` and `api` are merged key by key)."""
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RegistryError(f"{where}: not valid YAML: {exc}") from exc
    except FileNotFoundError:
        raise RegistryError(f"{where}: {path} not found") from None
    if not isinstance(spec, dict):
        raise RegistryError(f"{where}: expected a mapping at the top level")
    base_name = spec.pop("extends", None)
    if base_name is None:
        return spec
    base_path = (path.parent / str(base_name)).resolve()
    if base_path in seen:
        raise RegistryError(f"{where}: extends loops back to {base_path.name}")
    base = _read_spec(base_path, f"{where}: extends {base_name}", (*seen, path.resolve()))
    for key in ("format", "api"):
        if isinstance(base.get(key), dict) and isinstance(spec.get(key), dict):
            spec[key] = {**base[key], **spec[key]}
    return {**base, **spec}


def load_source(path: Path, catalogue: Catalogue | None = None) -> Source:
    catalogue = catalogue or load_catalogue()
    where = path.name
    spec = _read_spec(path, where)
    required = ("id", "title", "partner", "licence", "kind")
    missing = [k for k in required if k not in spec]
    if missing:
        raise RegistryError(f"{where}: missing {', '.join(missing)}")
    source_id = str(spec["id"])
    if not _ID.match(source_id):
        raise RegistryError(
            f"{where}: id {source_id!r} must be lower case letters, digits and _ (3–63 chars)"
        )
    if path.stem != source_id:
        raise RegistryError(f"{where}: the file must be named after its id ({source_id}.yaml)")
    if spec["kind"] not in KINDS:
        raise RegistryError(f"{where}: kind {spec['kind']!r} is not one of {KINDS}")
    api = None
    if spec["kind"] in API_KINDS:
        api = _api(spec["kind"], spec.get("api"), where)
    elif "api" in spec:
        raise RegistryError(f"{where}: `api` only applies to the kinds {API_KINDS}")
    dataset = spec.get("dataset", "measures")
    if dataset not in DATASETS:
        raise RegistryError(f"{where}: dataset {dataset!r} is not one of {DATASETS}")
    suites = tuple(spec.get("expectations") or ())
    for suite in suites:
        if not (EXPECTATIONS_DIR / f"{suite}.json").is_file():
            raise RegistryError(f"{where}: expectation suite expectations/{suite}.json not found")
    fmt = spec.get("format") or {}
    decimal, thousands = _number_format(fmt, where)
    mapping = spec.get("mapping") or {}
    measures = None
    columns: dict[str, str] = {}
    constants: dict[str, str] = {}
    if dataset == "measures":
        measures = _measure_mapping(mapping, catalogue, f"{where}: mapping")
    else:
        if "columns" not in mapping:
            raise RegistryError(f"{where}: mapping.columns (canonical → delivered) is required")
        columns = {str(k): str(v) for k, v in mapping["columns"].items()}
        constants = {str(k): str(v) for k, v in (mapping.get("constants") or {}).items()}
    owner = str(spec.get("owner") or "team:backbone-office")
    return Source(
        id=source_id,
        title=str(spec["title"]),
        partner=str(spec["partner"]),
        owner=owner,
        licence=str(spec["licence"]),
        kind=spec["kind"],
        location=_location(spec.get("location", []), where),
        dataset=dataset,
        synthetic=bool(spec.get("synthetic", False)),
        encoding=str(fmt.get("encoding", "auto")),
        delimiter=str(fmt.get("delimiter", "auto")),
        decimal=decimal,
        thousands=thousands,
        expectations=suites,
        description=str(spec.get("description", "")).strip(),
        coverage=spec.get("coverage"),
        rounding=spec.get("rounding"),
        measures=measures,
        columns=columns,
        constants=constants,
        path=path,
        api=api,
        quality=dict(spec.get("quality") or {}),
    )


def registry_dir(profile: str | None = None) -> Path:
    """sources/registry/<profile>/: demo (bundled files, no network; the default) or
    production (the live tables)."""
    profile = profile or DEFAULT_PROFILE
    if profile not in PROFILES:
        raise RegistryError(f"profile {profile!r} is not one of {PROFILES}")
    return REGISTRIES / profile


@cache
def load_registry(directory: Path = REGISTRY_DIR) -> dict[str, Source]:
    """Every source of the registry directory, by id, in file-name order."""
    sources: dict[str, Source] = {}
    for path in sorted(directory.glob("*.yaml")):
        source = load_source(path)
        sources[source.id] = source
    if not sources:
        raise RegistryError(f"{directory}: no source files (*.yaml) found")
    return sources
