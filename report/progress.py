"""Is an indicator on track? Results-Based Accountability's "turn the curve" view.

The straight path runs from the baseline value (the Ruhr's value in the baseline school year)
to the target in the target year. In the latest school year the Ruhr is *on track* when its
value is at least as good as the path's value for that year (better = the indicator's
direction), *target reached* when it is at or beyond the target, *off track* otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum


class Verdict(Enum):
    REACHED = ("erreicht", "✔", "Ziel erreicht")
    ON_TRACK = ("auf-kurs", "↗", "auf Kurs")
    OFF_TRACK = ("nicht-auf-kurs", "✘", "nicht auf Kurs")
    UNKNOWN = ("offen", "?", "keine Bewertung möglich")

    def __init__(self, css: str, symbol: str, label: str) -> None:
        self.css, self.symbol, self.label = css, symbol, label


@dataclass(frozen=True)
class Progress:
    verdict: Verdict
    path_value: float | None  # where the straight path stands in the latest year
    reason: str  # one German sentence saying why


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def assess(
    value: float | None,
    start_year: int | None,
    baseline_value: float | None,
    baseline_year: int,
    target_value: float,
    target_year: int,
    direction: str,
    formatted: Callable[[float], str],  # a German number formatter
) -> Progress:
    if _missing(value) or start_year is None:
        return Progress(Verdict.UNKNOWN, None, "Für das Ruhrgebiet liegt kein aktueller Wert vor.")
    better = (lambda a, b: a >= b) if direction == "up" else (lambda a, b: a <= b)
    if better(value, target_value):
        return Progress(Verdict.REACHED, None, "Der aktuelle Wert hat das Ziel erreicht.")
    if _missing(baseline_value):
        return Progress(
            Verdict.UNKNOWN, None, "Für das Ausgangsjahr liegt kein Wert vor; ohne ihn gibt es "
            "keinen Pfad zum Ziel."
        )  # fmt: skip
    span = target_year - baseline_year
    share = 1.0 if span <= 0 else min(max((start_year - baseline_year) / span, 0.0), 1.0)
    path = baseline_value + (target_value - baseline_value) * share
    if better(value, path):
        reason = f"Der aktuelle Wert liegt auf oder vor dem Pfad zum Ziel ({formatted(path)})."
        return Progress(Verdict.ON_TRACK, path, reason)
    reason = f"Der aktuelle Wert liegt hinter dem Pfad zum Ziel ({formatted(path)})."
    return Progress(Verdict.OFF_TRACK, path, reason)
