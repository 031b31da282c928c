"""Time cells -> the school year they belong to, by the rule a source declares.

GENESIS writes time as years (`2023`), reference dates (Stichtag `2024-12-31`; older exports
`31.12.2024`; quarter-end dates under the time code STAGV), and ISO 8601 periods — a start
and a duration: `2023-10P6M` is the winter semester 2023/24 (time code SEMEST), `2023-07P3M` a
quarter, `2023-09P1M` a month. Partners write school years (`2022/23`), semesters
(`WS 2023/24`, `SoSe 2024`), quarters (`2023-Q3`, `3. Quartal 2023`) and months (`09.2023`,
`September 2023`).

Every rule but the year rules reads a cell as a period of days, and the school year is the one
containing its first day — or, with `anchor: end` in the YAML, its last day (NRW school years
begin 1 August: schemas.tables.school_year_of_date). The winter semester 2023/24 (October to
March) and the summer semester 2024 (April to September) thus both belong to 2023/24.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from schemas.tables import parse_school_year, school_year_of_date

# the rules a registry YAML may declare under `school_year.format`, with an example each; the
# specific ones before `period`, which reads every ISO 8601 form (a message suggests the first)
FORMATS: dict[str, str] = {
    "school_year": "2022/23",
    "start_year": "2022 (for 2022/23)",
    "end_year": "2023 (for 2022/23)",
    "date": "01.03.2024",
    "iso_date": "2023-12-31",
    "semester": "WS 2023/24, SoSe 2024 or 2023-10P6M",
    "quarter": "2023-Q3, 3. Quartal 2023 or 2023-07P3M",
    "month": "2023-09, 09.2023, September 2023 or 2023-09P1M",
    "period": "2023-10P6M (ISO 8601: start and duration)",
}
FORMATS_DE: dict[str, str] = {
    "school_year": "2022/23",
    "start_year": "2022 (für 2022/23)",
    "end_year": "2023 (für 2022/23)",
    "date": "01.03.2024",
    "iso_date": "2023-12-31",
    "semester": "WS 2023/24, SoSe 2024 oder 2023-10P6M",
    "quarter": "2023-Q3, 3. Quartal 2023 oder 2023-07P3M",
    "month": "2023-09, 09.2023, September 2023 oder 2023-09P1M",
    "period": "2023-10P6M (ISO 8601: Beginn und Dauer)",
}
# the German names of the rules, for messages to partners
FORMAT_NAMES_DE: dict[str, str] = {
    "school_year": "Schuljahr",
    "start_year": "Jahr (Beginn des Schuljahres)",
    "end_year": "Jahr (Ende des Schuljahres)",
    "date": "Datum",
    "iso_date": "Datum (ISO)",
    "semester": "Semester",
    "quarter": "Quartal",
    "month": "Monat",
    "period": "Zeitraum (ISO 8601)",
}
ANCHORS = ("start", "end")

_YEAR = re.compile(r"\d{4}")
_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
# ISO 8601 as GENESIS writes it: a year, month or day, and optionally a duration
_ISO_PERIOD = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(?:P(\d+)([YMWD]))?")
_WINTER = re.compile(r"(?:WS|WiSe|Wintersemester)\s*(\d{4})\s*/\s*(\d{2}|\d{4})", re.I)
_SUMMER = re.compile(r"(?:SS|SoSe|Sommersemester)\s*(\d{4})", re.I)
_QUARTER = re.compile(r"(\d{4})\s*-?\s*Q([1-4])|([1-4])\s*\.?\s*(?:Quartal|Q)\s*(\d{4})", re.I)
_MONTH_NUMBER = re.compile(r"(\d{4})-(\d{2})|(\d{1,2})[./](\d{4})")
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("januar", "jan", "january", "jänner"),
            ("februar", "feb", "february"),
            ("märz", "maerz", "mär", "mar", "march"),
            ("april", "apr"),
            ("mai", "may"),
            ("juni", "jun", "june"),
            ("juli", "jul", "july"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("oktober", "okt", "october", "oct"),
            ("november", "nov"),
            ("dezember", "dez", "december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_MONTH_NAME = re.compile(r"([A-Za-zäÄ]+)\.?\s+(\d{4})")


class PeriodError(ValueError):
    """A time cell the declared rule cannot read, in English and German."""

    def __init__(self, message_en: str, message_de: str) -> None:
        super().__init__(message_en)
        self.message_de = message_de


@dataclass(frozen=True)
class Period:
    first: dt.date
    last: dt.date


def start_year(cell: str, fmt: str, anchor: str = "start") -> int:
    """The first calendar year of the school year `cell` belongs to under the rule `fmt`."""
    text = cell.strip()
    if fmt == "school_year":
        return parse_school_year(text)
    if fmt in ("start_year", "end_year"):  # 2022 -> 2022/23, or (end_year) 2023 -> 2022/23
        if not _YEAR.fullmatch(text):
            raise PeriodError(
                f"year {text!r} is not a four-digit year",
                f"Jahr {text!r} ist keine vierstellige Jahreszahl",
            )
        return int(text) if fmt == "start_year" else int(text) - 1
    period = period_of(text, fmt)
    return school_year_of_date(period.last if anchor == "end" else period.first)


def period_of(text: str, fmt: str) -> Period:
    """The days a cell stands for under the rule `fmt` (every rule but the year rules)."""
    reader = _READERS.get(fmt)
    if reader is None:
        raise ValueError(f"unknown time format {fmt!r}: expected one of {', '.join(FORMATS)}")
    period = reader(text)
    if period is None and fmt in ("date", "iso_date"):
        raise PeriodError(
            f"date {text!r} is not a date like {FORMATS[fmt]}",
            f"Datum {text!r} ist nicht ein Datum wie {FORMATS_DE[fmt]}",
        )
    if period is None:
        raise PeriodError(
            f"{fmt} {text!r} is not of the form {FORMATS[fmt]}",
            f"{FORMAT_NAMES_DE[fmt]} {text!r} hat nicht die Form {FORMATS_DE[fmt]}",
        )
    return period


def readable_as(cell: str) -> list[str]:
    """The rules that would read `cell` (for a message that suggests the right one)."""
    fitting = []
    for fmt in FORMATS:
        try:
            start_year(cell, fmt)
        except ValueError:
            continue
        fitting.append(fmt)
    return fitting


def _day(year: int, month: int, day: int, text: str) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise PeriodError(
            f"date {text!r} does not exist", f"Datum {text!r} gibt es nicht"
        ) from None


def _add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    return dt.date(day.year + month // 12, month % 12 + 1, 1)


def _span(first: dt.date, count: int, unit: str) -> Period:
    """From `first`, `count` years / months / weeks / days long."""
    if unit == "Y":
        end = dt.date(first.year + count, first.month, first.day)
    elif unit == "M":
        end = _add_months(first, count)
    else:
        end = first + dt.timedelta(days=count * (7 if unit == "W" else 1))
    return Period(first, end - dt.timedelta(days=1))


def _date(text: str) -> Period | None:
    match = _DATE.fullmatch(text)
    if not match:
        return None
    day, month, year = (int(p) for p in match.groups())
    first = _day(year, month, day, text)
    return Period(first, first)


def _iso_date(text: str) -> Period | None:
    match = _ISO_DATE.fullmatch(text)
    if not match:
        return None
    year, month, day = (int(p) for p in match.groups())
    first = _day(year, month, day, text)
    return Period(first, first)


def _iso_period(text: str, months: int | None = None) -> Period | None:
    """ISO 8601 as GENESIS writes it; `months`: only periods of that many months."""
    match = _ISO_PERIOD.fullmatch(text)
    if not match:
        return None
    year, month, day, count, unit = match.groups()
    first = _day(int(year), int(month or 1), int(day or 1), text)
    if count is None:  # no duration: the year, month or day the cell names
        count, unit = 1, ("D" if day else "M" if month else "Y")
    period = _span(first, int(count), unit)
    if months is not None and (
        first.day != 1 or _add_months(first, months) - dt.timedelta(days=1) != period.last
    ):
        return None  # not a whole semester, quarter or month
    return period


def _semester(text: str) -> Period | None:
    if match := _WINTER.fullmatch(text):
        first_year, second = int(match.group(1)), match.group(2)
        if int(second[-2:]) != (first_year + 1) % 100:
            return None
        return _span(dt.date(first_year, 10, 1), 6, "M")
    if match := _SUMMER.fullmatch(text):
        return _span(dt.date(int(match.group(1)), 4, 1), 6, "M")
    return _iso_period(text, months=6)


def _quarter(text: str) -> Period | None:
    if match := _QUARTER.fullmatch(text):
        year, quarter = (match.group(1), match.group(2)) if match.group(1) else match.group(4, 3)
        return _span(dt.date(int(year), 3 * int(quarter) - 2, 1), 3, "M")
    return _iso_period(text, months=3)


def _month(text: str) -> Period | None:
    if match := _MONTH_NUMBER.fullmatch(text):
        year, month = match.group(1, 2) if match.group(1) else match.group(4, 3)
        if not 1 <= int(month) <= 12:
            return None
        return _span(dt.date(int(year), int(month), 1), 1, "M")
    if (match := _MONTH_NAME.fullmatch(text)) and match.group(1).lower() in _MONTHS:
        return _span(dt.date(int(match.group(2)), _MONTHS[match.group(1).lower()], 1), 1, "M")
    return _iso_period(text, months=1)


_READERS = {
    "date": _date,
    "iso_date": _iso_date,
    "period": _iso_period,
    "semester": _semester,
    "quarter": _quarter,
    "month": _month,
}
