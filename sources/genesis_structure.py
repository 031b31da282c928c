"""A GENESIS table's structure as a mapping needs it, read from the service's metadata and the
table's own flat file: which variable holds the regions (one per level), which the sex and the
nationality, which other subgroups there are and how each codes its total; the value variables
with their units; the time code, its cells and the `school_year` rule that reads them; the
symbols and quality flags in the values.

Two uses (`bildungsmonitor genesis-metadata`): `starting_yaml` writes a registry entry for a
table that loads without edits where the table is regular, and `check_mapping` lists every
place where a registry entry and the live table disagree.
"""

from __future__ import annotations

import difflib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from schemas.catalogue import Catalogue
from schemas.tables import school_year_label
from sources.periods import FORMATS, start_year
from sources.registry import GenesisApi, MeasureMapping, Source
from sources.symbols import SYMBOL_STATUS

# region keys as GENESIS writes them: Deutschland, Land, Regierungsbezirk, Kreis, Gemeinde
_REGION_KEY = re.compile(r"DG|\d{2}|\d{3}|\d{5}|\d{8,9}|\d{12}")
LEVELS = {2: "Länder", 3: "Regierungsbezirke", 5: "Kreise", 8: "Gemeinden",
          9: "Gemeindeverbände", 12: "Gemeinden"}  # fmt: skip
SEX_CODES = {"GESM": "male", "GESW": "female"}
NATIONALITY_CODES = {"NATA": "foreign", "NATD": "german"}
TOTAL_CODES = ("", "INSGESAMT")
TOTAL_LABELS = ("insgesamt", "total")
# the units GENESIS writes -> the catalogue's units
UNITS = {
    "Anzahl": "count",
    "number": "count",
    "Prozent": "percent",
    "percent": "percent",
    "%": "percent",
    "Stunden": "hours",
    "1000": "thousand",
    "Tsd.": "thousand",
    "Tsd. EUR": "eur_thousand",
    "EUR 1000": "eur_thousand",
    "Mill. EUR": "eur_million",
    "EUR mn": "eur_million",
}
# the rule a time code asks for first; any other that reads every cell is the fallback
TIME_RULES = {
    "STAG": ("iso_date", "date"),
    "STAGV": ("iso_date", "date"),
    "JAHR": ("start_year",),
    "SCHJAHR": ("school_year",),
    "SEMEST": ("semester",),
    "QUARTG": ("quarter",),
    "MONAT": ("month",),
}
# the GENESIS services by their base path (as their hosts name them; a replay keeps the path)
SERVICES = {
    "/genesisws/rest": "Statistische Ämter des Bundes und der Länder – Regionalstatistik "
    "(GENESIS-Online)",
    "/genesisWS/rest": "Statistisches Bundesamt (Destatis) – GENESIS-Online",
    "/ldbnrwws/rest": "IT.NRW – Landesdatenbank NRW (GENESIS-Online)",
    "/bildungws/rest": "Statistische Ämter des Bundes und der Länder – Bildungsmonitoring.de "
    "(GENESIS-Online)",
    "/api/rest": "Statistische Ämter des Bundes und der Länder – Zensusdatenbank (GENESIS-Online)",
}


@dataclass(frozen=True)
class Variable:
    """A classifying variable of the flat file (`variable:<code>` in a mapping)."""

    code: str
    label: str
    codes: dict[str, str]  # attribute code -> label, in order of appearance
    lines: int  # the lines that carry it (a table may classify some lines only)
    role: str  # region | sex | nationality | subgroup

    @property
    def total(self) -> str | None:
        """The attribute code of its total (empty in most tables, INSGESAMT in some), or
        None if the variable has no total."""
        for code, label in self.codes.items():
            if code in TOTAL_CODES or label.strip().lower() in TOTAL_LABELS:
                return code
        return None

    def levels(self) -> str:
        counts = Counter(
            "Deutschland" if c == "DG" else LEVELS.get(len(c), f"keys of {len(c)} digits")
            for c in self.codes
        )
        return ", ".join(f"{level} ({n})" for level, n in counts.items())


@dataclass(frozen=True)
class ValueVariable:
    code: str
    label: str
    units: tuple[str, ...]
    lines: int

    @property
    def unit(self) -> str | None:
        """The catalogue's unit for the one unit GENESIS states, if it is known."""
        return UNITS.get(self.units[0]) if len(self.units) == 1 else None


