"""What every reader returns, and the one error a reader raises for a delivery it cannot read."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RawRow:
    """One data line of a delivery, cells exactly as written (not stripped: indentation of
    region names carries the hierarchy in GENESIS tables)."""

    line: int  # 1-based physical line in the file
    cells: tuple[str, ...]


@dataclass
class RawTable:
    """A delivery after decoding and splitting, before any mapping to canonical fields.

    `columns` names every cell position. For GENESIS table CSVs the first `label_columns`
    positions are the row labels (unnamed in the file: their names are "") and every value
    column is named by its header rows joined with " | ", e.g.
    "Schülerinnen und Schüler an allgemeinbildenden Schulen | Geschlecht | weiblich | Anzahl".
    """

    file_name: str
    columns: list[str]
    rows: list[RawRow]
    encoding: str
    delimiter: str
    label_columns: int = 0
    header_line: int = 1  # line of the (last) header row
    # e.g. table_code, title, stand (the "Stand:" line), licence, notes
    metadata: dict[str, str] = field(default_factory=dict)


class DeliveryFormatError(ValueError):
    """A delivery whose structure cannot be read. The message names the file and, where known,
    the line and column, what was expected and what was found."""

    def __init__(
        self,
        file_name: str,
        problem: str,
        *,
        line: int | None = None,
        column: str | None = None,
        expected: str | None = None,
        found: str | None = None,
    ) -> None:
        self.file_name = file_name
        self.problem = problem
        self.line = line
        self.column = column
        self.expected = expected
        self.found = found
        where = file_name
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column!r}"
        detail = []
        if expected is not None:
            detail.append(f"expected {expected}")
        if found is not None:
            detail.append(f"found {found}")
        message = f"{where}: {problem}"
        if detail:
            message += f" ({'; '.join(detail)})"
        super().__init__(message)
