"""The region reference (``regions.csv``) and a matcher for sources that carry region names.

``regions.csv`` is built by ``python -m sources.build_regions`` from real GENESIS recordings; see
``REGIONS.md`` for its columns, naming convention and provenance.

Loading::

    load_regions()            # DataFrame, one row per region (cached)
    ruhr_municipalities()     # the 53 Gemeinde keys of the Regionalverband Ruhr
    ruhr_kreise()             # the 15 Kreis keys (11 kreisfreie Städte, 4 Kreise)
    known_region_codes()      # every current key incl. DG, Länder, Regierungsbezirke, RVR,
                              # Berlin's Bezirke
    match_region_names(cells, scope)  # (code or None, reason) per cell, for staging

Matching names (IT.NRW exports carry names only, indented by level)::

    matcher = RegionMatcher(scope="05")
    matcher.match("Kleve, Kreis").code                      # '05154'
    matcher.match("Kleve, Stadt", parent_code="05154").code # '05154036'
    matcher.match_indented(lines_of_column_1)               # parents from the indentation

The matcher never guesses: when no region or more than one region fits, ``code`` is None and
``reason`` says why.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import functools
import re
import unicodedata
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import duckdb

from schemas.tables import GERMANY_CODE
from schemas.territory import Territory, load_territory

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

REGIONS_CSV: Path = Path(__file__).resolve().parent / "regions.csv"

_CODE_COLUMNS = ("region_code", "parent_code", "kreis_code", "land_code")
_FLAG_COLUMNS = ("in_ruhr", "is_current")


@dataclass(frozen=True)
class Region:
    """One row of regions.csv (a missing parent/kreis/land code is None)."""

    region_code: str
    name: str
    official_name: str
    level: str
    parent_code: str | None
    kreis_code: str | None
    land_code: str | None
    in_ruhr: bool
    is_current: bool
    # the key's validity (schemas/territory.yaml); None: open
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None


@functools.lru_cache(maxsize=1)
def snapshot_rows() -> tuple[Region, ...]:
    """regions.csv as typed rows: the territorial state it was built from."""
    flags = {"true": True, "false": False}
    rows = []
    with REGIONS_CSV.open(encoding="utf-8", newline="") as handle:
        for line in csv.DictReader(handle):
            for column in _FLAG_COLUMNS:
                if line[column] not in flags:
                    raise ValueError(f"{REGIONS_CSV}: {column} must be true/false")
            values = {c: (line[c] or None) if c in _CODE_COLUMNS[1:] else line[c] for c in line}
            rows.append(Region(**{**values, **{c: flags[line[c]] for c in _FLAG_COLUMNS}}))
    return tuple(rows)


@functools.lru_cache(maxsize=1)
def territory() -> Territory:
    """The changes of region keys over time (schemas/territory.yaml and its Kreis list)."""
    return load_territory({r.region_code: (r.name, r.level) for r in snapshot_rows()})


@functools.lru_cache(maxsize=1)
def region_rows() -> tuple[Region, ...]:
    """Every region key, read once per process without pandas (the screener starts faster
    without it): regions.csv plus the keys created since (territory.yaml), each with its
    validity; `is_current` is today's territory."""
    today = dt.date.today()
    validity = territory().validity
    rows = list(snapshot_rows())
    by_code = {r.region_code: r for r in rows}
    for new in territory().new_regions:
        parent = by_code[new.parent]
        rows.append(
            Region(
                region_code=new.code,
                name=new.name,
                official_name=new.official_name,
                level=new.level,
                parent_code=new.parent,
                kreis_code=new.code[:5],
                land_code=new.code[:2],
                in_ruhr=False,
                is_current=True,
            )
        )
        by_code[new.code] = rows[-1]
        if parent.level not in ("regierungsbezirk", "land", "kreis"):
            raise ValueError(f"{new.code}: parent {new.parent} is a {parent.level}")
    dated = []
    for row in rows:
        known = validity.get(row.region_code)
        if known is None:
            dated.append(row)
            continue
        dated.append(
            dataclasses.replace(
                row,
                valid_from=known.valid_from,
                valid_until=known.valid_until,
                is_current=row.is_current and known.current_on(today),
            )
        )
    return tuple(sorted(dated, key=lambda r: r.region_code))


