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

A source may declare codes of its own (`format.symbols` in its registry YAML): the Urban
Institute's Education Data Portal writes −1 (missing), −2 (not applicable), −3 (suppressed),
the DfE `z`, `x`, `c`, `low`, `u`, a partner `k.A.`. A declared code is its status, never a
number — also where it looks like one (−1, or −1.0 from a JSON API) — and it wins over the
official symbol of the same text.
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


# what a declared code may stand for: a status without a value
DECLARABLE_STATUSES = ("suppressed", "not_available", "not_applicable", "unreliable")


@dataclass(frozen=True)
class NumberFormat:
    """How a source writes numbers: decimal separator and, if declared, a thousands separator;
    and the codes it declares for values it has not (code -> status)."""

    decimal: str = ","
    thousands: str | None = None
    symbols: tuple[tuple[str, str], ...] = ()

    def declared(self, cell: str) -> str | None:
        """The status of a declared code, if `cell` is one (-1.0 is the code -1)."""
        for code, status in self.symbols:
            if cell == code or (
                _as_number(cell) is not None and _as_number(cell) == _as_number(code)
            ):
                return status
        return None


def _as_number(text: str) -> float | None:
    try:
        return float(text) if _NUMBER.match(text.strip()) else None
    except ValueError:
        return None


class CellError(ValueError):
    """A cell that is neither a number nor a known symbol; the message says what was expected.

    `CellError(message_en, message_de)`: `str(exc)` is the English message, `message_de` the
    same in German for partners (the English one if none is given)."""

    def __init__(self, message_en: str, message_de: str | None = None) -> None:
        super().__init__(message_en)
        self.message_en = message_en
        self.message_de = message_en if message_de is None else message_de


_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


def _grouped(separator: str, decimal: str) -> re.Pattern[str]:
    """1.234.567,8 — digits grouped by three with `separator`, optional decimal part."""
    return re.compile(
        rf"^[+-]?\d{{1,3}}({re.escape(separator)}\d{{3}})+({re.escape(decimal)}\d+)?$"
    )


def parse_number(text: str, fmt: NumberFormat) -> float:
    """A number as the source writes it. Strict: only digits, an optional sign, the declared
    decimal separator and — if the source declares one — a thousands separator grouping
    three digits. `nan`, `1e5`, `1_000` or a misplaced separator are errors, never values."""
    s = text.strip().replace("\u00a0", " ").strip()
    numeric_text = re.fullmatch(r"[+\-\d\s.,]+", s) is not None
    if " " in s and numeric_text and fmt.thousands != " ":  # 1 234: spaces grouping digits
        if not _grouped(" ", fmt.decimal).match(s):
            raise CellError(
                f"{text!r} has spaces inside; expected a number like 1234{fmt.decimal}5",
                f"{text!r} enthält Leerzeichen; erwartet wird eine Zahl wie 1234{fmt.decimal}5",
            )
        s = s.replace(" ", "")
    # separator diagnoses only for cells made of digits and separators: 'k. A.' is text, not a
    # number with a misplaced decimal point
    if fmt.thousands and fmt.thousands in s and numeric_text:
        if not _grouped(fmt.thousands, fmt.decimal).match(s):
            raise CellError(
                f"{text!r}: the thousands separator {fmt.thousands!r} must group three digits "
                f"(expected e.g. 1{fmt.thousands}234{fmt.decimal}5)",
                f"{text!r}: das Tausendertrennzeichen {fmt.thousands!r} muss jeweils drei Ziffern "
                f"gruppieren (erwartet z. B. 1{fmt.thousands}234{fmt.decimal}5)",
            )
        s = s.replace(fmt.thousands, "")
    other = "." if fmt.decimal == "," else ","
    if other in s and numeric_text:
        if _grouped(other, fmt.decimal).match(s):
            raise CellError(
                f"{text!r} has a thousands separator {other!r}; expected plain digits with a "
                f"decimal {'comma' if fmt.decimal == ',' else 'point'} (declare "
                f'`thousands: "{other}"` in the source if the partner writes them)',
                f"{text!r} enthält ein Tausendertrennzeichen {other!r}; erwartet werden Ziffern "
                f"mit Dezimal{'komma' if fmt.decimal == ',' else 'punkt'} (in der Quelle "
                f'`thousands: "{other}"` angeben, wenn der Partner es so schreibt)',
            )
        raise CellError(
            f"{text!r} uses {other!r}; expected a number with decimal {fmt.decimal!r}",
            f"{text!r} enthält {other!r}; erwartet wird eine Zahl mit dem Dezimaltrennzeichen "
            f"{fmt.decimal!r}",
        )
    candidate = s.replace(fmt.decimal, ".") if fmt.decimal != "." else s
    if not _NUMBER.match(candidate):
        raise CellError(
            f"{text!r} is not a number or a statistical symbol "
            f"(expected e.g. 1234{fmt.decimal}5, '-', '.', 'x', '/', '...')",
            f"{text!r} ist keine Zahl und kein statistisches Zeichen "
            f"(erwartet z. B. 1234{fmt.decimal}5, '-', '.', 'x', '/', '...')",
        )
    return float(candidate)


def parse_cell(text: str | None, fmt: NumberFormat = NumberFormat()) -> tuple[float | None, str]:
    """One cell -> (value, status). Raises CellError for anything unreadable."""
    cell = (text or "").strip()
    declared = fmt.declared(cell) if fmt.symbols else None
    if declared is not None:
        return None, declared
    if cell in SYMBOL_STATUS:
        return SYMBOL_STATUS[cell]
    if cell.startswith("=") or cell.startswith("@"):
        raise CellError(
            f"{cell[:40]!r} is a spreadsheet formula, not a value",
            f"{cell[:40]!r} ist eine Tabellenformel, kein Wert",
        )
    parens = _PARENS.match(cell)
    if parens:
        return parse_number(parens.group("number"), fmt), "unreliable"
    flagged = _FLAGGED.match(cell)
    if flagged:
        number = flagged.group("number") or flagged.group("n2")
        flag = flagged.group("flag") or flagged.group("flag2")
        return parse_number(number, fmt), FLAG_STATUS[flag]
    return parse_number(cell, fmt), "ok"