@dataclass(frozen=True)
class TableStructure:
    table: str
    title: str
    updated: str | None
    lines: int
    time_code: str
    times: tuple[str, ...]
    values: tuple[ValueVariable, ...]
    variables: tuple[Variable, ...]
    symbols: dict[str, int] = field(default_factory=dict)  # symbol -> cells
    quality: bool = False  # the flat file has a value_q column

    def variable(self, code: str) -> Variable | None:
        return next((v for v in self.variables if v.code == code), None)

    @property
    def regions(self) -> list[Variable]:
        return [v for v in self.variables if v.role == "region"]

    def time_rule(self) -> str | None:
        """The `school_year.format` that reads every time cell: the one the time code asks
        for, else the first rule that fits."""
        preferred = TIME_RULES.get(self.time_code, ())
        for rule in (*preferred, *FORMATS):
            if self.times and all(_reads(t, rule) for t in self.times):
                return rule
        return None


def _reads(cell: str, rule: str) -> bool:
    try:
        start_year(cell, rule)
    except ValueError:
        return False
    return True


def structure_of(table: str, metadata: dict, flat: list[dict[str, str]]) -> TableStructure:
    """The structure of `table` from its metadata (`metadata/table`'s Object) and the rows of
    its flat file."""
    values: dict[str, tuple[str, Counter]] = {}
    variables: dict[str, tuple[str, dict[str, str], set[int]]] = {}
    times: dict[str, None] = {}
    time_codes: Counter = Counter()
    symbols: Counter = Counter()
    slots = sorted(
        {k.split("_", 1)[0] for row in flat[:1] for k in row if k[:1].isdigit()}, key=int
    )
    keys = [
        (f"{n}_variable_code", f"{n}_variable_label", f"{n}_variable_attribute_code",
         f"{n}_variable_attribute_label")
        for n in slots
    ]  # fmt: skip
    for number, row in enumerate(flat):
        label, units = values.setdefault(
            row.get("value_variable_code", ""), (row.get("value_variable_label", ""), Counter())
        )
        units[row.get("value_unit", "")] += 1
        times.setdefault(row.get("time", ""))
        time_codes[row.get("time_code", "")] += 1
        cell = (row.get("value") or "").strip()
        if cell in SYMBOL_STATUS and cell:
            symbols[cell] += 1
        for code_key, label_key, attribute_key, attribute_label_key in keys:
            code = row.get(code_key)
            if code:
                entry = variables.get(code)
                if entry is None:
                    entry = variables[code] = (row.get(label_key, ""), {}, set())
                attribute = (row.get(attribute_key) or "").strip()
                if attribute not in entry[1]:
                    entry[1][attribute] = row.get(attribute_label_key, "")
                entry[2].add(number)
    listed = []
    for code, (label, codes, lines) in variables.items():
        if set(codes) & set(SEX_CODES):
            role = "sex"
        elif set(codes) & set(NATIONALITY_CODES):
            role = "nationality"
        elif codes and all(_REGION_KEY.fullmatch(c) for c in codes):
            role = "region"
        else:
            role = "subgroup"
        listed.append(Variable(code, label, codes, len(lines), role))
    return TableStructure(
        table=table,
        title=" ".join(str(metadata.get("Content") or table).split()),
        updated=metadata.get("Updated"),
        lines=len(flat),
        time_code=time_codes.most_common(1)[0][0] if time_codes else "",
        times=tuple(times),
        values=tuple(
            ValueVariable(code, label, tuple(units), sum(units.values()))
            for code, (label, units) in values.items()
            if code
        ),
        variables=tuple(listed),
        symbols=dict(symbols),
        quality=bool(flat) and "value_q" in flat[0],
    )


# --- a starting registry entry ----------------------------------------------------------------


def _q(text: str) -> str:
    """A YAML scalar in double quotes (JSON's string syntax is YAML's)."""
    return json.dumps(text, ensure_ascii=False)


def _flow(mapping: dict[str, str]) -> str:
    return "{" + ", ".join(f"{_q(k)}: {_q(v)}" for k, v in mapping.items()) + "}"


def source_id_for(table: str) -> str:
    return "genesis_" + re.sub(r"[^a-z0-9]+", "_", table.lower()).strip("_")


