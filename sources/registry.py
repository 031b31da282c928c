"""The source registry: one YAML file per source (sources/registry/<profile>/<id>.yaml).

Adding a partner source is a YAML file, not code (docs/sources.md). This module reads those
files into typed models: `SourceSpec` and its parts describe the file exactly as written
(every key, its type, its allowed values; unknown keys are mistakes), `Source` is what the
pipeline uses. Every mistake of a file is reported at once, one line each, naming the file, the
line and the key, before any data is touched:

    kita_betreuung.yaml, line 21, key 'mapping.region.by': 'nam' is not one of key, name, …
"""

from __future__ import annotations

import codecs
import os
import re
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    create_model,
)

from schemas.catalogue import Catalogue, load_catalogue
from schemas.tables import NATIONALITIES, SEXES
from schemas.yamlmodel import (
    Document,
    Loc,
    Problem,
    Text,
    YamlError,
    YamlModel,
    did_you_mean,
    expected,
    listing,
    plain,
    read_yaml,
    sort_problems,
    validate,
)
from sources.periods import ANCHORS
from sources.periods import FORMATS as PERIOD_FORMATS
from sources.symbols import DECLARABLE_STATUSES

SOURCES_DIR = Path(__file__).resolve().parent
REGISTRIES = SOURCES_DIR / "registry"
PROFILES = ("demo", "production")
DEFAULT_PROFILE = "demo"
REGISTRY_DIR = REGISTRIES / DEFAULT_PROFILE
EXPECTATIONS_DIR = SOURCES_DIR.parent / "expectations"
QUALITY_YAML = EXPECTATIONS_DIR / "quality.yaml"

FILE_KINDS = ("csv", "genesis_table_csv", "genesis_ffcsv")
API_KINDS = ("genesis_api", "json_api")
KINDS = FILE_KINDS + API_KINDS
# a source's standing decides which figure is current where several sources deliver the same
# one (measure, territory, school year, subgroup): official statistics before a partner's
# delivery before a synthetic demo source; within a standing the lower `rank` comes first
STANDINGS = ("official", "partner", "synthetic")
DATASETS = ("measures", "school_directory", "school_social_index")
REGION_BY = ("key", "name", "school_number")
YEAR_FORMATS = tuple(PERIOD_FORMATS)  # sources/periods.py: the time rules, with examples
_ID = re.compile(r"^[a-z][a-z0-9_]{2,62}$")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_ENV_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,7}")  # as Dagster checks owners
#: `format` and `api` of an `extends:` base are merged key by key; other keys are replaced
MERGED_KEYS = ("format", "api")


class RegistryError(YamlError):
    """Registry files with mistakes; one line per mistake, each naming file, line and key."""


# --- the pipeline's view of a source ------------------------------------------------------------


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Lookup(_Frozen):
    """A row column whose values map to a piece of the measure id (e.g. variable → pupils)."""

    column: str
    values: dict[str, str]


class Dimension(_Frozen):
    """Where a canonical dimension comes from: a column (with a value map) or a constant."""

    column: str | None = None
    values: dict[str, str] = Field(default_factory=dict)
    constant: str | None = None


class ValueColumn(_Frozen):
    """A delivered column holding values: which measure (template) and subgroup it is."""

    column: str
    measure: str  # may contain {lookup} placeholders
    sex: str | None = None
    nationality: str | None = None


class MeasureMapping(_Frozen):
    region_column: str  # the first of region_columns (named in messages)
    region_by: str
    region_scope: str | None
    year_column: str
    year_format: str
    year_anchor: str
    sex: Dimension
    nationality: Dimension
    values: tuple[ValueColumn, ...]
    lookups: dict[str, Lookup]
    labels: tuple[str, ...] = ()  # GENESIS tables: names for the row-label columns
    filters: dict[str, tuple[str, ...]] = {}  # keep rows where column is one of the values
    # a GENESIS flat file keys each level by its own variable (DINSG, DLAND, REGBEZ, KREISE):
    # a line's region is the first of these columns that is not empty
    region_columns: tuple[str, ...] = ()
    count_rows_as: str | None = None  # school-grain sources: measure = rows per region
    absent_means_zero: bool = False  # school-grain: a covered region without rows has 0
    # flat files list leaves only: lines that differ only in dimensions the mapping ignores
    # are added up, and totals over sex / nationality are derived as sums
    combine_rows: bool = False
    derive_totals: tuple[str, ...] = ()
    # delivered columns the mapping knowingly leaves unused (e.g. the municipality's name)
    ignore_columns: tuple[str, ...] = ()


