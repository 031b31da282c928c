"""Reference datasets (school directory, social index) -> typed rows with canonical names.

They are not measures: each delivery replaces the previous one as the current directory, and
marts.schools joins them. The mapping YAML only renames columns (`mapping.columns`:
canonical → delivered) and may add constants (`mapping.constants`).
"""

from __future__ import annotations

import pandas as pd

from sources.canonical import _require_columns
from sources.readers.base import RawTable
from sources.registry import Source


def to_reference_rows(raw: RawTable, source: Source) -> pd.DataFrame:
    positions = {name: i for i, name in enumerate(raw.columns)}
    _require_columns(raw, positions, list(source.columns.values()))
    data: dict[str, list] = {
        canonical: [row.cells[positions[delivered]].strip() for row in raw.rows]
        for canonical, delivered in source.columns.items()
    }
    frame = pd.DataFrame(data, dtype="string")
    for name, value in source.constants.items():
        frame[name] = value
    frame["source_line"] = pd.Series([row.line for row in raw.rows], dtype="int64")
    return frame
