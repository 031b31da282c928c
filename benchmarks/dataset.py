"""The national benchmark dataset: SYNTHETIC partner deliveries in the project's own formats.

Four deliveries, byte-compatible with the demo deliveries so that the demo registry entries
read them unchanged (only `location` and `coverage` differ, see `write_registry`):

    schulabgaenger_abschlussart   the demo leavers CSV (cp1252, ';', decimal comma, CRLF, the
                                  same header): one line per Gemeinde × school year × subgroup
                                  line — 3 lines (sex, nationality 'insgesamt') or 9 (sex ×
                                  nationality); 7 values a line (leavers total, the five
                                  qualifications, the share without Hauptschulabschluss)
    kita_betreuung                the demo day-care CSV (UTF-8 with BOM, ';', LF): one line per
                                  Gemeinde × year (Stichtag 1 March), 2 values
    bevoelkerung_kinder           the demo GENESIS flat file (ffcsv) of table 12411: one line
                                  per Gemeinde × 31 December × age group (under 3, 3 to under 6)
    regionalstatistik_21111_01_03_4
                                  the Regionalstatistik table CSV 21111-01-03-4 (cp1252; the
                                  demo file's title lines, header rows and footer, verbatim):
                                  one line per school year × Gemeinde (8-digit key and name) ×
                                  school type, 4 values (schools, pupils, female, foreign)

Shapes (records = values; `RECORDS_PER_GEMEINDE` = 980 in the 10M shape):

    10M   all 10,787 current Gemeinden, school years 2005/06 … 2024/25 (20), 3 leaver lines,
          6 school types                                              10,571,260 records
    30M   all Gemeinden, 1994/95 … 2024/25 (31), 9 leaver lines,
          6 school types                                              30,430,127 records
    any other size (1M, 3M, 20k, …): the 10M shape on the first N Gemeinden by key,
          N = round(size / 980)  (1M: 1,020 Gemeinden, 999,600 records)

Values are modelled, deterministic and internally consistent: a seeded population per
Gemeinde (kreisfreie Städte large, capped so that the suites' plausible ranges hold), the
German birth and leaver trends, day-care rates rising over the years (higher in the east);
female ≤ total, parts sum to their totals, day care ≤ population, share = 100 × without /
total rounded half up to one decimal. Every draw is made for all Gemeinden of the country and
then cut to the selection, so a smaller dataset is exactly the first Gemeinden of the 10M
one. The writers stream one school year at a time (memory does not grow with the size).
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import IO

import numpy as np

from schemas.regions import load_regions
from sources.demo.generate import (
    AGE_GROUPS,
    FFCSV_HEADER,
    KITA_HEADER,
    LEAVERS_HEADER,
    NATIONALITIES,
    SEXES,
    school_year,
)
from sources.registry import REGISTRIES, SOURCES_DIR

GENERATOR_VERSION = 3  # 3: today's territory (Hanau 06415000, not 06435014)
SEED = 20261128
REPO = SOURCES_DIR.parent
REGIONS_CSV = REPO / "schemas" / "regions.csv"
DEMO_REGISTRY = REGISTRIES / "demo"
GENESIS_DEMO = SOURCES_DIR / "demo" / "official" / "regionalstatistik_21111-01-03-4.csv"
GENESIS_HEADER_LINES = 9  # 5 title lines and 4 header rows, then the data rows

YEARS_10M = tuple(range(2005, 2025))  # school years 2005/06 … 2024/25
YEARS_30M = tuple(range(1994, 2025))  # 1994/95 … 2024/25
VALUES_PER_LEAVER_LINE = 7

LEAVERS = "schulabgaenger_abschlussart"
KITA = "kita_betreuung"
POPULATION = "bevoelkerung_kinder"
SCHOOLS = "regionalstatistik_21111_01_03_4"
SOURCE_IDS = (LEAVERS, KITA, POPULATION, SCHOOLS)


@dataclass(frozen=True)
class SchoolType:
    """A school type of table 21111-01-03-4 and how the model fills it."""

    label: str  # the row label in the table (the demo mapping's lookup key)
    pupils_per_inhabitant: float  # national pupils / population
    threshold: float  # a Gemeinde of about this many inhabitants has such a school
    school_size: float  # pupils per school
    female: float  # share of girls
    foreign: float  # foreign share relative to the Gemeinde's
    grade7: float | None  # pupils in grade 7 / pupils (None: 'x')
    grade11: float | None  # pupils in grade 11 / pupils (None: 'x')


# The six school types of the benchmark (t = 6; the demo table's order), and the other types
# that only go into "Insgesamt" (Hauptschulen, Schularten mit mehreren Bildungsgängen, …).
SCHOOL_TYPES = (
    SchoolType("Grundschulen", 0.0370, 900, 210, 0.490, 1.0, None, None),
    SchoolType("Realschulen", 0.0092, 9_000, 450, 0.488, 0.9, 0.17, None),
    SchoolType("Gymnasien", 0.0272, 15_000, 720, 0.525, 0.55, 0.13, 0.09),
    SchoolType("Integrierte Gesamtschulen", 0.0137, 12_000, 510, 0.485, 1.2, 0.11, 0.05),
    SchoolType("Sonderschulen/Förderschulen", 0.0041, 11_000, 120, 0.355, 1.2, 0.06, 0.002),
)
OTHER_TYPES = SchoolType("(other)", 0.0145, 4_000, 300, 0.460, 1.3, 0.10, 0.01)
TOTAL_TYPE = "Insgesamt"
TABLE_TYPES = (*(t.label for t in SCHOOL_TYPES), TOTAL_TYPE)
RECORDS_PER_TABLE_LINE = 4
# records of one Gemeinde in one school year, 10M shape: 3 leaver lines × 7, day care 2,
# population 2, 6 school types × 4
RECORDS_PER_GEMEINDE_YEAR = 3 * VALUES_PER_LEAVER_LINE + 2 + 2 + len(TABLE_TYPES) * 4
RECORDS_PER_GEMEINDE = len(YEARS_10M) * RECORDS_PER_GEMEINDE_YEAR  # 980

# Live births in Germany (thousands, Destatis 12612, rounded).
BIRTHS = {
    1989: 881, 1990: 906, 1991: 830, 1992: 809, 1993: 798, 1994: 770, 1995: 765, 1996: 796,
    1997: 812, 1998: 785, 1999: 771, 2000: 767, 2001: 734, 2002: 719, 2003: 707, 2004: 706,
    2005: 686, 2006: 673, 2007: 685, 2008: 683, 2009: 665, 2010: 678, 2011: 663, 2012: 674,
    2013: 682, 2014: 715, 2015: 738, 2016: 792, 2017: 785, 2018: 788, 2019: 778, 2020: 773,
    2021: 796, 2022: 739, 2023: 693, 2024: 677,
}  # fmt: skip
# Leavers of allgemeinbildende Schulen per inhabitant (school year start -> per mille).
LEAVER_RATE = {1994: 10.4, 2000: 11.2, 2005: 11.4, 2010: 10.8, 2013: 10.9, 2016: 10.1,
               2020: 9.2, 2024: 9.4}  # fmt: skip
# Pupils at allgemeinbildende Schulen relative to 2023/24.
SCHOOL_AGE = {1994: 1.13, 2000: 1.12, 2005: 1.06, 2013: 0.95, 2018: 0.94, 2024: 1.01}
# Day-care participation (1 March of the school year's second calendar year), west / east.
DAYCARE = {
    "u3_west": {1994: 0.02, 2006: 0.08, 2013: 0.24, 2024: 0.31},
    "u3_east": {1994: 0.35, 2006: 0.40, 2013: 0.50, 2024: 0.56},
    "3_6_west": {1994: 0.80, 2006: 0.87, 2013: 0.93, 2024: 0.91},
    "3_6_east": {1994: 0.90, 2006: 0.94, 2013: 0.95, 2024: 0.94},
}
# Foreign share trend (relative to 2016/17).
FOREIGN_TREND = {1994: 0.80, 2005: 0.80, 2012: 0.85, 2016: 1.0, 2022: 1.15, 2024: 1.25}
# Qualifications: ohne HSA, HSA, MSA, FHR, AHR — national shares (percent) over time.
QUALIFICATION_SHARES = {
    1994: (8.5, 25.0, 40.0, 1.5, 25.0),
    2005: (7.9, 23.0, 41.0, 1.5, 26.6),
    2012: (5.9, 18.0, 42.0, 1.6, 32.5),
    2016: (5.9, 16.5, 42.0, 1.6, 34.0),
    2024: (6.9, 15.5, 40.6, 1.5, 35.5),
}
# log rate ratios male vs female and foreign vs German, per qualification; centred on the
# national shares (female −½, male +½; German −share, foreign 1 − share of foreign leavers)
MALE_EFFECT = np.array([0.40, 0.25, 0.0, 0.0, -0.22])
FOREIGN_EFFECT = np.array([0.80, 0.60, 0.0, 0.0, -0.80])
FOREIGN_LEAVERS = 0.12
CITY_POPULATION_CAP = 1_800_000  # keeps population under 3 within the suites' 0–60,000
EAST = (11, 12, 13, 14, 15, 16)


def _interp(knots: dict[int, float], year: int) -> float:
    years = sorted(knots)
    return float(np.interp(year, years, [knots[y] for y in years]))


def _stream(*key: int) -> np.random.Generator:
    return np.random.default_rng([SEED, *key])


# ---------------------------------------------------------------------------------------------
# Sizes and shapes
# ---------------------------------------------------------------------------------------------


def parse_size(text: str) -> int:
    """'10M' -> 10_000_000, '20k' -> 20_000, '1.5M', '200'."""
    cleaned = text.strip().replace("_", "").replace(",", "")
    factor = 1
    if cleaned[-1:].lower() in ("k", "m"):
        factor = 1_000 if cleaned[-1].lower() == "k" else 1_000_000
        cleaned = cleaned[:-1]
    try:
        value = float(cleaned) * factor
    except ValueError:
        raise ValueError(f"size {text!r}: expected a number like 1M, 3M, 10M, 30M or 20k") from None
    if value < 1:
        raise ValueError(f"size {text!r} must be positive")
    return round(value)


@dataclass(frozen=True)
class Gemeinde:
    code: str
    name: str
    official_name: str
    kreis: str
    land: str
    in_ruhr: bool


@dataclass(frozen=True)
class Shape:
    """What a dataset contains: which Gemeinden, which school years, how many leaver lines."""

    size: str  # the size as asked for (10M, 30M, 1M, 20k …)
    years: tuple[int, ...]
    subgroup_lines: int  # leaver lines per Gemeinde-year: 3 (sex) or 9 (sex × nationality)
    gemeinden: int  # the first N Gemeinden (by key) of the selection
    regions: tuple[str, ...] = ()  # selection: key prefixes or RVR; () = all of Germany
    stream: int = 10  # random-stream family: 10 (the 10M shape and its parts) or 30

    @property
    def key(self) -> str:
        """The cache folder name: the size, and the selection if there is one."""
        return self.size + ("-" + "_".join(self.regions) if self.regions else "")

    def records_per_gemeinde(self) -> int:
        per_year = self.subgroup_lines * VALUES_PER_LEAVER_LINE + 2 + 2
        return len(self.years) * (per_year + len(TABLE_TYPES) * RECORDS_PER_TABLE_LINE)

    def expected_records(self) -> int:
        return self.gemeinden * self.records_per_gemeinde()


def load_gemeinden(regions: Sequence[str] = ()) -> list[Gemeinde]:
    """Today's Gemeinden (schemas/regions.csv with the changes of schemas/territory.yaml, as the
    pipeline reads them), sorted by key; `regions` keeps those whose key starts with one of the
    prefixes (RVR: the Ruhr's 53)."""
    table = load_regions()
    today = table[(table.level == "gemeinde") & table.is_current]
    gemeinden = sorted(
        (
            Gemeinde(
                r.region_code, r.name, r.official_name, r.kreis_code, r.land_code, bool(r.in_ruhr)
            )
            for r in today.itertuples()
        ),
        key=lambda g: g.code,
    )
    if not regions:
        return gemeinden
    prefixes = tuple(r for r in regions if r != "RVR")
    ruhr = "RVR" in regions
    return [g for g in gemeinden if g.code.startswith(prefixes) or (ruhr and g.in_ruhr)]


def shape_for(size: str, regions: Sequence[str] = ()) -> Shape:
    """10M and 30M are the national shapes; any other size is the 10M shape on the first
    N Gemeinden (of the selection), N = round(size / 980), at least 1."""
    label = size.strip()
    records = parse_size(label)
    regions = tuple(regions)
    available = len(load_gemeinden(regions))
    if label.upper() == "30M":
        return Shape("30M", YEARS_30M, 9, available, regions, stream=30)
    if label.upper() == "10M":
        return Shape("10M", YEARS_10M, 3, available, regions)
    count = max(1, min(available, round(records / RECORDS_PER_GEMEINDE)))
    return Shape(label, YEARS_10M, 3, count, regions)


# ---------------------------------------------------------------------------------------------
# The model: every draw for all Gemeinden of Germany, then cut to the selection
# ---------------------------------------------------------------------------------------------


@dataclass
class YearValues:
    """One school year of the selected Gemeinden."""

    population: np.ndarray  # [G, 2] under 3, 3 to under 6 (31 December of the start year)
    daycare: np.ndarray  # [G, 2] in day care on 1 March of the following year
    leavers: np.ndarray  # [G, sex (female, male), nationality (german, foreign) or (all), 5]
    schools: np.ndarray  # [G, len(TABLE_TYPES), 4] schools, pupils, female, foreign (-1 = x)
    grades: np.ndarray  # [G, len(TABLE_TYPES), 2] pupils in grade 7 and 11 (-1 = x)


class Model:
    """Per-Gemeinde structure (size, growth, foreign share, effects) and per-year draws."""

    def __init__(self, stream: int = 10) -> None:
        self.everyone = load_gemeinden()
        self.stream = stream
        n = len(self.everyone)
        rng = _stream(stream, 0)
        kreis_size = Counter(g.kreis for g in self.everyone)
        city = np.array([kreis_size[g.kreis] == 1 for g in self.everyone])
        land = np.array([int(g.land) for g in self.everyone])
        self.east = np.isin(land, EAST)
        town = np.clip(rng.lognormal(math.log(1_700), 1.5, n), 15, 400_000)
        big = np.clip(rng.lognormal(math.log(150_000), 0.7, n), 30_000, CITY_POPULATION_CAP)
        self.base = np.where(city, big, town)  # inhabitants around 2015
        self.growth = rng.normal(0.0, 0.006, n) - 0.004 * self.east  # per year
        # foreign share: west higher than east, cities higher than villages
        spread = rng.lognormal(0.0, 0.35, n)
        level = np.where(self.east, 0.045, 0.12) * (self.base / 5_000) ** 0.12
        self.foreign = np.clip(level * spread, 0.005, 0.45)
        self.leaver_effect = rng.normal(0.0, 0.2, (n, 5))
        self.leaver_effect[:, 2] = 0.0  # MSA is the reference category
        self.daycare_effect = rng.normal(0.0, 0.25, (n, 2))
        types = (*SCHOOL_TYPES, OTHER_TYPES)
        self.present = np.stack(
            [self.base * rng.lognormal(0.0, 0.6, n) > t.threshold for t in types], axis=1
        )
        self.pupil_spread = rng.lognormal(0.0, 0.15, (n, len(types)))
        self.school_spread = rng.lognormal(0.0, 0.2, (n, len(types)))
        # Gemeinden with a school of a type teach the pupils of their neighbours too
        served = (self.base[:, None] * self.present).sum(axis=0)
        self.catchment = np.where(served > 0, self.base.sum() / np.maximum(served, 1), 0.0)

    def selection(self, shape: Shape) -> tuple[list[Gemeinde], np.ndarray]:
        chosen = load_gemeinden(shape.regions)[: shape.gemeinden]
        position = {g.code: i for i, g in enumerate(self.everyone)}
        return chosen, np.array([position[g.code] for g in chosen], dtype=np.int64)

    def inhabitants(self, year: int) -> np.ndarray:
        return self.base * np.exp(self.growth * (year - 2015))

    def year(self, year: int, subgroup_lines: int, index: np.ndarray) -> YearValues:
        n = len(self.everyone)
        people = self.inhabitants(year)
        share = people / people.sum()

        rng = _stream(self.stream, 1, year)
        born = [1000 * BIRTHS[year - age] for age in range(6)]
        u3 = share * sum(born[:3]) * np.exp(rng.normal(0.0, 0.015, n))
        o3 = share * sum(born[3:]) * np.exp(rng.normal(0.0, 0.015, n))
        population = np.stack([np.round(u3), np.round(o3)], axis=1).astype(np.int64)

        rng = _stream(self.stream, 2, year)
        daycare = np.empty_like(population)
        for k, group in enumerate(("u3", "3_6")):
            west = _interp(DAYCARE[f"{group}_west"], year)
            east = _interp(DAYCARE[f"{group}_east"], year)
            rate = np.where(self.east, east, west)
            logit = np.log(rate / (1 - rate)) + self.daycare_effect[:, k]
            logit = logit + rng.normal(0.0, 0.03, n)
            daycare[:, k] = rng.binomial(population[:, k], 1 / (1 + np.exp(-logit)))

        rng = _stream(self.stream, 3, year)
        foreign = np.clip(self.foreign * _interp(FOREIGN_TREND, year), 0.0, 0.6)
        leavers_total = people * _interp(LEAVER_RATE, year) / 1000
        leavers_total = np.round(leavers_total * np.exp(rng.normal(0.0, 0.03, n)))
        leavers_total = leavers_total.astype(np.int64)
        female = rng.binomial(leavers_total, 0.49)
        by_sex = np.stack([female, leavers_total - female], axis=1)  # [n, 2]
        if subgroup_lines == 9:
            foreign_leavers = rng.binomial(by_sex, 0.85 * foreign[:, None])
            cells = np.stack([by_sex - foreign_leavers, foreign_leavers], axis=2)  # [n, 2, 2]
            is_foreign = np.array([-FOREIGN_LEAVERS, 1.0 - FOREIGN_LEAVERS])
        else:
            cells = by_sex[:, :, None]  # [n, 2, 1]
            is_foreign = np.array([0.0])
        base = np.log(np.array(_qualification_shares(year)))
        logits = (
            base[None, None, None, :]
            + self.leaver_effect[:, None, None, :]
            + MALE_EFFECT[None, None, None, :] * np.array([-0.5, 0.5])[None, :, None, None]
            + FOREIGN_EFFECT[None, None, None, :] * is_foreign[None, None, :, None]
            + rng.normal(0.0, 0.05, (n, 1, 1, 5))
        )
        weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
        probabilities = weights / weights.sum(axis=-1, keepdims=True)
        leavers = rng.multinomial(cells, probabilities)[index]

        rng = _stream(self.stream, 4, year)
        types = (*SCHOOL_TYPES, OTHER_TYPES)
        age = _interp(SCHOOL_AGE, year)
        schools = np.zeros((n, len(types), 4), dtype=np.int64)
        grades = np.zeros((n, len(types), 2), dtype=np.int64)
        for k, t in enumerate(types):
            expected = people * t.pupils_per_inhabitant * age * self.catchment[k]
            expected = expected * self.pupil_spread[:, k] * np.exp(rng.normal(0.0, 0.02, n))
            pupils = np.where(self.present[:, k], np.round(expected), 0).astype(np.int64)
            girls = rng.binomial(pupils, t.female)
            abroad = rng.binomial(pupils, np.clip(foreign * t.foreign, 0.0, 0.9))
            size = t.school_size * self.school_spread[:, k]
            count = np.where(pupils > 0, np.maximum(1, np.round(pupils / size)), 0)
            schools[:, k] = np.stack([count, pupils, girls, abroad], axis=1)
            for j, part in enumerate((t.grade7, t.grade11)):
                grades[:, k, j] = np.round(pupils * part) if part is not None else -1
        table = np.empty((n, len(TABLE_TYPES), 4), dtype=np.int64)
        table[:, : len(SCHOOL_TYPES)] = schools[:, : len(SCHOOL_TYPES)]
        table[:, -1] = schools.sum(axis=1)
        table[:, -1, 0] = -1  # schools of all types: 'x' (a school may run several types)
        grade_table = np.empty((n, len(TABLE_TYPES), 2), dtype=np.int64)
        grade_table[:, : len(SCHOOL_TYPES)] = grades[:, : len(SCHOOL_TYPES)]
        grade_table[:, -1] = np.where(grades < 0, 0, grades).sum(axis=1)
        return YearValues(
            population=population[index],
            daycare=daycare[index],
            leavers=leavers,
            schools=table[index],
            grades=grade_table[index],
        )


def _qualification_shares(year: int) -> tuple[float, ...]:
    return tuple(
        _interp({y: v[q] for y, v in QUALIFICATION_SHARES.items()}, year) / 100 for q in range(5)
    )


# ---------------------------------------------------------------------------------------------
# Writers: the demo formats, one school year at a time
# ---------------------------------------------------------------------------------------------


def leaver_rows(counts: np.ndarray) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """Published lines of [G, 2, k, 5] leaf counts: ([G × lines, 5], their (sex, nationality)
    labels per Gemeinde). k = 1: sex only (3 lines); k = 2: sex × nationality (9 lines)."""
    by_sex = np.concatenate([counts.sum(axis=1, keepdims=True), counts], axis=1)  # [G, 3, k, 5]
    if counts.shape[2] == 2:
        cells = np.concatenate([by_sex.sum(axis=2, keepdims=True), by_sex], axis=2)
        labels = [(s, n) for s in SEXES for n in NATIONALITIES]
    else:
        cells = by_sex
        labels = [(s, NATIONALITIES[0]) for s in SEXES]
    return cells.reshape(-1, 5), labels


def share_strings(without: np.ndarray, total: np.ndarray) -> list[str]:
    """100 × without / total with one decimal (half up), decimal comma; 'x' for total 0 — as
    sources.demo.generate.share_tenths, vectorised."""
    tenths = (2000 * without + total) // np.maximum(2 * total, 1)
    return [
        f"{t // 10},{t % 10}" if n else "x"
        for t, n in zip(tenths.tolist(), total.tolist(), strict=True)
    ]


def _cells(values: np.ndarray) -> list[str]:
    """GENESIS cells: '-' for nothing, 'x' for a locked cell (-1)."""
    return ["-" if v == 0 else "x" if v < 0 else str(v) for v in values.tolist()]


@dataclass
class Written:
    source_id: str
    path: Path
    lines: int = 0
    records: int = 0


@dataclass
class Writers:
    """The four delivery files, open for streaming."""

    directory: Path
    shape: Shape
    gemeinden: list[Gemeinde]
    files: dict[str, Written] = field(default_factory=dict)
    _handles: dict[str, IO[bytes]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        first, last = self.shape.years[0], self.shape.years[-1]
        names = {
            LEAVERS: f"SYNTHETISCH_schulabgaenger_abschlussart_de_{first}-{last}.csv",
            KITA: f"SYNTHETISCH_kindertagesbetreuung_de_{first + 1}-{last + 1}.csv",
            POPULATION: f"SYNTHETISCH_12411_bevoelkerung_gemeinden_de_{first}-{last}.csv",
            SCHOOLS: f"SYNTHETISCH_21111-01-03-4_gemeinden_de_{first}-{last}.csv",
        }
        genesis = GENESIS_DEMO.read_bytes()
        lines = genesis.split(b"\n")
        footer = next(i for i, line in enumerate(lines) if line.startswith(b"__________"))
        self._genesis_footer = b"\n".join(lines[footer:])
        headers = {
            LEAVERS: (LEAVERS_HEADER + "\r\n").encode("cp1252"),
            KITA: (KITA_HEADER + "\n").encode("utf-8-sig"),
            POPULATION: (FFCSV_HEADER + "\n").encode("utf-8-sig"),
            SCHOOLS: b"\n".join(lines[:GENESIS_HEADER_LINES]) + b"\n",
        }
        for source_id in SOURCE_IDS:
            path = self.directory / source_id / names[source_id]
            path.parent.mkdir(parents=True, exist_ok=True)
            self.files[source_id] = Written(source_id, path)
            handle = path.open("wb")
            handle.write(headers[source_id])
            self._handles[source_id] = handle
        self._code_name = [f"{g.code};{g.name}" for g in self.gemeinden]
        self._code_official = [f"{g.code};        {g.official_name}" for g in self.gemeinden]
        self._ffcsv_region = [
            f"GEMEIN;Gemeinden;{g.code};{g.official_name}" for g in self.gemeinden
        ]

    def _emit(self, source_id: str, lines: list[str], end: str, encoding: str, values: int):
        written = self.files[source_id]
        self._handles[source_id].write((end.join(lines) + end).encode(encoding))
        written.lines += len(lines)
        written.records += len(lines) * values

    def write_year(self, year: int, values: YearValues) -> None:
        label = school_year(year)
        rows, labels = leaver_rows(values.leavers)
        totals = rows.sum(axis=1)
        shares = share_strings(rows[:, 0], totals)
        heads = [
            f"{label};{code_name};{sex};{nat}"
            for code_name in self._code_name
            for sex, nat in labels
        ]
        self._emit(
            LEAVERS,
            [
                f"{head};{t};{a};{b};{c};{d};{e};{s}"
                for head, t, (a, b, c, d, e), s in zip(
                    heads, totals.tolist(), rows.tolist(), shares, strict=True
                )
            ],
            "\r\n",
            "cp1252",
            VALUES_PER_LEAVER_LINE,
        )
        day = f"01.03.{year + 1}"
        self._emit(
            KITA,
            [
                f"{day};{code_name};{u3};{o3}"
                for code_name, (u3, o3) in zip(
                    self._code_name, values.daycare.tolist(), strict=True
                )
            ],
            "\n",
            "utf-8",
            2,
        )
        prefix = f"12411;Fortschreibung des Bevölkerungsstandes;STAG;Stichtag;{year}-12-31"
        ages = [
            f"ALTX20;Altersgruppen (unter 3 bis 75 u. m.);{code};{text}"
            for code, text in AGE_GROUPS
        ]
        self._emit(
            POPULATION,
            [
                f"{prefix};{region};{age};{count};Anzahl;BEVSTD;Bevölkerungsstand"
                for region, counts in zip(
                    self._ffcsv_region, values.population.tolist(), strict=True
                )
                for age, count in zip(ages, counts, strict=True)
            ],
            "\n",
            "utf-8",
            1,
        )
        cells = _cells(values.schools.reshape(-1))
        grades = _cells(values.grades.reshape(-1))
        heads = [
            f"{year};{code_official};{school_type}"
            for code_official in self._code_official
            for school_type in TABLE_TYPES
        ]
        self._emit(
            SCHOOLS,
            [
                f"{head};{';'.join(cells[4 * i : 4 * i + 4])};{grades[2 * i]};{grades[2 * i + 1]}"
                for i, head in enumerate(heads)
            ],
            "\n",
            "cp1252",
            RECORDS_PER_TABLE_LINE,
        )

    def close(self) -> None:
        self._handles[SCHOOLS].write(self._genesis_footer)
        for handle in self._handles.values():
            handle.close()


def generate(directory: Path, shape: Shape, model: Model | None = None) -> dict[str, Written]:
    """Write the four deliveries of `shape` under directory/<source_id>/."""
    model = model or Model(shape.stream)
    gemeinden, index = model.selection(shape)
    writers = Writers(directory, shape, gemeinden)
    try:
        for year in shape.years:
            writers.write_year(year, model.year(year, shape.subgroup_lines, index))
    finally:
        writers.close()
    return writers.files


# ---------------------------------------------------------------------------------------------
# The cache: <work dir>/<size>/ with a manifest keyed by size, selection and generator version
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    shape: Shape
    directory: Path
    files: dict[str, Path]  # source id -> delivery file
    records: dict[str, int]  # source id -> records (values)
    lines: dict[str, int]
    seconds: float  # generation time (0 … when taken from the cache: the original time)
    cached: bool

    @property
    def total_records(self) -> int:
        return sum(self.records.values())

    @property
    def registry(self) -> Path:
        return self.directory / "registry"


def _manifest(shape: Shape) -> dict:
    return {"generator_version": GENERATOR_VERSION, "shape": asdict(shape)}


def _from_manifest(directory: Path, shape: Shape) -> Dataset | None:
    path = directory / "manifest.json"
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None
    expected = json.loads(json.dumps(_manifest(shape)))
    if {k: manifest.get(k) for k in expected} != expected:
        return None
    files = {sid: directory / entry["path"] for sid, entry in manifest["files"].items()}
    for sid, entry in manifest["files"].items():
        if not files[sid].is_file() or files[sid].stat().st_size != entry["bytes"]:
            return None
    return Dataset(
        shape=shape,
        directory=directory,
        files=files,
        records={sid: entry["records"] for sid, entry in manifest["files"].items()},
        lines={sid: entry["lines"] for sid, entry in manifest["files"].items()},
        seconds=manifest["seconds"],
        cached=True,
    )


def prepare(work_dir: Path, shape: Shape) -> Dataset:
    """The dataset of `shape` under work_dir/<size>/: taken from the cache when the manifest
    matches (same shape, same generator version), generated otherwise; with its registry."""
    directory = (work_dir / shape.key).resolve()
    dataset = _from_manifest(directory, shape)
    if dataset is None:
        deliveries = directory / "deliveries"
        if deliveries.exists():
            shutil.rmtree(deliveries)
        (directory / "manifest.json").unlink(missing_ok=True)
        started = time.perf_counter()
        written = generate(deliveries, shape)
        seconds = time.perf_counter() - started
        manifest = _manifest(shape) | {
            "seconds": round(seconds, 3),
            "records": sum(w.records for w in written.values()),
            "files": {
                sid: {
                    "path": str(w.path.relative_to(directory)),
                    "records": w.records,
                    "lines": w.lines,
                    "bytes": w.path.stat().st_size,
                }
                for sid, w in written.items()
            },
        }
        (directory / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        dataset = _from_manifest(directory, shape)
        assert dataset is not None
        dataset = replace(dataset, cached=False)
    write_registry(dataset)
    return dataset


def write_registry(dataset: Dataset) -> Path:
    """One YAML per source: the demo entry (`extends:` by absolute path) pointed at the bigger
    file, with coverage DG — "the same registry entry pointed at the bigger file"."""
    folder = dataset.registry
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.yaml"):
        stale.unlink()
    for source_id, path in dataset.files.items():
        base = DEMO_REGISTRY / f"{source_id}.yaml"
        text = (
            f"# benchmark {dataset.shape.key}: the demo entry, pointed at the generated file\n"
            f"extends: {json.dumps(str(base))}\n"
            f"location: {json.dumps(str(path))}\n"
            'coverage: "DG"\n'
            "# every year keyed by the region reference's Gemeinden: today's territory\n"
            "territory: today\n"
        )
        (folder / f"{source_id}.yaml").write_text(text, encoding="utf-8")
    return folder


def screen_delivery(directory: Path) -> Path:
    """A leavers delivery of 3,000 data lines in the demo format (the 10M model: the first 50
    NRW Gemeinden, 2005/06 … 2024/25, 3 lines each), for timing the screener."""
    shape = Shape("screen", YEARS_10M, 3, 50, ("05",))
    path = directory / f"SYNTHETISCH_schulabgaenger_screen_3000_v{GENERATOR_VERSION}.csv"
    if path.is_file():
        return path
    scratch = directory / "screen.tmp"
    if scratch.exists():
        shutil.rmtree(scratch)
    written = generate(scratch, shape)
    assert written[LEAVERS].lines == 3000, written[LEAVERS].lines
    written[LEAVERS].path.replace(path)
    shutil.rmtree(scratch)
    return path


def iter_counts(dataset: Dataset) -> Iterator[tuple[str, int, int]]:
    """(source id, lines, records) per delivery, in SOURCE_IDS order."""
    for source_id in SOURCE_IDS:
        yield source_id, dataset.lines[source_id], dataset.records[source_id]