class GenesisApi(_Frozen):
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


class JsonApi(_Frozen):
    """A paginated JSON API (kind json_api), {count, next, results} style."""

    url: str
    page_size: int = 500
    page_size_param: str = "page_size"
    results_key: str = "results"
    next_key: str = "next"
    count_key: str = "count"
    token_env: str | None = None
    auth_scheme: str = "token"  # one of AUTH_SCHEMES
    auth_name: str | None = None  # the header (scheme header) or query parameter (query)
    timeout_seconds: float = 60.0
    time_budget_seconds: float = 600.0
    attempts: int = 5


class Source(_Frozen):
    """A source as the pipeline uses it. Frozen: derive a changed copy with
    `source.model_copy(update={...})`."""

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
    standing: str  # one of STANDINGS
    rank: int  # within the standing: 1 comes first
    encoding: str
    # a partner's CSV also takes the other encoding Excel writes (cp1252 / UTF-8 with BOM)
    excel_encodings: bool
    delimiter: str
    decimal: str
    thousands: str | None
    symbols: tuple[tuple[str, str], ...] = ()  # declared codes -> status (sources/symbols.py)
    expectations: tuple[str, ...]
    description: str
    coverage: str | None  # region code whose members the source covers (e.g. RVR, 05)
    # the territorial state of its keys: each school year's own, or today's for every year
    territory: str = "of_each_year"
    rounding: int | None  # the source rounds counts to multiples of this (IT.NRW: 5)
    measures: MeasureMapping | None  # dataset == measures
    columns: dict[str, str]  # reference datasets: canonical column -> delivered column
    constants: dict[str, str]  # reference datasets: canonical column -> fixed value
    path: Path  # the YAML file
    api: GenesisApi | JsonApi | None = None  # the API kinds
    # overrides of expectations/quality.yaml for this source's cross checks
    quality: dict[str, Any] = Field(default_factory=dict)

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


# --- the file, as written -----------------------------------------------------------------------


def _source_id(value: str) -> str:
    if not _ID.match(value):
        raise ValueError(
            f"'{value}' is not a valid id: lower case letters, digits and _, starting with a "
            "letter, 3–63 characters"
        )
    return value


def _owner(value: str) -> str:
    if not (re.fullmatch(r"team:\S+", value) or _EMAIL.fullmatch(value)):
        raise ValueError(
            f"'{value}' is not an owner Dagster accepts: team:<name> or an e-mail address"
        )
    return value


def _suite(value: str) -> str:
    if not (EXPECTATIONS_DIR / f"{value}.json").is_file():
        suites = sorted(p.stem for p in EXPECTATIONS_DIR.glob("*.json"))
        raise ValueError(
            f"'{value}' is not an expectation suite in expectations/; expected one of "
            f"{listing(suites)}{did_you_mean(value, suites)}"
        )
    return value


def _env_name(value: str) -> str:
    if not _ENV_NAME.fullmatch(value):
        raise ValueError(
            f"'{value}' must name an environment variable (upper case, e.g. "
            "REGIONALSTATISTIK_USERNAME) — never the credential itself"
        )
    return value


def _encoding(value: str) -> str:
    if value != "auto":
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(
                f"'{value}' is not an encoding; expected auto, utf-8, utf-8-sig, cp1252, cp850 "
                "or another Python codec"
            ) from None
    return value


def _delimiter(value: str) -> str:
    if value != "auto" and len(value) != 1:
        raise ValueError(f"'{value}' is not a delimiter; expected auto or one character: ; , | \\t")
    return value


def _paths(value: Any) -> Any:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise expected("a path or a list of paths")
    return value