@functools.lru_cache(maxsize=1)
def _regions_frame() -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame([r.__dict__ for r in region_rows()])
    for column in _CODE_COLUMNS[1:]:
        frame[column] = frame[column].astype(object).where(frame[column].notna())
    return frame


def load_regions() -> pd.DataFrame:
    """The region table: codes as str (a missing parent/kreis/land code is NA), flags as bool.

    Read once per process; each call returns a copy, so callers may modify it.
    """
    return _regions_frame().copy()


REGIONS_RELATION = "bm_regions"
# the columns the checks join on (names are for people, not for joins), with each key's
# validity (territory.yaml; NULL: open)
_RELATION_COLUMNS = {
    "region_code": "VARCHAR", "level": "VARCHAR", "parent_code": "VARCHAR",
    "kreis_code": "VARCHAR", "land_code": "VARCHAR", "in_ruhr": "BOOLEAN", "is_current": "BOOLEAN",
    "valid_from": "DATE", "valid_until": "DATE",
}  # fmt: skip


@functools.lru_cache(maxsize=1)
def _relation_table() -> pa.Table:
    """region_rows() as an Arrow table, made once per process (DuckDB scans it in place, so a
    connection's regions cost no CSV parse). Made by DuckDB from NumPy arrays: pyarrow's own
    constructors import pandas, a second of the screener's start."""
    import numpy as np

    rows = region_rows()
    arrays = {}
    for column in _RELATION_COLUMNS:
        arrays[column] = np.empty(len(rows), dtype=object)
        arrays[column][:] = [getattr(r, column) for r in rows]
    typed = ", ".join(f"{c}::{t} AS {c}" for c, t in _RELATION_COLUMNS.items())
    with duckdb.connect() as conn:
        conn.register("region_rows", arrays)
        return conn.sql(f"SELECT {typed} FROM region_rows").to_arrow_table()


# the connections the view is registered with (asking the catalog, duckdb_views(), first
# builds DuckDB's system views: 30 ms on each new connection)
_REGISTERED: weakref.WeakSet[duckdb.DuckDBPyConnection] = weakref.WeakSet()


def regions_relation(conn: duckdb.DuckDBPyConnection) -> str:
    """Every region key with its validity (region_rows(): regions.csv and the keys created
    since) as a view of `conn` (registered once per connection), for checks that join
    regions in SQL; in_force() says which keys a school year has."""
    if conn not in _REGISTERED:
        conn.complete()  # DuckDB registers nothing while a result is pending
        conn.register(REGIONS_RELATION, _relation_table())
        _REGISTERED.add(conn)
    return REGIONS_RELATION


def in_force(first: str, last: str, alias: str = "") -> str:
    """SQL over regions_relation's columns: the key is in force on some day from `first` to
    `last` (DATE expressions) — a key territory.yaml dates by its validity, any other as
    regions.csv has it (current throughout, or dissolved)."""
    p = f"{alias}." if alias else ""
    return (
        f"(CASE WHEN {p}valid_from IS NULL AND {p}valid_until IS NULL THEN {p}is_current "
        f"ELSE coalesce({p}valid_from <= {last}, true) "
        f"AND coalesce({p}valid_until >= {first}, true) END)"
    )


@functools.lru_cache(maxsize=1)
def _ruhr_codes() -> tuple[tuple[str, ...], tuple[str, ...]]:
    ruhr = [r for r in region_rows() if r.in_ruhr and r.is_current]
    gemeinden = tuple(sorted(r.region_code for r in ruhr if r.level == "gemeinde"))
    kreise = tuple(sorted(r.region_code for r in ruhr if r.level == "kreis"))
    return gemeinden, kreise