def _measure_for(value: ValueVariable, catalogue: Catalogue) -> str | None:
    return next((m.id for m in catalogue.measures.values() if value.code in m.genesis), None)


def starting_yaml(
    structure: TableStructure,
    catalogue: Catalogue,
    *,
    base_url: str,
    username_env: str,
    password_env: str | None,
    source_id: str | None = None,
) -> tuple[str, list[str]]:
    """A registry entry for the table, and what keeps it from loading unchanged (empty for a
    regular table): no value variable with a catalogue measure, a unit the measure does not
    have, a time no rule reads, no region variable, sex or nationality codes it cannot read."""
    irregular: list[str] = []
    notes: list[str] = []
    table = structure.table
    source_id = source_id or source_id_for(table)
    path = urlsplit(base_url).path
    partner = next((name for marker, name in SERVICES.items() if path.startswith(marker)),
                   f"GENESIS-Online ({urlsplit(base_url).hostname})")  # fmt: skip

    # value variables -> measures, with their units
    mapped: dict[str, str] = {}
    for value in structure.values:
        measure = _measure_for(value, catalogue)
        units = ", ".join(value.units)
        if measure is None:
            notes.append(
                f"value variable {value.code} ({value.label} [{units}]) has no measure in "
                f"schemas/measures.yaml (add one with `genesis: [{value.code}]`): not loaded"
            )
            continue
        unit = catalogue.measures[measure].unit
        if value.unit != unit:
            irregular.append(
                f"value variable {value.code} is stated in {units}, measure {measure} in {unit}"
            )
        mapped[value.code] = measure
    if not mapped:
        irregular.append(
            "no value variable of the table has a measure in schemas/measures.yaml: "
            + "; ".join(f"{v.code} ({v.label} [{', '.join(v.units)}])" for v in structure.values)
        )

    # time
    rule = structure.time_rule()
    if rule is None:
        irregular.append(
            f"no school_year rule reads the time cells ({structure.time_code}: "
            f"{', '.join(structure.times[:3])})"
        )
    filters: dict[str, list[str]] = {}
    time_note = f"{structure.time_code}: {_span(structure.times)}"
    if rule == "start_year":  # a calendar year: which school year it stands for is a choice
        time_note += "; read as the school year it begins (end_year: the one it ends)"
    if rule is not None:
        by_year: dict[int, list[str]] = {}
        for cell in sorted(structure.times):
            by_year.setdefault(start_year(cell, rule), []).append(cell)
        if any(len(cells) > 1 for cells in by_year.values()):
            # quarter-end dates (STAGV), months …: one figure per school year is kept, the
            # latest the table has for it
            filters["time"] = [cells[-1] for _, cells in sorted(by_year.items())]
            notes.append(
                f"{len(structure.times)} time values fall into {len(by_year)} school years: "
                "the latest of each is kept (filters.time); a new one must be added there"
            )

    # variables
    regions = structure.regions
    if not regions:
        irregular.append("no variable holds region keys")
    dimensions: dict[str, tuple[str, dict[str, str]]] = {}
    summed: list[str] = []
    for variable in structure.variables:
        if variable.role in ("sex", "nationality"):
            words = SEX_CODES if variable.role == "sex" else NATIONALITY_CODES
            values = {c: word for c, word in words.items() if c in variable.codes}
            if variable.total is not None:
                values[variable.total] = "total"
            unknown = [c for c in variable.codes if c not in values]
            if unknown:
                irregular.append(
                    f"{variable.code}: codes {', '.join(unknown)} are no {variable.role}"
                )
            if variable.role in dimensions:
                irregular.append(f"{variable.code}: a second {variable.role} variable")
            dimensions[variable.role] = (variable.code, values)
        elif variable.role == "subgroup":
            total = variable.total
            if total is not None:
                filters[f"variable:{variable.code}"] = [total]
            elif variable.lines < structure.lines:
                # an alternative breakdown on some lines only: the lines without it are kept
                filters[f"variable:{variable.code}"] = [""]
            else:
                summed.append(variable.code)
    if mapped and len(mapped) < len(structure.values):  # the value variables with a measure
        filters = {"value_variable_code": sorted(mapped), **filters}
    measures = sorted(set(mapped.values()))

    lines = [
        f"# Starting registry entry for the GENESIS table {table}, written by",
        f"# `bildungsmonitor genesis-metadata {table} --yaml` from what the service says about",
        f"# the table (updated {structure.updated}) and its flat file ({structure.lines:,} lines).",
        "# Check title and licence, then compare it with the live table before the first night:",
        f"#   bildungsmonitor genesis-metadata --check {source_id}",
    ]
    for note in [*irregular, *notes]:
        lines.append(f"# NOTE: {note}")
    lines += [
        f"id: {source_id}",
        f"title: {_q(f'{structure.title} ({table})')}",
        f"partner: {_q(partner)}",
        f"licence: {_q('Datenlizenz Deutschland – Namensnennung – Version 2.0')}",
        "standing: official",
        "kind: genesis_api",
        "api:",
        f"  base_url: {base_url}",
        f"  table: {_q(table)}",
        "  credentials: {username_env: "
        + username_env
        + (f", password_env: {password_env}" if password_env else "")
        + "}",
        "  parameters: {area: all, language: de"
        + (', quality: "on"}  # with the quality flags (value_q)' if structure.quality else "}"),
        'coverage: "DG"',
        "mapping:",
    ]
    if regions:
        columns = [f"variable:{v.code}" for v in regions]
        column = _q(columns[0]) if len(columns) == 1 else "[" + ", ".join(map(_q, columns)) + "]"
        levels = "; ".join(f"{v.code}: {v.levels()}" for v in regions)
        lines.append(f"  region: {{column: {column}, by: key}}  # {levels}")
    lines.append(f"  school_year: {{column: time, format: {rule or 'TODO'}}}  # {time_note}")
    for role in ("sex", "nationality"):
        if role in dimensions:
            code, values = dimensions[role]
            lines.append(f"  {role}: {{column: {_q('variable:' + code)}, values: {_flow(values)}}}")
    if filters:
        lines.append("  filters:")
        for column, kept in filters.items():
            shown = _q(kept[0]) if len(kept) == 1 else "[" + ", ".join(map(_q, kept)) + "]"
            why = ""
            if column.startswith("variable:"):
                variable = structure.variable(column.split(":", 1)[1])
                assert variable is not None
                why = (
                    f"  # {variable.label}: its total"
                    if kept != [""] or variable.total == ""
                    else f"  # {variable.label}: on some lines only; the lines without it"
                )
            lines.append(f"    {_q(column)}: {shown}{why}")
    if len(measures) > 1:
        lines.append("  lookups:")
        lines.append(f"    measure: {{column: value_variable_code, values: {_flow(mapped)}}}")
        lines.append("  values:")
        lines.append('    value: "{measure}"')
    else:
        lines.append("  values:")
        measure = measures[0] if measures else "TODO"
        about = "; ".join(
            f"{v.code} {v.label} [{', '.join(v.units)}]"
            for v in structure.values
            if mapped.get(v.code) == measure
        )
        lines.append(f"    value: {measure}  # {about}" if about else f"    value: {measure}")
    if summed:
        lines.append(
            f"  combine_rows: true  # no total in {', '.join(summed)}: their codes are added up"
        )
    if structure.symbols:
        shown = ", ".join(f"{s} ({n:,})" for s, n in structure.symbols.items())
        lines.append(f"# symbols in the values: {shown} — official symbols, read as statuses")
    return "\n".join(lines) + "\n", irregular