def _text_or_mapping(value: Any) -> str | None:
    if isinstance(value, str):
        return "<text>"
    if isinstance(value, dict):
        return "<mapping>"
    return None


def _value_spec(value: Any) -> Any:
    if isinstance(value, dict):
        return value
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return {"measure": value}
    raise expected("a measure id or {measure: …, sex: …, nationality: …}")


SourceId = Annotated[Text, AfterValidator(_source_id)]
EnvName = Annotated[Text, AfterValidator(_env_name)]
#: a region code is text: unquoted, 05 would be read as the number 5
RegionCode = str
Sex = Literal[SEXES]  # type: ignore[valid-type]
Nationality = Literal[NATIONALITIES]  # type: ignore[valid-type]
PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]


class FormatSpec(YamlModel):
    """How a file writes its text and numbers."""

    encoding: Annotated[Text, AfterValidator(_encoding)] = "auto"
    # false: only `encoding` itself (by default a partner's CSV declared cp1252 also takes
    # Excel's "CSV UTF-8", and one declared UTF-8 also takes Excel's cp1252 "CSV")
    excel_encodings: bool = True
    delimiter: Annotated[Text, AfterValidator(_delimiter)] = "auto"
    decimal: Literal[",", "."] = ","
    thousands: Literal[".", ",", " ", "'"] | None = None
    # the source's own codes for values it has not, e.g. {"-1": not_available, "k.A.":
    # not_available}: never read as numbers (sources/symbols.py)
    symbols: dict[Text, Literal[DECLARABLE_STATUSES]] = Field(default_factory=dict)  # type: ignore[valid-type]


def _columns(value: Any) -> Any:
    """One value or a list of them."""
    return value if isinstance(value, list) else [value]


class RegionSpec(YamlModel):
    # one column, or several (GENESIS: one variable per level, e.g. [variable:DLAND,
    # variable:KREISE]): a line's region is the first that is not empty
    column: Annotated[list[Text], BeforeValidator(_columns), Field(min_length=1)]
    by: Literal[REGION_BY] = "key"  # type: ignore[valid-type]
    scope: RegionCode | None = None


class SchoolYearSpec(YamlModel):
    column: Text
    format: Literal[YEAR_FORMATS] = "school_year"  # type: ignore[valid-type]
    # a period (semester, quarter, month …) belongs to the school year of its first day, or,
    # with `end`, of its last day
    anchor: Literal[ANCHORS] = "start"  # type: ignore[valid-type]


class SexColumn(YamlModel):
    column: Text
    values: dict[Text, Sex]


class NationalityColumn(YamlModel):
    column: Text
    values: dict[Text, Nationality]


class ValueSpec(YamlModel):
    """A value column: `Abgänger: leavers_total` or `{measure: …, sex: …, nationality: …}`."""

    measure: Text
    sex: Sex | None = None
    nationality: Nationality | None = None


class LookupSpec(YamlModel):
    column: Text
    values: dict[Text, Text]


class MeasureMappingSpec(YamlModel):
    """`mapping:` of a measure source (dataset: measures)."""

    region: RegionSpec
    school_year: SchoolYearSpec
    sex: Annotated[
        Annotated[Sex, Tag("<text>")] | Annotated[SexColumn, Tag("<mapping>")],
        Discriminator(
            _text_or_mapping,
            custom_error_type="expected",
            custom_error_message="expected total, female or male, or {column: …, values: …}",
        ),
    ] = "total"
    nationality: Annotated[
        Annotated[Nationality, Tag("<text>")] | Annotated[NationalityColumn, Tag("<mapping>")],
        Discriminator(
            _text_or_mapping,
            custom_error_type="expected",
            custom_error_message="expected total, german or foreign, or {column: …, values: …}",
        ),
    ] = "total"
    lookups: dict[Text, LookupSpec] = Field(default_factory=dict)
    values: dict[Text, Annotated[ValueSpec, BeforeValidator(_value_spec)]]
    labels: list[Text] = Field(default_factory=list)
    # keep the lines whose cell is the value, or one of a list of values
    filters: dict[Text, Annotated[list[Text], BeforeValidator(_columns)]] = Field(
        default_factory=dict
    )
    count_rows_as: Text | None = None
    absent_means_zero: bool = False
    combine_rows: bool = False
    derive_totals: list[Literal["sex", "nationality"]] = Field(default_factory=list)
    ignore_columns: list[Text] = Field(default_factory=list)