def ruhr_municipalities() -> list[str]:
    """The 53 Gemeinde keys (8 digits) of the Regionalverband Ruhr, sorted."""
    return list(_ruhr_codes()[0])


def ruhr_kreise() -> list[str]:
    """The 15 Kreis keys (5 digits) of the Ruhr: 11 kreisfreie Städte and 4 Kreise, sorted."""
    return list(_ruhr_codes()[1])


@functools.lru_cache(maxsize=1)
def known_region_codes() -> frozenset[str]:
    """Every current region key: DG, Länder, Regierungsbezirke / Statistische Regionen,
    Kreise, Gemeinden, Berlin's Bezirke (level 'stadtbezirk'), RVR."""
    return frozenset(r.region_code for r in region_rows() if r.is_current)


@functools.lru_cache(maxsize=16)
def covered_region_codes(coverage: str | None) -> frozenset[str]:
    """Every key (current or dissolved) inside a source's `coverage`: the region itself and
    every region whose key, Kreis, Land or parent it lies under (RVR: the Ruhr's regions);
    None or DG: every key."""
    if coverage in (None, "DG"):
        return official_region_codes()
    if coverage == "RVR":
        return frozenset(r.region_code for r in region_rows() if r.in_ruhr) | {"RVR"}
    return frozenset(
        r.region_code
        for r in region_rows()
        if r.region_code.startswith(coverage)
        or coverage in (r.land_code, r.kreis_code, r.parent_code)
    )


def coverage_label(coverage: str | None) -> str:
    """'05 (Nordrhein-Westfalen)' — a coverage as messages name it."""
    code = coverage or "DG"
    name = next((r.name for r in region_rows() if r.region_code == code), None)
    if not name:
        return code
    # no brackets in brackets: 'Ruhrgebiet (Regionalverband Ruhr)' -> 'Ruhrgebiet, Regionalv…'
    return f"{code} ({name.replace(' (', ', ').replace(')', '')})"


@functools.lru_cache(maxsize=1)
def official_region_codes() -> frozenset[str]:
    """Every key of regions.csv, current or dissolved. Deliveries may use dissolved keys (old
    years, or tables that still list a dissolved Kreis with '-'); they are valid keys, and
    aggregates only ever count current regions."""
    return frozenset(r.region_code for r in region_rows())


# --- name normalisation --------------------------------------------------------------------

# What a name says about the level of the region it names.
Kind = Literal["regierungsbezirk", "kreis", "kreisfrei", "gemeinde", "none"]

_DATE_NOTE = re.compile(
    r"\((?:ab|bis|seit|vor|nach|gültig ab|gültig bis)\s[^()]*\d{4}[^()]*\)", re.IGNORECASE
)
_INCLUDES_NOTE = re.compile(r"\((?:einschl\.|einschließlich|inkl\.)[^()]*\)", re.IGNORECASE)
_ALT_NOTE = re.compile(r"\(alt\)", re.IGNORECASE)
_SPACES = re.compile(r"\s+")
_PUNCTUATION = re.compile(r"[.,;:()\[\]/'\"`´’]+")
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})

