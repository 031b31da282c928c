"""Numbers and words as a German statistician writes them: `6,4 %`, `1.234`, `−0,8`.

Values the publication holds without a number are shown by the official symbols of German
statistics (Zeichenerklärung of the Statistische Ämter), never as an empty cell or a zero.
"""

from __future__ import annotations

import math
from functools import cache

from babel import Locale
from babel.numbers import NumberPattern, parse_pattern

LOCALE = Locale.parse("de_DE")
MINUS = "−"  # the typographic minus sign, as in printed statistics

# status of a value without a number -> the symbol printed in its place
SYMBOLS: dict[str, str] = {
    "suppressed": ".",
    "not_available": "…",
    "not_applicable": "x",
    "unreliable": "/",
}
# status of a value with a number -> the mark after it
MARKS: dict[str, str] = {"provisional": "p", "estimated": "e"}
LEGEND: tuple[tuple[str, str], ...] = (
    (".", "Zahlenwert unbekannt oder geheim zu halten"),
    ("…", "Angabe fällt später an"),
    ("x", "Tabellenfach gesperrt, weil Aussage nicht sinnvoll (z. B. Nenner null)"),
    ("/", "keine Angabe, da Zahlenwert nicht sicher genug"),
    ("p", "vorläufige Zahl"),
    ("e", "geschätzte Zahl"),
    ("–", "kein Wert vorhanden"),
)

SEX = {"total": "insgesamt", "female": "weiblich", "male": "männlich"}
NATIONALITY = {"total": "insgesamt", "german": "deutsch", "foreign": "ausländisch"}
LEVEL = {
    "gemeinde": "Gemeinde",
    "kreis": "Kreis",
    "regierungsbezirk": "Regierungsbezirk",
    "land": "Land",
    "verband": "Regionalverband",
    "bund": "Bund",
}


def number(value: float | None, decimals: int = 1) -> str:
    """6.4 -> '6,4'; 1234.0 (decimals 0) -> '1.234'; -0.84 -> '−0,8'; None -> '–'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    text = _pattern(decimals).apply(value, LOCALE)
    if text.startswith("-"):
        # a value that rounds to zero is shown without a sign
        text = text[1:] if text.strip("-0,") == "" else MINUS + text[1:]
    return text


@cache
def _pattern(decimals: int) -> NumberPattern:
    return parse_pattern("#,##0" + ("." + "0" * decimals if decimals else ""))


def signed(value: float | None, decimals: int = 1) -> str:
    """A change: '+1,2', '−0,8', '±0,0'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    text = number(value, decimals)
    if text.lstrip(MINUS) == number(0.0, decimals):
        return "±" + number(0.0, decimals)
    return text if text.startswith(MINUS) else "+" + text


def with_unit(text: str, unit: str) -> str:
    """'6,4' + '%' -> '6,4 %', '88,1 p' -> '88,1 % p'; other units are named in the heading,
    not after each value; a symbol stays alone."""
    if unit != "%" or not text[:1].isdigit():
        return text
    number_part, _, mark = text.partition(" ")
    return f"{number_part} %" + (f" {mark}" if mark else "")


def cell(value: float | None, status: str | None, decimals: int = 1) -> str:
    """A table cell: the number with its mark ('6,4 p'), or the symbol of its status."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return SYMBOLS.get(status or "", "–")
    mark = MARKS.get(status or "")
    return f"{number(value, decimals)} {mark}" if mark else number(value, decimals)


def unit_label(unit: str) -> str:
    """How a unit is named in a heading: '%' -> 'in %', 'Prozentpunkte' -> 'in Prozentpunkten'."""
    return {"%": "in %", "Prozentpunkte": "in Prozentpunkten"}.get(unit, unit)


def qualifier(name: str, unit: str, direction: str) -> str:
    """What follows an indicator's name: its unit (unless the name says it already, as
    'Schüler/-innen je Lehrkraft' does) and which way is better."""
    better = "niedriger ist besser" if direction == "down" else "höher ist besser"
    label = unit_label(unit)
    return better if label == name else f"{label}, {better}"