class ReferenceMappingSpec(YamlModel):
    """`mapping:` of a reference dataset: canonical column -> delivered column."""

    columns: dict[Text, Text]
    constants: dict[Text, Text] = Field(default_factory=dict)


class CredentialsSpec(YamlModel):
    username_env: EnvName
    password_env: EnvName | None = None


class GenesisApiSpec(YamlModel):
    """`api:` of kind genesis_api."""

    base_url: Text
    table: Text
    credentials: CredentialsSpec
    parameters: dict[Text, Text] = Field(default_factory=dict)
    timeout_seconds: PositiveFloat = 60.0
    poll_interval_seconds: PositiveFloat = 10.0
    time_budget_seconds: PositiveFloat = 1800.0
    max_parallel: PositiveInt = 5
    attempts: PositiveInt = 5


# how a JSON API wants its token: `Authorization: Token …`, `Authorization: Bearer …`, a header
# of its own name (`X-API-Key: …`), or a query parameter (`?api_key=…`)
AUTH_SCHEMES = ("token", "bearer", "header", "query")


class AuthSpec(YamlModel):
    """`api.auth:` of kind json_api; the token itself comes from `token_env`."""

    scheme: Literal[AUTH_SCHEMES] = "token"  # type: ignore[valid-type]
    name: Text | None = None


class JsonApiSpec(YamlModel):
    """`api:` of kind json_api."""

    url: Text
    page_size: PositiveInt = 500
    page_size_param: Text = "page_size"
    results_key: Text = "results"
    next_key: Text = "next"
    count_key: Text = "count"
    token_env: EnvName | None = None
    auth: AuthSpec = Field(default_factory=AuthSpec)
    timeout_seconds: PositiveFloat = 60.0
    time_budget_seconds: PositiveFloat = 600.0
    attempts: PositiveInt = 5


class SourceSpec(YamlModel):
    """A registry file. `mapping`, `api` and `quality` are checked by their own models, chosen
    by `dataset` and `kind` (MeasureMappingSpec / ReferenceMappingSpec, GenesisApiSpec /
    JsonApiSpec, quality_spec())."""

    id: SourceId
    title: Text
    partner: Text
    owner: Annotated[Text, AfterValidator(_owner)] = "team:backbone-office"
    licence: Text
    synthetic: bool = False
    standing: Literal[STANDINGS]  # type: ignore[valid-type]
    rank: PositiveInt = 1
    description: Text = ""
    kind: Literal[KINDS]  # type: ignore[valid-type]
    dataset: Literal[DATASETS] = "measures"  # type: ignore[valid-type]
    location: Annotated[list[Text], BeforeValidator(_paths)] = Field(default_factory=list)
    format: FormatSpec = FormatSpec()
    coverage: RegionCode | None = None
    territory: Literal["of_each_year", "today"] = "of_each_year"
    rounding: PositiveInt | None = None
    expectations: list[Annotated[Text, AfterValidator(_suite)]] = Field(default_factory=list)
    api: Any = None
    quality: Any = None
    mapping: Any = None


#: settings the cross checks read that expectations/quality.yaml does not list
QUALITY_EXTRAS: dict[str, dict[str, Any]] = {
    "completeness": {"level": Literal["bund", "land", "regierungsbezirk", "kreis", "gemeinde"]},
}
#: settings of quality.yaml that take one of a few words
QUALITY_CHOICES: dict[tuple[str, str], Any] = {
    ("year_over_year", "measures"): Literal["indicators", "all"],
}


def _bool_or_mapping(value: Any) -> str | None:
    if isinstance(value, bool):
        return "<on/off>"
    if isinstance(value, dict):
        return "<settings>"
    return None