_SUFFIX_KINDS: dict[str, Kind] = {
    "regierungsbezirk": "regierungsbezirk",
    "reg.-bez.": "regierungsbezirk",
    "reg.bez.": "regierungsbezirk",
    "kreis": "kreis",
    "landkreis": "kreis",
    "regionalverband": "kreis",
    "krfr. stadt": "kreisfrei",
    "kreisfr. stadt": "kreisfrei",
    "kreisfreie stadt": "kreisfrei",
    "stadtkreis": "kreisfrei",
}
_PREFIX_KINDS: tuple[tuple[str, Kind], ...] = (
    ("regierungsbezirk ", "regierungsbezirk"),
    ("landkreis ", "kreis"),
    ("kreis ", "kreis"),
    ("regionalverband ", "kreis"),
    ("kreisfreie stadt ", "kreisfrei"),
)
# Status or honorific parts ("Stadt", "Hansestadt", "GKSt", "M" = Markt …); see
# sources/build_regions.py.
_STATUS_WORDS = ("stadt", "gemeinde", "flecken", "bad", "kurort", "kuort", "dorf", "hochschulort")
_STATUS_ABBREVIATIONS = {"m", "st", "gkst"}
_KIND_WORDS: dict[Kind, str] = {
    "regierungsbezirk": "Regierungsbezirk",
    "kreis": "Kreis",
    "kreisfrei": "kreisfreie Stadt",
    "gemeinde": "Gemeinde",
    "none": "region",
}
_KIND_RANK: dict[Kind, int] = {
    "regierungsbezirk": 4,
    "kreis": 3,
    "kreisfrei": 2,
    "gemeinde": 1,
    "none": 0,
}


def fold(text: str) -> str:
    """Case, umlaut, punctuation and whitespace folding: 'Langenfeld (Rhld.)' and
    'LANGENFELD Rhld' -> 'langenfeld rhld'; 'Mülheim' and 'Muelheim' -> 'muelheim'."""
    text = unicodedata.normalize("NFC", text).casefold().translate(_UMLAUTS)
    text = _PUNCTUATION.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


@dataclass(frozen=True)
class ParsedName:
    """A region name reduced to a lookup key and what its suffix says about the level."""

    key: str
    kind: Kind


def parse_name(name: str) -> ParsedName:
    """Strip notes and suffixes from a region name as GENESIS or IT.NRW write it.

    '      Aachen, krfr. Stadt (ab 21.10.2009)' -> ('aachen', 'kreisfrei');
    'Städteregion Aachen (einschl. Stadt Aachen)' -> ('staedteregion aachen', 'none');
    'Wesel, Kreis' and 'Kreis Wesel' -> ('wesel', 'kreis'); 'Wesel, Stadt' -> ('wesel',
    'gemeinde'); 'Düsseldorf, Regierungsbezirk' -> ('duesseldorf', 'regierungsbezirk');
    'Leppin, Altmark' -> ('leppin altmark', 'none'); 'Aachen, Stadt (alt)' -> ('aachen alt',
    'gemeinde'): a name marked "(alt)" (a former region) only matches a name marked so.
    """
    text = unicodedata.normalize("NFC", name)
    text = _INCLUDES_NOTE.sub(" ", _DATE_NOTE.sub(" ", text))
    historical = bool(_ALT_NOTE.search(text))
    text = _ALT_NOTE.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    base, *qualifiers = [part.strip() for part in text.split(",")]
    kind: Kind = "none"
    kept: list[str] = []
    for qualifier in filter(None, qualifiers):
        lowered = qualifier.casefold()
        qualifier_kind = _SUFFIX_KINDS.get(lowered)
        if qualifier_kind is None and (
            lowered in _STATUS_ABBREVIATIONS or any(w in lowered for w in _STATUS_WORDS)
        ):
            qualifier_kind = "gemeinde"
        if qualifier_kind is None:
            kept.append(qualifier)  # a geographic qualifier: part of the name
        elif _KIND_RANK[qualifier_kind] > _KIND_RANK[kind]:
            kind = qualifier_kind
    lowered_base = base.casefold()
    if kind == "none":
        for prefix, prefix_kind in _PREFIX_KINDS:
            if lowered_base.startswith(prefix) and len(base) > len(prefix):
                base, kind = base[len(prefix) :], prefix_kind
                break
    key = fold(" ".join([base, *kept]))
    return ParsedName(f"{key} alt" if historical else key, kind)


# --- matching ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MatchResult:
    """The outcome of matching one name: ``code`` or None with a ``reason``."""

    name: str
    code: str | None
    reason: str | None = None
    candidates: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.code is not None

    def __bool__(self) -> bool:
        return self.ok


