"""Cells of official statistics and partner files -> (value, status).

The symbols are those of the German statistical offices (Zeichenerklärung, GENESIS):

    -    nichts vorhanden (exactly nothing)            -> 0, ok   (the one symbol that is a zero)
    .    Zahlenwert unbekannt oder geheimzuhalten     -> suppressed
    x    Tabellenfach gesperrt (Aussage nicht sinnvoll) -> not_applicable
    /    keine Angabe, Zahlenwert nicht sicher genug    -> unreliable, no value
    ...  Angabe fällt später an                         -> not_available
    (n)  Aussagewert eingeschränkt                      -> n, unreliable
    n p  vorläufige Zahl                                -> n, provisional
    n r  berichtigte Zahl                               -> n, ok (a revision is a final figure)
    n e  geschätzte Zahl                                -> n, estimated

An empty cell is `not_available`. Anything else that is not a number is an error the caller
reports with file, line and column: it never becomes a silent zero.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SYMBOL_STATUS: dict[str, tuple[float | None, str]] = {
    "-": (0.0, "ok"),
    "–": (0.0, "ok"),  # en dash, as some exports write it
    ".": (None, "suppressed"),
    "x": (None, "not_applicable"),
    "X": (None, "not_applicable"),
    "/": (None, "unreliable"),
    "...": (None, "not_available"),
    "…": (None, "not_available"),
    "": (None, "not_available"),
}
FLAG_STATUS = {"p": "provisional", "r": "ok", "e": "estimated"}

_FLAGGED = re.compile(
    r"^(?P<number>[^\sa-z]+?)\s*(?P<flag>[pre])$|^(?P<flag2>[pre])\s+(?P<n2>\S+)$"
)
_PARENS = re.compile(r"^\((?P<number>[^()]+)\)$")


@dataclass(frozen=True)
class NumberFormat:
    """How a source writes numbers: decimal separator and, if declared, a thousands separator."""

    decimal: str = ","
    thousands: str | None = None


class CellError(ValueError):
    """A cell that is neither a number nor a known symbol; the message says what was expected."""


def parse_number(text: str, fmt: NumberFormat) -> float:
    s = text.strip().replace("\u00a0", "").replace(" ", "")
    if fmt.thousands:
        s = s.replace(fmt.thousands, "")
    other = "." if fmt.decimal == "," else ","
    if other in s:
        if fmt.decimal == "," and re.fullmatch(r"-?\d{1,3}(\.\d{3})+(,\d+)?", s):
            raise CellError(
                f"{text!r} has a thousands separator '.'; expected plain digits with decimal "
                f'comma (declare `thousands: "."` in the source if the partner writes them)'
            )
        raise CellError(f"{text!r} uses {other!r}; expected a number with decimal {fmt.decimal!r}")
    if fmt.decimal == ",":
        s = s.replace(",", ".")
    try:
        return float(s)
    except ValueError:
        raise CellError(
            f"{text!r} is not a number or a statistical symbol "
            f"(expected e.g. 1234{fmt.decimal}5, '-', '.', 'x', '/', '...')"
        ) from None


def parse_cell(text: str | None, fmt: NumberFormat = NumberFormat()) -> tuple[float | None, str]:
    """One cell -> (value, status). Raises CellError for anything unreadable."""
    cell = (text or "").strip()
    if cell in SYMBOL_STATUS:
        return SYMBOL_STATUS[cell]
    if cell.startswith("=") or cell.startswith("@"):
        raise CellError(f"{cell[:40]!r} is a spreadsheet formula, not a value")
    parens = _PARENS.match(cell)
    if parens:
        return parse_number(parens.group("number"), fmt), "unreliable"
    flagged = _FLAGGED.match(cell)
    if flagged:
        number = flagged.group("number") or flagged.group("n2")
        flag = flagged.group("flag") or flagged.group("flag2")
        return parse_number(number, fmt), FLAG_STATUS[flag]
    return parse_number(cell, fmt), "ok"