@cache
def quality_spec() -> type[YamlModel]:
    """The model of a source's `quality:` overrides, made from expectations/quality.yaml: its
    checks and settings, each with the type of its default; a check may also be switched off
    or on as a whole (`level_consistency: false`)."""
    defaults = yaml.safe_load(QUALITY_YAML.read_text(encoding="utf-8"))

    def setting(check: str | None, name: str, default: Any) -> Any:
        if (check, name) in QUALITY_CHOICES:
            return QUALITY_CHOICES[(check, name)]
        if isinstance(default, bool):
            return bool
        if isinstance(default, int):
            return Annotated[int, Field(ge=0)]
        if isinstance(default, float):
            return Annotated[float, Field(ge=0)]
        return Text

    fields: dict[str, Any] = {}
    for check, default in defaults.items():
        if not isinstance(default, dict):
            fields[check] = (setting(None, check, default), None)
            continue
        settings = {name: (setting(check, name, v), None) for name, v in default.items()}
        settings |= {name: (tp, None) for name, tp in QUALITY_EXTRAS.get(check, {}).items()}
        model = create_model(f"Quality_{check}", __base__=YamlModel, **settings)
        fields[check] = (
            Annotated[
                Annotated[bool, Tag("<on/off>")] | Annotated[model, Tag("<settings>")],
                Discriminator(
                    _bool_or_mapping,
                    custom_error_type="expected",
                    custom_error_message="expected true, false or a mapping of its settings",
                ),
            ],
            None,
        )
    return create_model("QualitySpec", __base__=YamlModel, **fields)


# --- reading ------------------------------------------------------------------------------------


def _read(path: Path, top: Path | None = None, seen: tuple[Path, ...] = ()) -> Document:
    """The YAML of a source; `extends: <file>` takes another source's file as the base and
    overrides its top-level keys (`format` and `api` are merged key by key). A base file is
    named in messages by its path from the source's folder (../demo/kita_betreuung.yaml)."""
    name = path.name if top is None else os.path.relpath(path, top.parent)
    try:
        doc = read_yaml(path, name)
    except YamlError as exc:
        raise RegistryError(exc.problems) from None
    if not isinstance(doc.data, dict):
        raise RegistryError(
            [
                Problem(
                    name,
                    doc.position(()).line,
                    None,
                    "expected a mapping of keys (id: …, title: …) at the top level",
                )
            ]
        )
    if "extends" not in doc.data:
        return doc
    base_name = doc.data["extends"]
    if not isinstance(base_name, str):
        raise RegistryError([doc.problem(("extends",), "expected the path of a source file")])
    base_path = (path.parent / base_name).resolve()
    if base_path in (*seen, path.resolve()):
        raise RegistryError(
            [doc.problem(("extends",), f"'{base_name}' loops back to {base_path.name}")]
        )
    if not base_path.is_file():
        raise RegistryError([doc.problem(("extends",), f"'{base_name}' not found ({base_path})")])
    base = _read(base_path, top or path, (*seen, path.resolve()))
    del doc.data["extends"]
    return _merge(base, doc)


def _merge(base: Document, child: Document) -> Document:
    data = dict(base.data)
    kept = {}
    for loc, pos in base.positions.items():
        if not loc:
            continue
        key = loc[0]
        if key not in child.data or (
            key in MERGED_KEYS
            and isinstance(base.data.get(key), dict)
            and isinstance(child.data[key], dict)
            and len(loc) > 1
            and loc[1] not in child.data[key]
        ):
            kept[loc] = pos
    for key, value in child.data.items():
        if key in MERGED_KEYS and isinstance(base.data.get(key), dict) and isinstance(value, dict):
            data[key] = {**base.data[key], **value}
        else:
            data[key] = value
    return Document(
        child.file, data, {**kept, **child.positions}, [*base.problems, *child.problems]
    )