@dataclass(frozen=True)
class _Region:
    code: str
    level: str
    parent: str | None
    is_current: bool
    kreisfrei: bool  # a kreisfreie Stadt: the Kreis, its Gemeinde, or a Gemeinde named so


def _says_kreisfrei(official_name: str) -> bool:
    """'Duisburg, kreisfreie Stadt', 'Stuttgart, Stadtkreis', 'Aachen, Stadt (alt)' (a former
    kreisfreie Stadt listed among the Kreise) …, as opposed to 'Wesel, Kreis'."""
    return parse_name(official_name).kind in ("kreisfrei", "gemeinde")


# A trailing note in the first part of a name that sources may leave out:
# 'Heinsberg (Rhld.), Stadt' is 'Heinsberg, Stadt' in IT.NRW's exports.
_TRAILING_NOTE = re.compile(r"\s*\((?!alt\))[^()]*\)\s*$", re.IGNORECASE)


def _name_variants(name: str) -> set[str]:
    base, separator, rest = name.partition(",")
    short = _TRAILING_NOTE.sub("", base)
    return {name, short + separator + rest} if short.strip() else {name}


@dataclass(frozen=True)
class _Reference:
    """The lookup structures of a region table; built once and shared by all matchers."""

    regions: dict[str, _Region]
    index: dict[str, list[tuple[str, Kind]]]  # name key -> (code, kind the name says)
    ancestors: dict[str, frozenset[str]]
    city_gemeinde: dict[str, str]  # kreisfreie Stadt: Kreis -> its sole current Gemeinde
    city_kreis: dict[str, str]  # and back

    @classmethod
    def build(cls, frame: pd.DataFrame) -> _Reference:
        rows = list(
            zip(
                frame["region_code"],
                frame["name"],
                frame["official_name"],
                frame["level"],
                frame["parent_code"],
                frame["is_current"],
                strict=True,
            )
        )
        kreisfreie_kreise = {
            code
            for code, _, official, level, *_ in rows
            if level == "kreis" and _says_kreisfrei(official)
        }
        regions: dict[str, _Region] = {}
        index: dict[str, list[tuple[str, Kind]]] = {}
        for code, name, official, level, parent, is_current in rows:
            official_kind = parse_name(official).kind
            kreisfrei = code in kreisfreie_kreise or (
                level == "gemeinde"
                and (code[:5] in kreisfreie_kreise or official_kind == "kreisfrei")
            )
            parent_code = parent if isinstance(parent, str) and parent else None
            regions[code] = _Region(code, level, parent_code, bool(is_current), kreisfrei)
            for variant in _name_variants(official) | _name_variants(name):
                parsed = parse_name(variant)
                entries = index.setdefault(parsed.key, [])
                if (code, parsed.kind) not in entries:
                    entries.append((code, parsed.kind))
        # A kreisfreie Stadt's Gemeinde: the sole Gemeinde of its Kreis that is as current as
        # the Kreis (05112 -> 05112000; the former 13001 Greifswald -> 13001000).
        members: dict[tuple[str, bool], list[str]] = {}
        for region in regions.values():
            if region.level == "gemeinde":
                members.setdefault((region.code[:5], region.is_current), []).append(region.code)
        city_gemeinde: dict[str, str] = {}
        for kreis in sorted(kreisfreie_kreise):
            same = members.get((kreis, regions[kreis].is_current), [])
            if len(same) == 1:
                city_gemeinde[kreis] = same[0]
        ancestors: dict[str, frozenset[str]] = {}
        for code, region in regions.items():
            chain: list[str] = []
            parent = region.parent
            while parent and parent in regions and parent not in chain:
                chain.append(parent)
                parent = regions[parent].parent
            ancestors[code] = frozenset(chain)
        return cls(
            regions,
            index,
            ancestors,
            city_gemeinde,
            {gemeinde: kreis for kreis, gemeinde in city_gemeinde.items()},
        )


