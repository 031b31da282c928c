"""Territory over time (Gebietsstand): which region keys were valid when, and what became of them.

Two files, read into one typed model:

- ``kreis_changes_2007-2026.csv``: the Kreis changes since 2007 from the
  Statistisches Bundesamt's change lists (``old_kreis;new_kreis;effective;change``);
- ``territory.yaml``: what the office adds — Gemeinde changes (the same four fields, plus an
  optional ``share`` of a split), and ``new_regions``: keys younger than ``regions.csv``.

Every row is one (old key, new key) pair of a change. Its kind follows from the rows of the same
day: an old key with several new keys was **split** (and a part that became a new key while the
old key goes on is **new**); a new key with several old keys is a **merge**; one old key to one
new key is a **rename** (the same territory under another key). A merge or a rename carries the
old keys' series to the new key (Σ of the predecessors); a split breaks the series.

A key's validity: from the day a change creates it (``valid_from``) to the day before a change
ends it (``valid_until``); keys no change names are valid throughout. A delivery for a school year
may use every key valid on some day of that school year (1 August to 31 July), so the school year
of a change accepts the old keys and the new ones. Counts are carried to the new key for every
school year that begins before the change took effect.

``schemas.regions`` loads this with the names and levels of ``regions.csv``
(``territory()``); messages name file, line and column.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.yamlmodel import Problem, Text, YamlError, YamlModel, read_yaml, validate

SCHEMAS_DIR = Path(__file__).resolve().parent
TERRITORY_YAML = SCHEMAS_DIR / "territory.yaml"

ChangeKind = Literal["merge", "split", "rename", "new"]
_KEY = re.compile(r"\d{5}|\d{8}")
_CSV_COLUMNS = ("old_kreis", "new_kreis", "effective", "change")

# the school year runs from 1 August to 31 July
SCHOOL_YEAR_START = (8, 1)


def first_school_year(effective: dt.date) -> int:
    """The start year of the first school year that begins on or after `effective`: the first
    one wholly on the new territory (2009-10-21 -> 2010, 2021-07-01 -> 2021)."""
    start = dt.date(effective.year, *SCHOOL_YEAR_START)
    return effective.year if effective <= start else effective.year + 1


def school_year_label(start_year: int) -> str:
    return f"{start_year}/{(start_year + 1) % 100:02d}"


# --- the files ------------------------------------------------------------------------------


class ChangeRow(YamlModel):
    """One (old key, new key) pair of a change, as territory.yaml writes it."""

    old: Text
    new: Text
    effective: dt.date
    change: Text = Field(min_length=1)
    share: float | None = Field(default=None, gt=0, le=1)


class NewRegion(YamlModel):
    """A key the snapshot regions.csv does not know yet (columns as there)."""

    code: Text
    name: Text
    official_name: Text
    level: Literal["kreis", "gemeinde"]
    parent: Text


class TerritoryFile(YamlModel):
    kreis_changes: Text
    changes: list[ChangeRow] = Field(default_factory=list)
    new_regions: list[NewRegion] = Field(default_factory=list)


# --- the model ------------------------------------------------------------------------------


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RegionChange(_Frozen):
    """One (old key, new key) pair of a territorial change."""

    old_code: str
    new_code: str
    effective: dt.date
    kind: ChangeKind
    change: str
    share: float | None = None
    source: str  # file and line the row comes from

    @property
    def level(self) -> str:
        return "kreis" if len(self.new_code) == 5 else "gemeinde"

    @property
    def first_start_year(self) -> int:
        return first_school_year(self.effective)


class Successor(_Frozen):
    code: str
    kind: ChangeKind
    effective: dt.date
    share: float | None = None


class KeyValidity(_Frozen):
    """A region key with its validity: valid from / until (inclusive; None: open) and what it
    became."""

    code: str
    name: str
    level: str
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    successors: tuple[Successor, ...] = ()

    def valid_in(self, start_year: int) -> bool:
        """Valid on some day of the school year that begins in `start_year`."""
        first = dt.date(start_year, *SCHOOL_YEAR_START)
        last = dt.date(start_year + 1, 7, 31)
        return (self.valid_from is None or self.valid_from <= last) and (
            self.valid_until is None or self.valid_until >= first
        )

    def current_on(self, day: dt.date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_until is None or self.valid_until >= day
        )


@dataclass(frozen=True)
class Succession:
    """Where a predecessor's figures go: Σ of `predecessors` keys makes the successor's figure
    for every school year before `first_start_year` (a merge or a rename)."""

    predecessor_code: str
    successor_code: str
    first_start_year: int
    predecessors: int
    rule: str


@dataclass(frozen=True)
class TerritoryBreak:
    """A key that goes on with another territory: its series breaks at `start_year` unless its
    earlier figures were carried to the new territory."""

    region_code: str
    start_year: int
    reason: str


@dataclass(frozen=True)
class Territory:
    changes: tuple[RegionChange, ...]
    validity: dict[str, KeyValidity]  # every key some change names
    new_regions: tuple[NewRegion, ...]

    def successions(self) -> list[Succession]:
        """The merges and renames, one row per predecessor; a successor with a split
        predecessor is not carried (its series breaks)."""
        rows = []
        for (new, effective), changes in sorted(self._by_successor().items()):
            if any(c.kind not in ("merge", "rename") for c in changes):
                continue
            olds = sorted(c.old_code for c in changes)
            change = changes[0].change
            if len(olds) > 1:
                listed = " + ".join(olds)
                rule = f"summed from {len(olds)} predecessors ({listed}: {change}, {effective})"
            else:
                rule = f"carried from predecessor {olds[0]} ({change}, {effective})"
            rows += [
                Succession(old, new, first_school_year(effective), len(olds), rule) for old in olds
            ]
        return rows

    def breaks(self) -> list[TerritoryBreak]:
        """Keys that go on with another territory (they list themselves as a successor)."""
        reasons: dict[tuple[str, int], list[str]] = defaultdict(list)
        for (new, effective), changes in sorted(self._by_successor().items()):
            if any(c.old_code == new for c in changes):
                kind = "split" if any(c.kind == "split" for c in changes) else "merge"
                reasons[(new, first_school_year(effective))].append(
                    f"territory: {new} changed on {effective} ({kind}: {changes[0].change})"
                )
        return [TerritoryBreak(code, year, "; ".join(r)) for (code, year), r in reasons.items()]

    def _by_successor(self) -> dict[tuple[str, dt.date], list[RegionChange]]:
        groups: dict[tuple[str, dt.date], list[RegionChange]] = defaultdict(list)
        for c in self.changes:
            groups[(c.new_code, c.effective)].append(c)
        return groups

    def outside_validity(self, code: str, start_year: int) -> KeyValidity | None:
        """The key's validity if `code` is not valid in the school year, else None."""
        validity = self.validity.get(code)
        if validity is None or validity.valid_in(start_year):
            return None
        return validity