def _check_auth(doc: Document, api: JsonApiSpec, problems: list[Problem]) -> None:
    """A named scheme needs its name; the Authorization schemes have theirs."""
    auth = api.auth
    if auth.scheme in ("header", "query") and not auth.name:
        what = "header" if auth.scheme == "header" else "query parameter"
        problems.append(
            doc.problem(
                ("api", "auth"),
                f"scheme {auth.scheme} needs the {what}'s name, e.g. "
                + ("{scheme: header, name: X-API-Key}" if auth.scheme == "header"
                   else "{scheme: query, name: api_key}"),
            )
        )  # fmt: skip
    if auth.scheme in ("token", "bearer") and auth.name:
        problems.append(
            doc.problem(
                ("api", "auth", "name"),
                f"'{auth.name}' — scheme {auth.scheme} sends `Authorization: "
                f"{auth.scheme.title()} …`; for a header of another name use scheme header",
            )
        )
    if api.token_env is None and "auth" in api.model_fields_set:
        problems.append(
            doc.problem(
                ("api", "auth"),
                "an auth scheme without token_env: name the environment variable that holds "
                "the token (token_env: …)",
            )
        )


def _check_mapping(
    doc: Document, spec: MeasureMappingSpec, catalogue: Catalogue, problems: list[Problem]
) -> None:
    """What the model alone cannot know: placeholders need lookups, measures must exist."""
    raw = doc.data["mapping"]["values"]
    lookups = {name: set(lk.values.values()) for name, lk in spec.lookups.items()}
    for (column, written), value in zip(raw.items(), spec.values.values(), strict=True):
        at: Loc = (
            "mapping",
            "values",
            column,
            *(("measure",) if isinstance(written, dict) else ()),
        )
        missing = [n for n in _PLACEHOLDER.findall(value.measure) if n not in lookups]
        for name in missing:
            known = f" (it has {listing(lookups)})" if lookups else ""
            problems.append(
                doc.problem(
                    at,
                    f"'{value.measure}' uses {{{name}}}, but mapping.lookups has no "
                    f"'{name}'{known}",
                )
            )
        if missing:
            continue
        produced = _expand(
            value.measure,
            {n: Lookup(column="", values={v: v for v in vs}) for n, vs in lookups.items()},
        )
        unknown = sorted(m for m in produced if m not in catalogue.measures)
        if not unknown:
            continue
        if produced == {value.measure}:
            problems.append(
                doc.problem(
                    at,
                    f"'{value.measure}' is not a measure in schemas/measures.yaml"
                    f"{did_you_mean(value.measure, catalogue.measures)}",
                )
            )
        else:
            problems.append(
                doc.problem(
                    at,
                    f"'{value.measure}' gives {', '.join(unknown)}, not measures in "
                    "schemas/measures.yaml",
                )
            )
    if spec.count_rows_as and spec.count_rows_as not in catalogue.measures:
        problems.append(
            doc.problem(
                ("mapping", "count_rows_as"),
                f"'{spec.count_rows_as}' is not a measure in schemas/measures.yaml"
                f"{did_you_mean(spec.count_rows_as, catalogue.measures)}",
            )
        )


def _dimension(spec: str | SexColumn | NationalityColumn) -> Dimension:
    if isinstance(spec, str):
        return Dimension(constant=spec)
    return Dimension(column=spec.column, values=dict(spec.values))


def _measure_mapping(spec: MeasureMappingSpec) -> MeasureMapping:
    return MeasureMapping(
        region_column=spec.region.column[0],
        region_columns=tuple(spec.region.column),
        region_by=spec.region.by,
        region_scope=spec.region.scope,
        year_column=spec.school_year.column,
        year_format=spec.school_year.format,
        year_anchor=spec.school_year.anchor,
        sex=_dimension(spec.sex),
        nationality=_dimension(spec.nationality),
        values=tuple(
            ValueColumn(column=column, measure=v.measure, sex=v.sex, nationality=v.nationality)
            for column, v in spec.values.items()
        ),
        lookups={
            name: Lookup(column=lk.column, values=dict(lk.values))
            for name, lk in spec.lookups.items()
        },
        labels=tuple(spec.labels),
        filters={column: tuple(values) for column, values in spec.filters.items()},
        count_rows_as=spec.count_rows_as,
        absent_means_zero=spec.absent_means_zero,
        combine_rows=spec.combine_rows,
        derive_totals=tuple(spec.derive_totals),
        ignore_columns=tuple(spec.ignore_columns),
    )


