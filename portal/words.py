"""The portal's German: sizes, times and the states of a delivery, as the partners read them."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from expectations.partner_words import number_de

BERLIN = ZoneInfo("Europe/Berlin")


def size_de(size: int) -> str:
    """1536 -> '1,5 KB'; 104857600 -> '100 MB' (binary units, as Windows shows them)."""
    for unit, factor in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= factor:
            value = size / factor
            return f"{number_de(value, 0 if value == int(value) else 1)} {unit}"
    return f"{number_de(size)} Byte"


def time_de(moment: dt.datetime | None) -> str:
    """'28.11.2026, 02:00 Uhr' in Berlin time (a naive moment is UTC)."""
    if moment is None:
        return "–"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(BERLIN).strftime("%d.%m.%Y, %H:%M Uhr")


# the verdict of the screener and the state of a delivery, as the pages name them
VERDICT_DE = {"PASS": "OK", "WARNING": "WARNUNG", "FAIL": "FEHLER"}
STATE_DE = {
    "received": "Eingegangen",
    "waiting": "Eingegangen – wartet auf den nächsten Lauf",
    "processed": "Verarbeitet – noch nicht veröffentlicht",
    "loaded": "Übernommen",
    "loaded_with_quarantine": "Übernommen, einzelne Zeilen zurückgestellt",
    "rejected": "Abgelehnt",
}