# --- reading --------------------------------------------------------------------------------


def _kind(change: ChangeRow, by_old: Mapping, by_new: Mapping) -> ChangeKind:
    successors = by_old[(change.old, change.effective)]
    if len(successors) > 1:
        # the part of a key that goes on elsewhere while the old key keeps the rest is new
        return "new" if change.old in successors and change.new != change.old else "split"
    if len(by_new[(change.new, change.effective)]) > 1:
        return "merge"
    return "rename"


def _csv_rows(path: Path, name: str, problems: list[Problem]) -> list[tuple[ChangeRow, str]]:
    """The Kreis change list: one ChangeRow per line, or a problem naming line and column."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        problems.append(Problem(name, message=f"file not found ({path})"))
        return []
    except UnicodeDecodeError:
        problems.append(Problem(name, message="not UTF-8 text; save it as UTF-8"))
        return []
    reader = csv.reader(text.splitlines(), delimiter=";")
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != _CSV_COLUMNS:
        problems.append(
            Problem(
                name,
                1,
                message=f"header {';'.join(header or [])!r}: expected {';'.join(_CSV_COLUMNS)}",
            )
        )
        return []
    rows = []
    for line, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(_CSV_COLUMNS):
            problems.append(
                Problem(name, line, message=f"{len(cells)} cells: expected {len(_CSV_COLUMNS)}")
            )
            continue
        old, new, effective, change = (c.strip() for c in cells)
        try:
            day = dt.date.fromisoformat(effective)
        except ValueError:
            problems.append(
                Problem(
                    name,
                    line,
                    message=f"column 'effective': found {effective!r}, expected a date YYYY-MM-DD",
                )
            )
            continue
        if not change:
            problems.append(Problem(name, line, message="column 'change': empty, expected text"))
            continue
        rows.append(
            (ChangeRow(old=old, new=new, effective=day, change=change), f"{name}, line {line}")
        )
    return rows


def _check_keys(
    change: ChangeRow, where: str, columns: tuple[str, str], known: Mapping, problems: list
) -> bool:
    file, _, line = where.rpartition(", line ")
    ok = True
    for column, code in zip(columns, (change.old, change.new), strict=True):
        if not _KEY.fullmatch(code):
            found = f"found {code!r}, expected a Kreis key (5 digits) or a Gemeinde key (8 digits)"
            problems.append(Problem(file, int(line), message=f"column {column!r}: {found}"))
            ok = False
        elif code not in known:
            problems.append(
                Problem(
                    file,
                    int(line),
                    message=f"column {column!r}: {code} is not a key of schemas/regions.csv "
                    "(a key created later belongs under new_regions in territory.yaml)",
                )
            )
            ok = False
    if ok and len(change.old) != len(change.new):
        problems.append(
            Problem(
                file,
                int(line),
                message=f"columns {columns[0]!r} and {columns[1]!r}: {change.old} and "
                f"{change.new} are of different levels (5 digits for Kreise, 8 for Gemeinden)",
            )
        )
        ok = False
    return ok


def load_territory(known: Mapping[str, tuple[str, str]], path: Path = TERRITORY_YAML) -> Territory:
    """Read territory.yaml and its Kreis change list. `known`: key -> (name, level) of the
    region reference. Raises YamlError with every mistake (file, line, column)."""
    problems: list[Problem] = []
    try:
        doc = read_yaml(path, f"schemas/{path.name}")
    except YamlError as exc:
        raise YamlError(exc.problems) from None
    problems += doc.problems
    spec = validate(TerritoryFile, doc.data, doc, problems) if doc.data is not None else None
    if spec is None:
        raise YamlError(problems or [Problem(doc.file, message="empty file")])
    names = dict(known)
    for i, region in enumerate(spec.new_regions):
        if not _KEY.fullmatch(region.code) or region.code in names:
            what = "already a key of regions.csv" if region.code in names else "not a key"
            problems.append(doc.problem(("new_regions", i, "code"), f"{region.code!r}: {what}"))
            continue
        names[region.code] = (region.name, region.level)
    csv_path = (path.parent / spec.kreis_changes).resolve()
    csv_name = f"schemas/{spec.kreis_changes}"
    rows = _csv_rows(csv_path, csv_name, problems)
    for i, change in enumerate(spec.changes):
        line = doc.position(("changes", i)).line
        rows.append((change, f"{doc.file}, line {line}"))
    checked = []
    seen: dict[tuple[str, str, dt.date], str] = {}
    for change, where in rows:
        columns = ("old_kreis", "new_kreis") if where.startswith(csv_name) else ("old", "new")
        if not _check_keys(change, where, columns, names, problems):
            continue
        key = (change.old, change.new, change.effective)
        if key in seen:
            file, _, line = where.rpartition(", line ")
            problems.append(
                Problem(file, int(line), message=f"{change.old} -> {change.new} on "
                        f"{change.effective} is listed twice (also {seen[key]})")
            )  # fmt: skip
            continue
        seen[key] = where
        checked.append((change, where))
    by_old: dict[tuple[str, dt.date], list[str]] = defaultdict(list)
    by_new: dict[tuple[str, dt.date], list[str]] = defaultdict(list)
    for change, _ in checked:
        by_old[(change.old, change.effective)].append(change.new)
        by_new[(change.new, change.effective)].append(change.old)
    for change, where in checked:
        if (
            change.old == change.new
            and len(by_old[(change.old, change.effective)]) == 1
            and len(by_new[(change.new, change.effective)]) == 1
        ):
            file, _, line = where.rpartition(", line ")
            problems.append(
                Problem(file, int(line), message=f"{change.old} -> {change.new} changes nothing: "
                        "a key lists itself only beside another old or new key")
            )  # fmt: skip
    if problems:
        raise YamlError(problems)
    changes = tuple(
        RegionChange(
            old_code=c.old,
            new_code=c.new,
            effective=c.effective,
            kind=_kind(c, by_old, by_new),
            change=c.change,
            share=c.share,
            source=where,
        )
        for c, where in sorted(checked, key=lambda cw: (cw[0].effective, cw[0].old, cw[0].new))
    )
    return Territory(changes, _validity(changes, names), tuple(spec.new_regions))


def _validity(
    changes: tuple[RegionChange, ...], names: Mapping[str, tuple[str, str]]
) -> dict[str, KeyValidity]:
    starts: dict[str, dt.date] = {}
    ends: dict[str, dt.date] = {}
    successors: dict[str, list[Successor]] = defaultdict(list)
    continuing = {(c.old_code, c.effective) for c in changes if c.old_code == c.new_code}
    for c in changes:
        successors[c.old_code].append(Successor(
            code=c.new_code, kind=c.kind, effective=c.effective, share=c.share
        ))  # fmt: skip
        if (c.old_code, c.effective) not in continuing:
            ends[c.old_code] = min(ends.get(c.old_code, c.effective), c.effective)
        if (c.new_code, c.effective) not in continuing:
            starts[c.new_code] = max(starts.get(c.new_code, c.effective), c.effective)
    codes = sorted(set(starts) | set(ends) | set(successors))
    return {
        code: KeyValidity(
            code=code,
            name=names[code][0],
            level=names[code][1],
            valid_from=starts.get(code),
            valid_until=ends[code] - dt.timedelta(days=1) if code in ends else None,
            successors=tuple(successors.get(code, ())),
        )
        for code in codes
    }
