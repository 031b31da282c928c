"""Build ``schemas/regions.csv`` from real GENESIS data of the Regionalstatistik.

    python -m sources.build_regions [--recordings DIR] [--regionalstatistik FILE] [--output FILE]

Inputs: two GENESIS REST recordings (vcrpy cassettes; each ``data/tablefile`` response body is a
zip holding one GENESIS "ffcsv" flat CSV, UTF-8 with BOM, ``;``) and one committed table export:

- ``AI-N-01-2-5.yaml``: every Gemeinde (variable GEMEIN, 8-digit AGS) with two 2023 values of
  the Regionalatlas. A key whose values are all ``-`` is historical (``is_current=false``).
  Also Berlin's 12 Bezirke (``11001001`` …), which become level ``stadtbezirk``.
- ``11111-02-01-4.yaml``: every Kreis / kreisfreie Stadt (variable KREISE, 5-digit key) with
  its "Zahl der Gemeinden" on 2024-12-31; used for the Kreis names and to check, Kreis by Kreis,
  the rule for "current" Gemeinden.
- ``sources/demo/official/regionalstatistik_21111-01-03-4.csv`` (table 21111-01-03-4, 2023,
  read with ``sources.readers.read_genesis_table``): the Regierungsbezirke and Statistische
  Regionen (3-digit keys) of every Land that has them, current or not (a region whose rows are
  all ``-`` is historical); and a cross-check that every key of that table is in the output,
  current exactly when its rows carry a value.

Länder, Germany and the Ruhr (RVR) are hard-coded below, as are NRW's Regierungsbezirke (a
guard: the table must list exactly these). The output is sorted by ``region_code`` and
byte-for-byte deterministic. See ``schemas/REGIONS.md``.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from schemas.tables import GERMANY_CODE, NRW_CODE, RUHR_CODE
from sources.readers import read_genesis_table

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RECORDINGS = REPO_ROOT.parent / "shared" / "data" / "genesis-recordings"
DEFAULT_OUTPUT = REPO_ROOT / "schemas" / "regions.csv"

GEMEINDEN_CASSETTE = "AI-N-01-2-5.yaml"
KREISE_CASSETTE = "11111-02-01-4.yaml"
# A committed input, relative to the repository.
REGIONALSTATISTIK_TABLE = Path("sources/demo/official/regionalstatistik_21111-01-03-4.csv")
DEFAULT_REGIONALSTATISTIK = REPO_ROOT / REGIONALSTATISTIK_TABLE

COLUMNS = (
    "region_code",
    "name",
    "official_name",
    "level",
    "parent_code",
    "kreis_code",
    "land_code",
    "in_ruhr",
    "is_current",
)

GERMANY_NAME = "Deutschland"
LAENDER: dict[str, str] = {
    "01": "Schleswig-Holstein",
    "02": "Hamburg",
    "03": "Niedersachsen",
    "04": "Bremen",
    "05": "Nordrhein-Westfalen",
    "06": "Hessen",
    "07": "Rheinland-Pfalz",
    "08": "Baden-Württemberg",
    "09": "Bayern",
    "10": "Saarland",
    "11": "Berlin",
    "12": "Brandenburg",
    "13": "Mecklenburg-Vorpommern",
    "14": "Sachsen",
    "15": "Sachsen-Anhalt",
    "16": "Thüringen",
}
# NRW's five Regierungsbezirke (the Ruhr initiative's scope). The Regierungsbezirke and
# Statistische Regionen of all Länder come from table 21111-01-03-4; it must list these five.
NRW_REGIERUNGSBEZIRKE: dict[str, str] = {
    "051": "Düsseldorf",
    "053": "Köln",
    "055": "Münster",
    "057": "Detmold",
    "059": "Arnsberg",
}

# Berlin's Bezirke: parts of the one Gemeinde Berlin, level "stadtbezirk"
BERLIN_GEMEINDE = "11000000"
BERLIN_KREIS = "11000"
BERLIN_LAND = "11"

RUHR_NAME = "Ruhrgebiet (Regionalverband Ruhr)"
RUHR_OFFICIAL_NAME = "Regionalverband Ruhr"
# The 11 kreisfreie Städte and 4 Kreise of the Regionalverband Ruhr, with the name each key
# must carry (a guard against a typo in a key).
RUHR_KREISFREIE_STAEDTE: dict[str, str] = {
    "05112": "Duisburg",
    "05113": "Essen",
    "05117": "Mülheim an der Ruhr",
    "05119": "Oberhausen",
    "05512": "Bottrop",
    "05513": "Gelsenkirchen",
    "05911": "Bochum",
    "05913": "Dortmund",
    "05914": "Hagen",
    "05915": "Hamm",
    "05916": "Herne",
}
RUHR_KREISE: dict[str, str] = {
    "05170": "Kreis Wesel",
    "05562": "Kreis Recklinghausen",
    "05954": "Ennepe-Ruhr-Kreis",
    "05978": "Kreis Unna",
}
RUHR_MUNICIPALITY_COUNT = 53
RUHR_KREIS_COUNT = 15

# --- display names -------------------------------------------------------------------------

_KREISFREI_QUALIFIERS = {"kreisfreie stadt", "stadtkreis", "krfr. stadt"}
_PREFIX_QUALIFIERS = {"kreis": "Kreis", "landkreis": "Landkreis"}
_REGIONALVERBAND = "regionalverband"
# Parts of a status or honorific title ("Stadt", "Hansestadt", "Ostseebad", "M" = Markt,
# "St" = Stadt, "GKSt" = Große Kreisstadt, "Kuort" sic). Any other qualifier after the first
# comma ("Altmark", "Saale", "Kr Göttingen", "b Angermünde") tells places apart and is kept.
_STATUS_WORDS = ("stadt", "gemeinde", "flecken", "bad", "kurort", "kuort", "dorf", "hochschulort")
_STATUS_ABBREVIATIONS = {"m", "st", "gkst"}
_ALT = re.compile(r"\s*\(alt\)$")
_SPACES = re.compile(r"\s+")


def _clean(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def is_status_qualifier(qualifier: str) -> bool:
    """True for 'Stadt', 'kreisfreie Stadt', 'Hansestadt', 'M', 'Ostseebad' …; False for
    geographic qualifiers such as 'Altmark' or 'Kr Göttingen'."""
    q = _ALT.sub("", _clean(qualifier)).casefold()
    if q in _STATUS_ABBREVIATIONS or q in _PREFIX_QUALIFIERS or q == _REGIONALVERBAND:
        return True
    return any(word in q for word in _STATUS_WORDS)


def display_name(official_name: str) -> str:
    """The display name (``name`` column) for a GENESIS name; see REGIONS.md.

    'Duisburg, kreisfreie Stadt' -> 'Duisburg'; 'Wesel, Kreis' -> 'Kreis Wesel';
    'Freising, Landkreis' -> 'Landkreis Freising'; 'Städteregion Aachen, Kreis' ->
    'Städteregion Aachen'; 'Wesel, Stadt' -> 'Wesel'; 'Aachen, Stadt (alt)' -> 'Aachen (alt)';
    'Leppin, Altmark' -> 'Leppin, Altmark'; 'Saarbrücken, Regionalverband' ->
    'Regionalverband Saarbrücken'.
    """
    base, *qualifiers = [_clean(part) for part in official_name.split(",")]
    qualifiers = [q for q in qualifiers if q]
    kept = [q for q in qualifiers if not is_status_qualifier(q)]
    lowered = [_ALT.sub("", q).casefold() for q in qualifiers]
    is_alt = any(_ALT.search(q) for q in qualifiers)
    name = ", ".join([base, *kept])
    base_lower = base.casefold()
    if _REGIONALVERBAND in lowered:
        name = f"Regionalverband {name}"
    elif not _KREISFREI_QUALIFIERS.intersection(lowered) and not (
        "kreis" in base_lower or "region" in base_lower
    ):
        for q in lowered:
            if q in _PREFIX_QUALIFIERS:
                name = f"{_PREFIX_QUALIFIERS[q]} {name}"
                break
    if is_alt:
        name = f"{name} (alt)"
    return name


# The kinds of 3-digit region table 21111-01-03-4 names ('Oberbayern, Regierungsbezirk',
# 'Braunschweig, Statistische Region'); the display name puts the kind first.
REGION_KINDS = ("Regierungsbezirk", "Statistische Region")


def region_display_name(official_name: str) -> str:
    """'Oberbayern, Regierungsbezirk' -> 'Regierungsbezirk Oberbayern';
    'Braunschweig, Statistische Region' -> 'Statistische Region Braunschweig'."""
    base, _, kind = _clean(official_name).rpartition(", ")
    if not base or kind not in REGION_KINDS:
        raise ValueError(f"not a Regierungsbezirk or Statistische Region: {official_name!r}")
    return f"{kind} {base}"


# --- reading the recordings ----------------------------------------------------------------


@dataclass(frozen=True)
class FlatRow:
    code: str
    label: str
    value: str


def _yaml_loader() -> type:
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_ffcsv_tables(cassette: Path, variable: str) -> list[list[FlatRow]]:
    """Every ``data/tablefile`` response of a cassette, as ffcsv rows of ``variable``."""
    with cassette.open("rb") as handle:
        recording = yaml.load(handle, Loader=_yaml_loader())
    tables: list[list[FlatRow]] = []
    for interaction in recording["interactions"]:
        if not interaction["request"]["uri"].endswith("/data/tablefile"):
            continue
        if interaction["response"]["status"]["code"] != 200:
            continue
        body = interaction["response"]["body"]["string"]
        if not isinstance(body, bytes) or not body.startswith(b"PK"):
            continue
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            members = archive.namelist()
            if len(members) != 1:
                raise ValueError(f"{cassette.name}: expected one file per zip, got {members}")
            text = archive.read(members[0]).decode("utf-8-sig")
        reader = csv.DictReader(io.StringIO(text), delimiter=";")
        rows = []
        for record in reader:
            if record["1_variable_code"] != variable:
                raise ValueError(
                    f"{cassette.name}: unexpected variable {record['1_variable_code']}"
                )
            rows.append(
                FlatRow(
                    record["1_variable_attribute_code"],
                    record["1_variable_attribute_label"],
                    record["value"],
                )
            )
        tables.append(rows)
    if not tables:
        raise ValueError(f"{cassette}: no zipped data/tablefile response")
    first = sorted((r.code, r.label, r.value) for r in tables[0])
    for other in tables[1:]:
        if sorted((r.code, r.label, r.value) for r in other) != first:
            raise ValueError(f"{cassette.name}: the recorded responses differ in content")
    return tables


@dataclass(frozen=True)
class TableRegion:
    """One region key of table 21111-01-03-4: its name (stripped) and whether any of its cells
    holds something other than '-' (a number, 'x', '.' …)."""

    code: str
    name: str
    has_values: bool


_TABLE_KEY = re.compile(r"DG|\d{2}|\d{3}|\d{5}|\d{8}")


def read_regionalstatistik_regions(path: Path) -> dict[str, TableRegion]:
    """The region keys of a Regionalstatistik table export (labels: year, key, name, …), in
    file order."""
    table = read_genesis_table(path.read_bytes(), path.name)
    if table.label_columns < 3:
        raise ValueError(f"{path.name}: expected year, region key and name as row labels")
    names: dict[str, set[str]] = defaultdict(set)
    has_values: dict[str, bool] = {}
    for row in table.rows:
        code = row.cells[1].strip()
        if not _TABLE_KEY.fullmatch(code):
            raise ValueError(f"{path.name}, line {row.line}: unexpected region key {code!r}")
        names[code].add(_clean(row.cells[2]))
        values = [cell.strip() for cell in row.cells[table.label_columns :]]
        has_values[code] = has_values.get(code, False) or any(v != "-" for v in values)
    regions: dict[str, TableRegion] = {}
    for code, found in names.items():
        if len(found) != 1:
            raise ValueError(f"{path.name}: key {code} has names {sorted(found)}")
        regions[code] = TableRegion(code, next(iter(found)), has_values[code])
    if not regions:
        raise ValueError(f"{path.name}: no data rows")
    return regions


# --- building ------------------------------------------------------------------------------


@dataclass
class Region:
    code: str
    name: str
    official_name: str
    level: str
    parent_code: str = ""
    kreis_code: str = ""
    land_code: str = ""
    in_ruhr: bool = False
    is_current: bool = True

    def as_row(self) -> list[str]:
        return [
            self.code,
            self.name,
            self.official_name,
            self.level,
            self.parent_code,
            self.kreis_code,
            self.land_code,
            "true" if self.in_ruhr else "false",
            "true" if self.is_current else "false",
        ]


@dataclass
class BuildReport:
    gemeinden_current: int = 0
    gemeinden_historical: int = 0
    kreise_current: int = 0
    kreise_historical: int = 0
    regierungsbezirke_current: list[str] = field(default_factory=list)
    regierungsbezirke_historical: list[str] = field(default_factory=list)
    berlin_bezirke: list[tuple[str, str]] = field(default_factory=list)
    table_keys: int = 0
    table_keys_historical: list[str] = field(default_factory=list)
    excluded_gemeindefrei: list[tuple[str, str, bool]] = field(default_factory=list)
    count_mismatches: list[tuple[str, str, int, int]] = field(default_factory=list)
    kreis_status_disagreements: list[tuple[str, str, str]] = field(default_factory=list)
    rows: int = 0

    def lines(self) -> list[str]:
        out = [
            f"rows written: {self.rows}",
            f"Gemeinden: {self.gemeinden_current} current, {self.gemeinden_historical} historical",
            f"Kreise: {self.kreise_current} current, {self.kreise_historical} historical",
            "Regierungsbezirke / Statistische Regionen: "
            f"{len(self.regierungsbezirke_current)} current, "
            f"{len(self.regierungsbezirke_historical)} historical "
            f"({', '.join(self.regierungsbezirke_historical)})",
            f"Berlin Bezirke (level stadtbezirk): {len(self.berlin_bezirke)}",
            f"keys of {REGIONALSTATISTIK_TABLE.name}: {self.table_keys}, all in the reference; "
            f"{len(self.table_keys_historical)} historical (rows all '-')",
            f"excluded gemeindefreie Gebiete: {len(self.excluded_gemeindefrei)} "
            f"({sum(cur for *_, cur in self.excluded_gemeindefrei)} with values)",
            "Kreise whose 11111-02-01-4 value '-' disagrees with current Gemeinden in "
            f"AI-N-01-2-5: {len(self.kreis_status_disagreements)}",
        ]
        out += [f"  {code} {name}: {why}" for code, name, why in self.kreis_status_disagreements]
        out.append(
            "Kreise whose current Gemeinden differ from 'Zahl der Gemeinden' (11111-02-01-4, "
            f"2024-12-31): {len(self.count_mismatches)}"
        )
        out += [
            f"  {code} {name}: 11111 says {expected}, current Gemeinden here {found}"
            for code, name, expected, found in self.count_mismatches
        ]
        return out


def _is_gemeindefrei(code: str, label: str) -> bool:
    """Gemeindefreie Gebiete: named so ('gemfr. Geb.', 'gemeindefreies Gebiet', 'Gemfr. Geb.'),
    or in Bayern numbered 4xx without the note ('Ebersberger Forst', 'Chiemsee (See)').

    The two inhabited gemeindefreie *Bezirke* of Niedersachsen with their own administration
    ('Lohheide, gemfr. Bez.', 'Osterheide, gemfr. Bezirk') are kept: table 11111-02-01-4
    counts them as Gemeinden of Celle and the Heidekreis.
    """
    if re.search(r"gemfr\. ?bez", label, re.IGNORECASE):
        return False
    if re.search(r"gemfr\.|gemeindefrei", label, re.IGNORECASE):
        return True
    return code.startswith("09") and code[5] == "4"


def _is_berlin_bezirk(code: str) -> bool:
    return code.startswith("11") and code != "11000000"


def build(
    recordings: Path, output: Path, regionalstatistik: Path = DEFAULT_REGIONALSTATISTIK
) -> BuildReport:
    """Read the two cassettes in ``recordings`` and the table export ``regionalstatistik``
    and write the region table to ``output``."""
    report = BuildReport()
    gemeinde_rows = read_ffcsv_tables(recordings / GEMEINDEN_CASSETTE, "GEMEIN")[0]
    kreis_rows = read_ffcsv_tables(recordings / KREISE_CASSETTE, "KREISE")[0]
    table = read_regionalstatistik_regions(regionalstatistik)

    # Gemeinden: one label per key; current when any value is not '-'.
    labels: dict[str, set[str]] = defaultdict(set)
    values: dict[str, list[str]] = defaultdict(list)
    for row in gemeinde_rows:
        if not re.fullmatch(r"\d{8}", row.code):
            raise ValueError(f"{GEMEINDEN_CASSETTE}: unexpected Gemeinde key {row.code!r}")
        labels[row.code].add(row.label)
        values[row.code].append(row.value.strip())
    gemeinden: dict[str, tuple[str, bool]] = {}
    bezirke: dict[str, tuple[str, bool]] = {}
    for code in sorted(labels):
        if len(labels[code]) != 1:
            raise ValueError(f"{GEMEINDEN_CASSETTE}: key {code} has names {sorted(labels[code])}")
        (label,) = labels[code]
        current = any(value != "-" for value in values[code])
        if _is_gemeindefrei(code, label):
            report.excluded_gemeindefrei.append((code, label, current))
        elif _is_berlin_bezirk(code):
            bezirke[code] = (label, current)
            report.berlin_bezirke.append((code, label))
        else:
            gemeinden[code] = (label, current)

    # Kreise: 5-digit keys of 11111-02-01-4 (its 8-digit keys are Gemeinden listed as
    # kreisfreie Städte, e.g. 05334002 Aachen; they come from AI-N-01-2-5).
    kreise: dict[str, tuple[str, str]] = {}
    for row in kreis_rows:
        if re.fullmatch(r"\d{5}", row.code):
            if row.code in kreise:
                raise ValueError(f"{KREISE_CASSETTE}: duplicate Kreis key {row.code}")
            kreise[row.code] = (row.label, row.value.strip())
        elif not re.fullmatch(r"\d{8}", row.code):
            raise ValueError(f"{KREISE_CASSETTE}: unexpected key {row.code!r}")
    current_per_kreis = Counter(code[:5] for code, (_, cur) in gemeinden.items() if cur)
    orphans = sorted({code[:5] for code in gemeinden} - kreise.keys())
    if orphans:
        raise ValueError(f"Gemeinden without a Kreis in {KREISE_CASSETTE}: {orphans}")

    # Regierungsbezirke and Statistische Regionen (3-digit keys) of table 21111-01-03-4: current
    # when a current Kreis lies in them; their rows in the table must agree (values vs. all '-').
    current_kreis_prefixes = {code[:3] for code in kreise if current_per_kreis[code] > 0}
    regierungsbezirke: dict[str, tuple[str, bool]] = {}
    for code, entry in sorted(table.items()):
        if len(code) != 3:
            continue
        if code[:2] not in LAENDER:
            raise ValueError(f"{REGIONALSTATISTIK_TABLE.name}: region {code} in unknown Land")
        current = code in current_kreis_prefixes
        if current != entry.has_values:
            raise AssertionError(
                f"{REGIONALSTATISTIK_TABLE.name}: region {code} {entry.name!r} "
                + ("has no values but current Kreise" if current else "has values, no Kreise")
            )
        regierungsbezirke[code] = (entry.name, current)
    nrw_found = {c: n for c, (n, _) in regierungsbezirke.items() if c.startswith(NRW_CODE)}
    nrw_expected = {c: f"{n}, Regierungsbezirk" for c, n in NRW_REGIERUNGSBEZIRKE.items()}
    if nrw_found != nrw_expected:
        raise AssertionError(f"NRW Regierungsbezirke in the table: {nrw_found}")

    regions: list[Region] = [Region(GERMANY_CODE, GERMANY_NAME, GERMANY_NAME, "bund")]
    for code, name in LAENDER.items():
        regions.append(Region(code, name, name, "land", GERMANY_CODE, "", code))
    for code, (name, current) in regierungsbezirke.items():
        regions.append(
            Region(
                code,
                region_display_name(name),
                name,
                "regierungsbezirk",
                code[:2],
                "",
                code[:2],
                is_current=current,
            )
        )
        if current:
            report.regierungsbezirke_current.append(code)
        else:
            report.regierungsbezirke_historical.append(code)
    regions.append(
        Region(RUHR_CODE, RUHR_NAME, RUHR_OFFICIAL_NAME, "verband", NRW_CODE, "", NRW_CODE)
    )

    ruhr_kreise = RUHR_KREISFREIE_STAEDTE.keys() | RUHR_KREISE.keys()
    for code, (label, value) in sorted(kreise.items()):
        land = code[:2]
        if land not in LAENDER:
            raise ValueError(f"{KREISE_CASSETTE}: Kreis {code} in unknown Land {land}")
        # The Regierungsbezirk / Statistische Region of the key if there is one (a historical
        # Kreis may lie in a historical one, e.g. 14161 in 141), else the Land. The check
        # below the loop makes sure no current Kreis hangs under a historical region.
        parent = code[:3] if code[:3] in regierungsbezirke else land
        current = current_per_kreis[code] > 0
        says_historical = value == "-"
        if current == says_historical:
            why = (
                f"'-' in 11111 but {current_per_kreis[code]} current Gemeinde(n)"
                if current
                else f"value {value!r} in 11111 but no current Gemeinde"
            )
            report.kreis_status_disagreements.append((code, label, why))
        if value.isdigit() and int(value) != current_per_kreis[code]:
            report.count_mismatches.append((code, label, int(value), current_per_kreis[code]))
        regions.append(
            Region(
                code,
                display_name(label),
                label,
                "kreis",
                parent,
                code,
                land,
                in_ruhr=code in ruhr_kreise and current,
                is_current=current,
            )
        )
        if current:
            report.kreise_current += 1
        else:
            report.kreise_historical += 1

    # Within a Land, the current Kreise hang all under current 3-digit regions or all under
    # the Land; a Land with current 3-digit regions has no current Kreis outside them.
    current_kreise = [r for r in regions if r.level == "kreis" and r.is_current]
    for land in LAENDER:
        parents = {r.parent_code for r in current_kreise if r.land_code == land}
        if land in parents and len(parents) > 1:
            raise AssertionError(f"Land {land}: current Kreise under {sorted(parents)}")
        stale = sorted(p for p in parents if p in regierungsbezirke and not regierungsbezirke[p][1])
        if stale:
            raise AssertionError(f"Land {land}: current Kreise under historical regions {stale}")

    ruhr_gemeinden: set[str] = set()
    for kreis, city in RUHR_KREISFREIE_STAEDTE.items():
        members = [c for c, (_, cur) in gemeinden.items() if cur and c.startswith(kreis)]
        if members != [f"{kreis}000"]:
            raise AssertionError(f"kreisfreie Stadt {kreis}: current Gemeinden {members}")
        if display_name(kreise[kreis][0]) != city:
            raise AssertionError(f"Ruhr key {kreis} is {kreise[kreis][0]!r}, not {city!r}")
        ruhr_gemeinden.update(members)
    for kreis, kreis_name in RUHR_KREISE.items():
        if display_name(kreise[kreis][0]) != kreis_name:
            raise AssertionError(f"Ruhr key {kreis} is {kreise[kreis][0]!r}, not {kreis_name!r}")
        ruhr_gemeinden.update(c for c, (_, cur) in gemeinden.items() if cur and c[:5] == kreis)
    ruhr_kreis_rows = [r for r in regions if r.level == "kreis" and r.in_ruhr]
    if len(ruhr_gemeinden) != RUHR_MUNICIPALITY_COUNT or len(ruhr_kreis_rows) != RUHR_KREIS_COUNT:
        raise AssertionError(
            f"the Ruhr has {RUHR_MUNICIPALITY_COUNT} Gemeinden in {RUHR_KREIS_COUNT} Kreise, "
            f"got {len(ruhr_gemeinden)} in {len(ruhr_kreis_rows)}"
        )
    regions[[r.code for r in regions].index(RUHR_CODE)].in_ruhr = True

    for code, (label, current) in gemeinden.items():
        regions.append(
            Region(
                code,
                display_name(label),
                label,
                "gemeinde",
                code[:5],
                code[:5],
                code[:2],
                in_ruhr=code in ruhr_gemeinden,
                is_current=current,
            )
        )
        if current:
            report.gemeinden_current += 1
        else:
            report.gemeinden_historical += 1

    # Berlin's Bezirke: parts of the one Gemeinde Berlin, not Gemeinden themselves.
    for code, (label, current) in bezirke.items():
        regions.append(
            Region(
                code,
                display_name(label),
                label,
                "stadtbezirk",
                BERLIN_GEMEINDE,
                BERLIN_KREIS,
                BERLIN_LAND,
                is_current=current,
            )
        )

    regions.sort(key=lambda r: r.code)
    codes = [r.code for r in regions]
    if len(set(codes)) != len(codes):
        raise AssertionError("duplicate region codes")
    known = set(codes)
    for region in regions:
        if region.parent_code and region.parent_code not in known:
            raise AssertionError(f"{region.code}: parent {region.parent_code} unknown")

    # Every key of table 21111-01-03-4 is in the reference, under the same name, and current
    # exactly when its rows carry a value (a dissolved Kreis has '-' throughout).
    by_code = {r.code: r for r in regions}
    for code, entry in table.items():
        region = by_code.get(code)
        if region is None:
            raise AssertionError(f"{REGIONALSTATISTIK_TABLE.name}: key {code} not in reference")
        if _clean(region.official_name) != entry.name:
            raise AssertionError(
                f"{REGIONALSTATISTIK_TABLE.name}: {code} is {entry.name!r}, "
                f"reference {region.official_name!r}"
            )
        if region.is_current != entry.has_values:
            raise AssertionError(
                f"{REGIONALSTATISTIK_TABLE.name}: {code} {entry.name!r} has "
                + ("no values but is current" if region.is_current else "values but is historical")
            )
        if not region.is_current:
            report.table_keys_historical.append(code)
    report.table_keys = len(table)

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(region.as_row() for region in regions)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(buffer.getvalue().encode("utf-8"))
    report.rows = len(regions)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--recordings",
        type=Path,
        default=DEFAULT_RECORDINGS,
        help="folder with AI-N-01-2-5.yaml and 11111-02-01-4.yaml "
        "(default: ../shared/data/genesis-recordings next to the repository)",
    )
    parser.add_argument(
        "--regionalstatistik",
        type=Path,
        default=DEFAULT_REGIONALSTATISTIK,
        help=f"table export 21111-01-03-4 (default: {REGIONALSTATISTIK_TABLE})",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="regions.csv to write")
    args = parser.parse_args(argv)
    for name in (GEMEINDEN_CASSETTE, KREISE_CASSETTE):
        if not (args.recordings / name).is_file():
            print(f"missing recording {args.recordings / name}", file=sys.stderr)
            return 2
    if not args.regionalstatistik.is_file():
        print(f"missing table export {args.regionalstatistik}", file=sys.stderr)
        return 2
    report = build(args.recordings, args.output, args.regionalstatistik)
    print(f"wrote {args.output}")
    for line in report.lines():
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