def _span(times: tuple[str, ...]) -> str:
    ordered = sorted(times)
    if not ordered:
        return "no values"
    if len(ordered) == 1:
        return ordered[0]
    return f"{ordered[0]} … {ordered[-1]} ({len(ordered)} values)"


# --- a registry entry against the live table --------------------------------------------------


@dataclass(frozen=True)
class Mismatch:
    kind: str  # table | variable | codes | summed | value_variable | unit | time
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


def check_mapping(
    source: Source,
    structure: TableStructure,
    catalogue: Catalogue,
    *,
    found_as: str | None = None,
) -> list[Mismatch]:
    """Every place where the source's registry entry and the live table disagree.
    `found_as`: the table the service has under a name like the one the entry gives (the
    entry's own name is unknown to the service)."""
    api = source.api
    mapping = source.measures
    assert isinstance(api, GenesisApi) and mapping is not None
    problems: list[Mismatch] = []
    if found_as is not None:
        problems.append(
            Mismatch(
                "table",
                f"the service has no table {api.table}; it has {found_as} "
                f"({structure.title}) — set api.table: {found_as}",
            )
        )
    known = [v.code for v in structure.variables]

    def variable(column: str, key: str) -> Variable | None:
        """The variable a column names; for a name the table does not have, the one it
        probably means (so that its codes are compared too), after saying so."""
        if not column.startswith("variable:"):
            return None
        code = column.split(":")[1]  # variable:SCHART or its labels, variable:SCHART:label
        found = structure.variable(code)
        if found is None:
            close = difflib.get_close_matches(code, known, n=1, cutoff=0.3)
            hint = f" — did you mean {close[0]}?" if close else ""
            problems.append(
                Mismatch(
                    "variable",
                    f"mapping.{key}: the table has no variable {code} (it has "
                    f"{', '.join(known)}){hint}",
                )
            )
            found = structure.variable(close[0]) if close else None
        return found

    # regions
    columns = mapping.region_columns or (mapping.region_column,)
    for column in columns:
        variable(column, "region.column")
    mapped_regions = {c.split(":")[1] for c in columns if c.startswith("variable:")}
    for region in structure.regions if len(mapped_regions) == len(columns) else []:
        if region.code not in mapped_regions and f"variable:{region.code}" not in mapping.filters:
            problems.append(
                Mismatch(
                    "variable",
                    f"mapping.region.column: the table also keys regions by {region.code} "
                    f"({region.levels()}); those lines would have no region",
                )
            )
    # sex, nationality: variable and every code, the total's too
    addressed = set(mapped_regions)
    for name, dimension in (("sex", mapping.sex), ("nationality", mapping.nationality)):
        if dimension.column is None:
            continue
        found = variable(dimension.column, f"{name}.column")
        if found is None:
            continue
        addressed.add(found.code)
        problems += _code_mismatches(f"{name}.values", found, set(dimension.values))
    for name, lookup in mapping.lookups.items():
        found = variable(lookup.column, f"lookups.{name}.column")
        if found is None:
            continue
        addressed.add(found.code)
        if lookup.column.endswith(":label"):  # labels: each of the table's must be mapped
            missing = [t for t in found.codes.values() if t not in lookup.values]
            if missing:
                problems.append(
                    Mismatch(
                        "codes",
                        f"mapping.lookups.{name}.values: {', '.join(missing)} (labels of "
                        f"{found.code}) {'is' if len(missing) == 1 else 'are'} not mapped",
                    )
                )
        else:
            problems += _code_mismatches(f"lookups.{name}.values", found, set(lookup.values))
    for column, kept in mapping.filters.items():
        found = variable(column, f"filters.{column}")
        if found is None:
            continue
        addressed.add(found.code)
        unknown = [
            k
            for k in kept
            if k not in found.codes and not (k == "" and found.lines < structure.lines)
        ]
        if unknown:
            problems.append(
                Mismatch(
                    "codes",
                    f"mapping.filters.{column}: {_codes(unknown)} not a code of {found.code} "
                    f"(its codes: {_codes(list(found.codes))})",
                )
            )
    # subgroups the mapping does not address: summed or repeated
    for other in structure.variables:
        if other.code in addressed or other.role == "region":
            continue
        total = other.total
        if mapping.combine_rows and total is not None:
            problems.append(
                Mismatch(
                    "summed",
                    f"{other.code} ({other.label}) has its own total {_codes([total])}: "
                    "combine_rows would add it to its parts and count every figure twice — "
                    f'keep the total: filters: {{"variable:{other.code}": {_q(total)}}}',
                )
            )
        elif not mapping.combine_rows:
            problems.append(
                Mismatch(
                    "variable",
                    f"{other.code} ({other.label}) is not mapped: its {len(other.codes)} codes "
                    "would give the same figure several times"
                    + (
                        f' — keep its total: filters: {{"variable:{other.code}": {_q(total)}}}'
                        if total is not None
                        else " — add them up: combine_rows: true"
                    ),
                )
            )
    # value variables and their units
    by_code = {v.code: v for v in structure.values}
    measures = _measures_by_value_variable(mapping, [v.code for v in structure.values])
    for code, measure_ids in measures.items():
        value = by_code.get(code)
        if value is None:
            close = difflib.get_close_matches(code, list(by_code), n=1, cutoff=0.3)
            problems.append(
                Mismatch(
                    "value_variable",
                    f"the table has no value variable {code} (it has "
                    f"{', '.join(f'{v.code} {v.label}' for v in structure.values)})"
                    + (f" — did you mean {close[0]}?" if close else ""),
                )
            )
            continue
        for measure_id in measure_ids:
            measure = catalogue.measures.get(measure_id)
            if measure is not None and value.unit != measure.unit:
                problems.append(
                    Mismatch(
                        "unit",
                        f"value variable {code} ({value.label}) is stated in "
                        f"{', '.join(value.units)}; measure {measure_id} is in {measure.unit}",
                    )
                )
    # value variables by their label: each label the lookup maps must be the table's
    labels = {v.label for v in structure.values}
    for name, lookup in mapping.lookups.items():
        if lookup.column == "value_variable_label":
            missing = [t for t in labels if t not in lookup.values]
            if missing:
                problems.append(
                    Mismatch(
                        "value_variable",
                        f"mapping.lookups.{name}.values: the value variable"
                        f"{'s' * (len(missing) > 1)} {', '.join(sorted(missing))} "
                        f"{'is' if len(missing) == 1 else 'are'} not mapped",
                    )
                )
    chosen_by = ("value_variable_code", "value_variable_label", "value_unit")
    if (
        not any(c in mapping.filters for c in chosen_by)
        and not any(lk.column in chosen_by for lk in mapping.lookups.values())
        and len(structure.values) > 1
    ):
        problems.append(
            Mismatch(
                "value_variable",
                f"the table has {len(structure.values)} value variables "
                f"({', '.join(v.code for v in structure.values)}) and the mapping takes them "
                "all as one measure: filter one (filters: {value_variable_code: …}) or map "
                "each (lookups on value_variable_code)",
            )
        )
    # time
    if mapping.year_column == "time":
        unread = [t for t in structure.times if not _reads(t, mapping.year_format)]
        if unread:
            fits = structure.time_rule()
            problems.append(
                Mismatch(
                    "time",
                    f"mapping.school_year.format {mapping.year_format} does not read the "
                    f"table's time ({structure.time_code}: {unread[0]!r}"
                    + (f"; {len(unread) - 1} more" if len(unread) > 1 else "")
                    + ")"
                    + (
                        f" — it reads as {fits}: {unread[0]} is school year "
                        f"{school_year_label(start_year(unread[0], fits))}"
                        if fits
                        else ""
                    ),
                )
            )
    return problems