@functools.lru_cache(maxsize=1)
def _default_reference() -> _Reference:
    return _Reference.build(_regions_frame())


class RegionMatcher:
    """Match region names to keys of ``regions.csv``.

    ``scope``: a region key (usually a Land, e.g. '05'): candidates are restricted to it and the
    regions below it (DG always matches); None for all of Germany.
    ``kreisfreie_stadt``: a kreisfreie Stadt is both a Kreis (05112) and a Gemeinde
    (05112000). 'gemeinde' (default) returns the Gemeinde key, as IT.NRW's municipal exports
    need (they list the city once, among the municipalities); 'kreis' returns the Kreis key,
    as for Regionalstatistik's Kreis tables.
    ``include_historical``: also match regions that no longer exist (e.g. 05354 'Aachen,
    Kreis'); off by default. Historical and current regions are never preferred over each other.

    Results are cached per distinct (name, parent, level), so matching a 31,000-line export
    costs one lookup per distinct name.
    """

    def __init__(
        self,
        scope: str | None = "05",
        *,
        kreisfreie_stadt: Literal["gemeinde", "kreis"] = "gemeinde",
        include_historical: bool = False,
        regions: pd.DataFrame | None = None,
    ) -> None:
        if kreisfreie_stadt not in ("gemeinde", "kreis"):
            raise ValueError("kreisfreie_stadt must be 'gemeinde' or 'kreis'")
        frame = _regions_frame() if regions is None else regions
        if scope is not None and not (frame["region_code"] == scope).any():
            raise ValueError(f"unknown scope {scope!r}: give a region key such as '05'")
        self.scope = scope
        self.kreisfreie_stadt = kreisfreie_stadt
        self.include_historical = include_historical
        reference = _default_reference() if regions is None else _Reference.build(regions)
        self._regions = reference.regions
        self._index = reference.index
        self._ancestors = reference.ancestors
        self._city_gemeinde = reference.city_gemeinde
        self._city_kreis = reference.city_kreis
        self._cache: dict[tuple[str, str | None, str | None], MatchResult] = {}

    # -- helpers --

    def _in_scope(self, code: str) -> bool:
        if self.scope is None or code in (GERMANY_CODE, self.scope):
            return True
        return self.scope in self._ancestors[code]

    def _fits_kind(self, region: _Region, kind: Kind) -> bool:
        if kind == "none":
            return True
        if kind == "regierungsbezirk":
            return region.level == "regierungsbezirk"
        if kind == "kreis":  # 'Wesel, Kreis', 'Landkreis Demmin', 'Regionalverband Ruhr'
            return (region.level == "kreis" and not region.kreisfrei) or region.level == "verband"
        if kind == "kreisfrei":
            return region.level in ("kreis", "gemeinde") and region.kreisfrei
        return region.level == "gemeinde"  # 'Stadt', 'Markt' …

    def _resolve_city(self, code: str) -> str:
        """Fold the Kreis and the Gemeinde of a kreisfreie Stadt into the configured one."""
        if self.kreisfreie_stadt == "gemeinde":
            return self._city_gemeinde.get(code, code)
        return self._city_kreis.get(code, code)

    @staticmethod
    def _describe(codes: Sequence[str], limit: int = 8) -> str:
        shown = ", ".join(codes[:limit])
        return shown + (f", … ({len(codes) - limit} more)" if len(codes) > limit else "")

    # -- public API --

    def match(
        self, name: str, parent_code: str | None = None, level: str | None = None
    ) -> MatchResult:
        """Match one name (indentation is ignored). ``parent_code``: the region must lie
        below it; ``level``: the region must be of this level (e.g. 'land')."""
        cache_key = (name.strip(), parent_code, level)
        cached = self._cache.get(cache_key)
        if cached is None:
            cached = self._match(cache_key[0], parent_code, level)
            self._cache[cache_key] = cached
        return cached

    def _match(self, name: str, parent_code: str | None, level: str | None) -> MatchResult:
        if not name:
            return MatchResult(name, None, "empty region name")
        if parent_code is not None and parent_code not in self._regions:
            return MatchResult(name, None, f"unknown parent region {parent_code!r}")
        parsed = parse_name(name)
        entries = self._index.get(parsed.key, [])
        if not entries:
            return MatchResult(name, None, f"unknown region name {name!r}")

        def codes(items: list[str]) -> list[str]:
            return sorted(dict.fromkeys(items))

        named = codes([code for code, _ in entries])
        fitting = codes(
            [code for code in named if self._fits_kind(self._regions[code], parsed.kind)]
        )
        if level is not None:
            fitting = [c for c in fitting if self._regions[c].level == level]
        if not fitting:
            what = level or _KIND_WORDS[parsed.kind]
            return MatchResult(
                name,
                None,
                f"no {what} named {name!r}; the name fits {self._describe(named)}",
                tuple(named),
            )
        if not self.include_historical:
            current = [c for c in fitting if self._regions[c].is_current]
            if not current:
                return MatchResult(
                    name,
                    None,
                    f"{name!r} names only historical regions ({self._describe(fitting)}); "
                    "use include_historical=True",
                    tuple(fitting),
                )
            fitting = current
        in_scope = [c for c in fitting if self._in_scope(c)]
        if not in_scope:
            return MatchResult(
                name,
                None,
                f"unknown region name {name!r} in scope {self.scope} "
                f"(outside it: {self._describe(fitting)})",
                tuple(fitting),
            )
        if parent_code is not None:
            below = [c for c in in_scope if parent_code in self._ancestors[c]]
            if not below:
                return MatchResult(
                    name,
                    None,
                    f"no region named {name!r} below {parent_code} "
                    f"(elsewhere: {self._describe(in_scope)})",
                    tuple(in_scope),
                )
            in_scope = below
        resolved = codes([self._resolve_city(c) for c in in_scope])
        if len(resolved) > 1:
            if parent_code is not None:
                hint = "the name does not tell them apart"
            elif self.scope is None:
                hint = "give a Land scope or a parent"
            else:
                hint = "give a parent"
            return MatchResult(
                name,
                None,
                f"ambiguous: {name!r} matches {len(resolved)} regions "
                f"({self._describe(resolved)}); {hint}",
                tuple(resolved),
            )
        return MatchResult(name, resolved[0])

    def match_indented(self, names: Sequence[str]) -> list[MatchResult]:
        """Match a column of names indented by hierarchy level, in file order.

        A name's parent is the nearest preceding name with less indentation; if that one did
        not match, the next matched one further up is used.
        """
        stack: list[tuple[int, str | None]] = []
        results: list[MatchResult] = []
        for raw in names:
            stripped = raw.lstrip()
            indent = len(raw) - len(stripped)
            while stack and stack[-1][0] >= indent:
                stack.pop()
            parent = next((code for _, code in reversed(stack) if code is not None), None)
            result = self.match(stripped, parent_code=parent)
            results.append(result)
            stack.append((indent, self._parent_for_children(result.code)))
        return results

    def _parent_for_children(self, code: str | None) -> str | None:
        # Names below a kreisfreie Stadt matched to its Gemeinde still lie below its Kreis.
        if code is None:
            return None
        return self._city_kreis.get(code, code)


@functools.lru_cache(maxsize=8)
def _shared_matcher(scope: str | None) -> RegionMatcher:
    return RegionMatcher(scope)


def match_region_names(
    names: Sequence[str], scope: str | None = "05"
) -> list[tuple[str | None, str | None]]:
    """Match a column of (possibly indented) names in file order: (code or None, reason) per
    cell. Kreisfreie Städte resolve to their Gemeinde key; one matcher per scope is reused, so
    repeated deliveries share its cache."""
    return [(r.code, r.reason) for r in _shared_matcher(scope).match_indented(names)]
