"""Text helpers of the delimited readers: delimiters (detected, named in messages) and Excel's
`sep=` first line. Decoding bytes into text is sources/readers/decoding.py.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence

#: Delimiters `detect_delimiter` considers, in order of preference when the evidence is equal.
DELIMITERS: tuple[str, ...] = (";", "\t", "|", ",")

_SEP_HINT = re.compile(r'^\ufeff?"?sep=(.)"?[ \t]*$', re.IGNORECASE)


def describe(delimiter: str) -> str:
    """A delimiter as people say it in a message: ';' ',' '|' or 'tab'."""
    return "tab" if delimiter == "\t" else repr(delimiter)


def describe_de(delimiter: str) -> str:
    """A delimiter as people say it in a German message: ';' ',' '|' or 'Tabulator'."""
    return "Tabulator" if delimiter == "\t" else repr(delimiter)


def sep_hint(line: str) -> str | None:
    """The delimiter named by Excel's `sep=;` first line, or None if `line` is no such hint."""
    match = _SEP_HINT.match(line)
    return match.group(1) if match else None


def _width(rows: list[list[str]]) -> list[int]:
    """Number of cells per row, not counting trailing empty cells."""
    widths = []
    for row in rows:
        n = len(row)
        while n > 1 and not row[n - 1].strip():
            n -= 1
        widths.append(n)
    return widths


def detect_delimiter(header_line: str, more_lines: Sequence[str] = ()) -> str | None:
    """The delimiter of a header line: ';' ',' tab or '|'; None if the line contains none.

    With `more_lines` (a few data lines after the header) a candidate that splits every line
    into as many cells as the header wins over one that does not, so that
    'Name;Schüler, weiblich, deutsch' is read as two columns, not three. Otherwise the
    candidate giving the most header cells wins; ties go to ';', tab, '|', ','. Delimiters
    inside quotes do not count.
    """
    best: tuple[int, int, int, str] | None = None
    for preference, delimiter in enumerate(DELIMITERS):
        if delimiter not in header_line:
            continue
        try:
            rows = list(csv.reader([header_line, *more_lines], delimiter=delimiter))
        except csv.Error:
            continue
        if not rows:
            continue
        widths = _width([r for r in rows if r])
        header_cells = widths[0] if widths else 0
        if header_cells < 2:
            continue
        consistent = sum(1 for w in widths[1:] if w == header_cells)
        key = (consistent, header_cells, -preference, delimiter)
        if best is None or key > best:
            best = key
    return best[3] if best else None