def _api(spec: GenesisApiSpec | JsonApiSpec) -> GenesisApi | JsonApi:
    if isinstance(spec, JsonApiSpec):
        fields = spec.model_dump(exclude={"auth"})
        return JsonApi(**fields, auth_scheme=spec.auth.scheme, auth_name=spec.auth.name)
    return GenesisApi(
        base_url=spec.base_url.rstrip("/"),
        table=spec.table,
        parameters=dict(spec.parameters),
        username_env=spec.credentials.username_env,
        password_env=spec.credentials.password_env,
        timeout_seconds=spec.timeout_seconds,
        poll_interval_seconds=spec.poll_interval_seconds,
        time_budget_seconds=spec.time_budget_seconds,
        max_parallel=spec.max_parallel,
        attempts=spec.attempts,
    )


def load_source(path: Path, catalogue: Catalogue | None = None) -> Source:
    """The source of one registry file. Raises RegistryError naming every mistake in it."""
    catalogue = catalogue or load_catalogue()
    doc = _read(path)
    data = doc.data
    problems = list(doc.problems)
    spec = validate(SourceSpec, data, doc, problems)

    # `api` and `mapping` take the model their source's kind and dataset call for
    kind = data.get("kind") if data.get("kind") in KINDS else None
    api: GenesisApiSpec | JsonApiSpec | None = None
    if kind in API_KINDS:
        if data.get("api") is None:
            problems.append(doc.problem(("api",), f"missing (required for kind {kind})", "missing"))
        else:
            model = GenesisApiSpec if kind == "genesis_api" else JsonApiSpec
            api = validate(model, data["api"], doc, problems, ("api",))
    elif kind is not None and "api" in data:
        problems.append(
            doc.problem(
                ("api",), f"only for the kinds {listing(API_KINDS)}, not for kind {kind}", "key"
            )
        )
    dataset = data.get("dataset", "measures")
    mapping: MeasureMappingSpec | ReferenceMappingSpec | None = None
    if dataset in DATASETS:
        model = MeasureMappingSpec if dataset == "measures" else ReferenceMappingSpec
        if data.get("mapping") is None:
            problems.append(doc.problem(("mapping",), "missing (required)", "missing"))
        else:
            mapping = validate(model, data["mapping"], doc, problems, ("mapping",))
    quality = data.get("quality")
    if quality is not None:
        validate(quality_spec(), quality, doc, problems, ("quality",))

    # what no single key can say
    source_id = data.get("id")
    if isinstance(source_id, str) and _ID.match(source_id) and path.stem != source_id:
        where = doc.positions.get(("id",))
        line = where.value_line if where and where.file == doc.file else doc.position(()).line
        problems.append(
            Problem(
                doc.file,
                line,
                "id",
                f"'{source_id}' — the file must be named after its id: {source_id}.yaml",
            )
        )
    if spec is not None and spec.format.thousands == spec.format.decimal:
        problems.append(
            doc.problem(
                ("format", "thousands"),
                f"'{spec.format.thousands}' is also the decimal separator; thousands "
                "must differ from decimal",
            )
        )
    if isinstance(mapping, MeasureMappingSpec):
        _check_mapping(doc, mapping, catalogue, problems)
    if isinstance(api, JsonApiSpec):
        _check_auth(doc, api, problems)
    if spec is not None and spec.synthetic != (spec.standing == "synthetic"):
        problems.append(
            doc.problem(
                ("standing",),
                f"'{spec.standing}' with synthetic: {str(spec.synthetic).lower()}; a synthetic "
                "source has standing synthetic, and only a synthetic one",
            )
        )

    if problems or spec is None or mapping is None:
        raise RegistryError(sort_problems(problems, doc.file))
    return Source(
        id=spec.id,
        title=spec.title,
        partner=spec.partner,
        owner=spec.owner,
        licence=spec.licence,
        kind=spec.kind,
        location=tuple(spec.location),
        dataset=spec.dataset,
        synthetic=spec.synthetic,
        standing=spec.standing,
        rank=spec.rank,
        encoding=spec.format.encoding,
        excel_encodings=spec.format.excel_encodings and spec.kind == "csv",
        delimiter=spec.format.delimiter,
        decimal=spec.format.decimal,
        thousands=spec.format.thousands,
        symbols=tuple((code.strip(), status) for code, status in spec.format.symbols.items()),
        expectations=tuple(spec.expectations),
        description=spec.description.strip(),
        coverage=spec.coverage,
        territory=spec.territory,
        rounding=spec.rounding,
        measures=_measure_mapping(mapping) if isinstance(mapping, MeasureMappingSpec) else None,
        columns=dict(mapping.columns) if isinstance(mapping, ReferenceMappingSpec) else {},
        constants=dict(mapping.constants) if isinstance(mapping, ReferenceMappingSpec) else {},
        path=path,
        api=_api(api) if api is not None else None,
        quality=plain(quality or {}),
    )