def _codes(codes: list[str]) -> str:
    return ", ".join("'' (empty)" if c == "" else c for c in codes)


def _code_mismatches(key: str, found: Variable, written: set[str]) -> list[Mismatch]:
    unknown = sorted(written - set(found.codes))
    missing = [c for c in found.codes if c not in written]
    if not unknown and not missing:
        return []
    parts = []
    if unknown:
        parts.append(f"{found.code} has no code {_codes(unknown)}")
    if missing:
        total = found.total
        named = [f"{_codes([c])}, its total," if c == total else _codes([c]) for c in missing]
        parts.append(f"{', '.join(named)} {'is' if len(missing) == 1 else 'are'} not mapped")
    return [
        Mismatch(
            "codes",
            f"mapping.{key}: {'; '.join(parts)} (its codes: {_codes(list(found.codes))})",
        )
    ]


def _measures_by_value_variable(mapping: MeasureMapping, codes: list[str]) -> dict[str, set[str]]:
    """Value variable -> the measures the mapping gives its values."""
    lookup = next(
        (lk for lk in mapping.lookups.values() if lk.column == "value_variable_code"), None
    )
    kept = mapping.filters.get("value_variable_code")
    chosen = list(kept) if kept is not None else (list(lookup.values) if lookup else codes)
    result: dict[str, set[str]] = {}
    for code in chosen:
        measures = set()
        for value in mapping.values:
            if value.column != "value":
                continue
            template = value.measure
            if lookup is not None:
                name = next(n for n, lk in mapping.lookups.items() if lk is lookup)
                template = template.replace("{" + name + "}", lookup.values.get(code, "?"))
            if "{" not in template:
                measures.add(template)
        result[code] = measures
    return result