def registry_dir(profile: str | None = None) -> Path:
    """sources/registry/<profile>/: demo (bundled files, no network; the default) or
    production (the live tables)."""
    profile = profile or DEFAULT_PROFILE
    if profile not in PROFILES:
        raise RegistryError(f"profile '{profile}' is not one of {listing(PROFILES)}")
    return REGISTRIES / profile


@cache
def load_registry(directory: Path = REGISTRY_DIR) -> dict[str, Source]:
    """Every source of the registry directory, by id, in file-name order. Raises
    RegistryError naming every mistake of every file."""
    catalogue = load_catalogue()
    sources: dict[str, Source] = {}
    problems: list[Problem] = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            source = load_source(path, catalogue)
        except RegistryError as exc:
            problems += exc.problems
            continue
        sources[source.id] = source
    problems += _precedence_ties(sources)
    if problems:
        raise RegistryError(problems)
    if not sources:
        raise RegistryError(f"{directory}: no source files (*.yaml) found")
    return sources


def _precedence_ties(sources: dict[str, Source]) -> list[Problem]:
    """Two sources of one standing and rank that can deliver the same measure: which of their
    figures is current would depend on arrival order, so one of them must declare a rank."""
    problems = []
    listed = list(sources.values())
    for i, first in enumerate(listed):
        for second in listed[i + 1 :]:
            if (first.standing, first.rank) != (second.standing, second.rank):
                continue
            shared = sorted(first.measure_ids() & second.measure_ids())
            if shared:
                more = f" (and {len(shared) - 1} more)" if len(shared) > 1 else ""
                problems.append(
                    Problem(
                        second.path.name,
                        None,
                        "rank",
                        f"{second.id} and {first.id} ({first.path.name}) both deliver "
                        f"{shared[0]}{more} with standing {first.standing} and rank "
                        f"{first.rank}; give one of them another rank (1 comes first)",
                    )
                )
    return problems


def render_markdown(profile: str) -> str:
    """The table of a profile's sources in docs/sources.md (`bildungsmonitor docs`): one row
    per registry file, so that a new source shows in the docs as soon as its YAML exists."""

    def cell(text: str) -> str:
        return " ".join(text.split()).replace("|", "\\|")

    rows = [
        "| id | what | partner | kind | arrives as | data |",
        "|---|---|---|---|---|---|",
    ]
    for source in load_registry(registry_dir(profile)).values():
        if isinstance(source.api, GenesisApi):
            arrives = f"fetched from GENESIS-Online (table `{source.api.table}`)"
        elif isinstance(source.api, JsonApi):
            arrives = "fetched from a JSON API"
        elif source.location and not any(Path(entry).is_absolute() for entry in source.location):
            arrives = "files bundled in `sources/`"
        elif source.location:
            arrives = "files at its `location`"
        else:
            arrives = f"files dropped into `data/inbox/{source.id}/`"
        rows.append(
            f"| `{source.id}` | {cell(source.title)} | {cell(source.partner)} | {source.kind} "
            f"| {arrives} | {'**synthetic**' if source.synthetic else 'real'} |"
        )
    return "\n".join(rows) + "\n"
