"""How the screener says things to a partner: in the words of the partner's own file.

A partner knows the column headers and cell values of the file, not the pipeline's ids. So a
German message names a measure by the header of the column it came from (`ohne
Hauptschulabschluss`, not `leavers_without_hsa`), a subgroup by the value the file writes
(`weiblich`, not `female`), a region by its name and key, and numbers as a German
statistician writes them (`1.234`, `6,4`). Each check says what to do about a finding.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache

from schemas.catalogue import load_catalogue
from schemas.regions import region_rows
from sources.registry import Source

SEX_DE = {"total": "insgesamt", "female": "weiblich", "male": "männlich"}
NATIONALITY_DE = {"total": "insgesamt", "german": "deutsch", "foreign": "ausländisch"}


def number_de(value: float | int | None, digits: int | None = None) -> str:
    """1234 -> '1.234', 6.4 -> '6,4', 12.0 -> '12' (a German statistician's way)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if digits is None:
        text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.10g}"
        if "e" in text:
            text = f"{value:,.6f}".rstrip("0").rstrip(".")
    else:
        text = f"{value:,.{digits}f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def percent_de(share: float) -> str:
    """0.123 -> '12 %' ('0,5 %' below one per cent)."""
    pct = share * 100
    return f"{number_de(pct, 1 if 0 < pct < 1 else 0)} %"


def plural(count: int, one: str, many: str) -> str:
    return f"{number_de(count)} {one if count == 1 else many}"


@cache
def _region_names() -> dict[str, str]:
    return {r.region_code: r.name for r in region_rows()}


def region_de(code: str | None) -> str:
    """'Gelsenkirchen (05513000)'; an unknown key as it is."""
    if not code:
        return "–"
    name = _region_names().get(code)
    return f"{name} ({code})" if name else code


@dataclass(frozen=True)
class PartnerWords:
    """The words of one source's files."""

    source: Source

    def header(self, measure: str | None) -> str:
        """The column header a measure is delivered under (else its catalogue label)."""
        mapping = self.source.measures
        if mapping is not None and measure:
            for value in mapping.values:
                if value.measure == measure or _template_matches(value.measure, measure):
                    return value.column
        catalogue = load_catalogue().measures
        return catalogue[measure].label if measure in catalogue else str(measure)

    def column(self, measure: str | None) -> str:
        return f"Spalte '{self.header(measure)}'"

    def subgroup(self, sex: str | None, nationality: str | None) -> str:
        """'weiblich, ausländisch' in the file's own values; '' for the total."""
        words = []
        for code, dimension, german in (
            (sex, "sex", SEX_DE),
            (nationality, "nationality", NATIONALITY_DE),
        ):
            if code and code != "total":
                words.append(self.written(dimension, code) or german.get(code, code))
        return ", ".join(words)

    def written(self, dimension: str, code: str) -> str | None:
        mapping = self.source.measures
        if mapping is None:
            return None
        spec = getattr(mapping, dimension)
        return next((file for file, canonical in spec.values.items() if canonical == code), None)

    def cell(
        self,
        measure: str | None,
        region: str | None,
        school_year: str | None,
        sex: str | None = None,
        nationality: str | None = None,
    ) -> str:
        """ "Spalte 'ohne Hauptschulabschluss', Gelsenkirchen (05513000), 2022/23, weiblich"."""
        parts = [self.column(measure), region_de(region)]
        if school_year:
            parts.append(str(school_year))
        group = self.subgroup(sex, nationality)
        if group:
            parts.append(group)
        return ", ".join(parts)


def _template_matches(template: str, measure: str) -> bool:
    if "{" not in template:
        return False
    pattern = re.sub(r"\\\{[^}]*\\\}", ".+", re.escape(template))
    return re.fullmatch(pattern, measure) is not None


# What to do about a finding of each check, for the partner (German) and in English. Keys are
# the check names without their suite prefix (canonical_records_known_region_keys ->
# known_region_keys) or the cross checks' names.
TODO: dict[str, tuple[str, str]] = {
    "structure": (
        "Die Datei als CSV speichern, wie vereinbart (in Excel „CSV (Trennzeichen-getrennt)“ "
        "oder „CSV UTF-8“), und erneut prüfen.",
        "Save the file as CSV as agreed (in Excel 'CSV (Trennzeichen-getrennt)' or 'CSV UTF-8') "
        "and screen it again.",
    ),
    "structure:columns": (
        "Die Kopfzeile mit den vereinbarten Spaltennamen schreiben (siehe Meldung) und erneut "
        "prüfen.",
        "Write the header with the agreed column names (see the message) and screen it again.",
    ),
    "data_lines": (
        "Die Datenzeilen unter der Kopfzeile mitliefern.",
        "Include the data lines below the header.",
    ),
    "mapped_columns": ("", ""),
    "unused_column": (
        "Die Spalte löschen, oder mit der Geschäftsstelle klären, ob sie übernommen werden soll.",
        "Delete the column, or ask the backbone office whether it should be loaded.",
    ),
    "readable_cells": (
        "Die Zelle korrigieren: eine Zahl (Dezimalzeichen wie vereinbart, ohne "
        "Tausenderpunkte) oder ein statistisches Zeichen (. - x / ...).",
        "Correct the cell: a number (decimal separator as agreed, no thousands separators) "
        "or a statistical symbol (. - x / ...).",
    ),
    "known_region_keys": (
        "Den amtlichen Gemeindeschlüssel (8 Ziffern, mit führender Null) eintragen; in Excel "
        "die Spalte als Text formatieren.",
        "Enter the official 8-digit key with its leading zero; in Excel format the column as text.",
    ),
    "within_coverage": (
        "Nur Gebiete des vereinbarten Liefergebiets liefern, oder das Liefergebiet mit der "
        "Geschäftsstelle klären.",
        "Deliver only regions of the agreed coverage, or agree a wider one with the office.",
    ),
    "plausible_school_years": (
        "Das Schuljahr in der Form 2022/23 eintragen (kein künftiges Schuljahr).",
        "Write the school year as 2022/23 (not a future one).",
    ),
    "known_measures": (
        "Die Kopfzeile wie vereinbart schreiben.",
        "Write the header as agreed.",
    ),
    "canonical_sex": (
        "Nur die vereinbarten Werte für das Geschlecht verwenden.",
        "Use only the agreed values for sex.",
    ),
    "canonical_nationality": (
        "Nur die vereinbarten Werte für die Staatsangehörigkeit verwenden.",
        "Use only the agreed values for nationality.",
    ),
    "known_statuses": ("Die Zelle korrigieren.", "Correct the cell."),
    "numeric_values": ("Die Zelle korrigieren.", "Correct the cell."),
    "non_negative_counts": (
        "Die Anzahl korrigieren; einen geheim gehaltenen Wert mit „.“ kennzeichnen, nicht "
        "mit einer negativen Zahl.",
        "Correct the count; mark a suppressed value with '.', not with a negative number.",
    ),
    "rates_within_0_100": (
        "Den Anteil in Prozent (0 bis 100) angeben.",
        "Give the share in per cent (0 to 100).",
    ),
    "delivered_rate_within_0_100": (
        "Den Anteil in Prozent (0 bis 100) angeben.",
        "Give the share in per cent (0 to 100).",
    ),
    "unique_keys": (
        "Die doppelte Zeile löschen (jedes Gebiet, Schuljahr und jede Untergruppe nur einmal).",
        "Delete the repeated line (each region, school year and subgroup once).",
    ),
    "numerator_le_denominator": (
        "Die beiden Werte der Zeile prüfen: der Teil kann nicht größer sein als die Gesamtzahl.",
        "Check both values of the line: the part cannot exceed the total.",
    ),
    "plausible": (
        "Den Wert prüfen und korrigieren (Tippfehler, falsche Einheit?).",
        "Check and correct the value (a typo, the wrong unit?).",
    ),
    "school_number_format": (
        "Die sechsstellige Schulnummer eintragen (mit führender Null).",
        "Enter the six-digit school number (with its leading zero).",
    ),
    "unique_school_number": (
        "Jede Schule nur einmal liefern.",
        "Deliver each school once.",
    ),
    "school_form_present": ("Den Schulformschlüssel eintragen.", "Enter the school form key."),
    "social_index_range": (
        "Die Sozialindexstufe 1 bis 9 oder 'ohne' eintragen.",
        "Enter a social index level 1 to 9 or 'ohne'.",
    ),
    "year_over_year": (
        "Die Werte prüfen; sind sie richtig, der Geschäftsstelle den Grund des Sprungs nennen.",
        "Check the values; if they are right, tell the office why they jump.",
    ),
    "completeness": (
        "Die fehlenden Gebiete und Schuljahre nachliefern, oder der Geschäftsstelle sagen, "
        "warum sie fehlen.",
        "Deliver the missing regions and school years, or tell the office why they are missing.",
    ),
    "level_consistency": (
        "Die Werte prüfen: die Gemeinden eines Kreises sollen zusammen den Kreiswert ergeben.",
        "Check the values: a Kreis's municipalities should add up to its figure.",
    ),
    "subgroups": (
        "Die Werte prüfen: weiblich und männlich (deutsch und ausländisch) sollen zusammen "
        "„insgesamt“ ergeben.",
        "Check the values: female and male (german and foreign) should add up to the total.",
    ),
    "revisions": (
        "Wenn die Änderung gewollt ist (Korrektur), der Geschäftsstelle Bescheid geben; sonst "
        "die früher gelieferten Werte übernehmen.",
        "If the change is intended (a correction), tell the office; otherwise keep the values "
        "delivered before.",
    ),
    "source_conflicts": (
        "Mit der Geschäftsstelle klären, welche Angabe gilt.",
        "Agree with the office which figure is right.",
    ),
}


def todo(check: str) -> tuple[str, str]:
    """(German, English) advice for a check name (suite prefixes ignored; the structure check
    as `structure:<stage>`)."""
    if check.startswith("structure:"):
        return TODO.get(check, TODO["structure"])
    for key in sorted(TODO, key=len, reverse=True):
        if check == key or check.endswith("_" + key):
            return TODO[key]
    if "plausible" in check:
        return TODO["plausible"]
    if "numerator_le_denominator" in check:
        return TODO["numerator_le_denominator"]
    return ("Die genannten Zellen prüfen und korrigieren.", "Check and correct the cells named.")


class _GermanNumber(float):
    """A number that formats itself with a decimal comma (`{value:g}` -> '6,4')."""

    def __format__(self, spec: str) -> str:
        text = float.__format__(self, spec)
        return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")

    def __str__(self) -> str:
        return number_de(float(self))


def in_partner_words(words: PartnerWords, row: dict) -> dict:
    """A record's template fields in the partner's words: the measure as its column header,
    subgroups as the file writes them, numbers with a decimal comma."""
    german = dict(row)
    if "measure" in german:
        german["measure"] = words.header(german["measure"])
    for dimension, table in (("sex", SEX_DE), ("nationality", NATIONALITY_DE)):
        code = german.get(dimension)
        if isinstance(code, str):
            german[dimension] = words.written(dimension, code) or table.get(code, code)
    for key, value in german.items():
        if isinstance(value, float) and not math.isnan(value) and not isinstance(value, bool):
            german[key] = _GermanNumber(value)
    return german


# the cross checks: (headline in English, in German, German when nothing is found)
CROSS_TITLES = {
    "year_over_year": (
        "jumps against the year before",
        "Sprünge gegenüber dem Vorjahr",
        "keine Sprünge gegenüber dem Vorjahr",
    ),
    "completeness": (
        "missing regions or school years",
        "fehlende Gebiete oder Schuljahre",
        "keine fehlenden Gebiete oder Schuljahre",
    ),
    "level_consistency": (
        "totals that are not the sum of their parts",
        "Summen, die von der Summe ihrer Teilgebiete abweichen",
        "keine Summen, die von der Summe ihrer Teilgebiete abweichen",
    ),
    "subgroups": (
        "totals that differ from their subgroups",
        "Gesamtwerte, die von der Summe ihrer Untergruppen abweichen",
        "keine Gesamtwerte, die von der Summe ihrer Untergruppen abweichen",
    ),
    "revisions": (
        "values changed against earlier deliveries",
        "Werte, die eine frühere Lieferung anders angab",
        "keine gegenüber früheren Lieferungen geänderten Werte",
    ),
    "source_conflicts": (
        "figures another source states differently",
        "Werte, die eine andere Quelle anders angibt",
        "keine Werte, die eine andere Quelle anders angibt",
    ),
}


def change_de(value: float, before: float) -> str:
    """'+12 %', '−5 %'; 'vorher 0' when there is no base."""
    if not before:
        return "vorher 0"
    pct = (value - before) / abs(before) * 100
    sign = "+" if pct >= 0 else "−"
    return f"{sign}{number_de(abs(pct), 0)} %"


def cross_finding_de(words: PartnerWords, check: str, row: dict, message: str) -> str:
    """A cross check's finding in the partner's words (`row`: the finding's columns;
    `message`: the English one, for the subgroups it compares)."""
    line = row.get("source_line")
    where = words.header(row.get("measure"))
    context = [region_de(row.get("region_code")).replace(" (", " ").rstrip(")")]
    if row.get("school_year"):
        context.append(str(row["school_year"]))
    group = words.subgroup(row.get("sex"), row.get("nationality"))
    if group:
        context.append(group)
    at = (f"Zeile {line}, " if line is not None else "") + f"Spalte {where!r}"
    at += f" ({', '.join(context)})"
    value, reference = row.get("value"), row.get("reference")
    shown = number_de(value) if value is not None else "kein Wert"
    if check == "year_over_year":
        return f"{at}: {shown}, im Vorjahr {number_de(reference)} ({change_de(value, reference)})"
    if check == "completeness":
        return f"{at}: fehlt"
    if check == "level_consistency":
        tolerance = row.get("tolerance")
        allowed = f", erlaubt ±{number_de(tolerance)}" if tolerance and tolerance > 1e-3 else ""
        return (
            f"{at}: geliefert {shown}, die Teilgebiete ergeben zusammen {number_de(reference)} "
            f"(Differenz {number_de((value or 0) - (reference or 0))}{allowed})"
        )
    if check == "subgroups":
        by_sex = "female + male" in message
        parts = " + ".join(
            words.written("sex" if by_sex else "nationality", code) or table[code]
            for code, table in (
                (("female", SEX_DE), ("male", SEX_DE))
                if by_sex
                else (("german", NATIONALITY_DE), ("foreign", NATIONALITY_DE))
            )
        )
        return f"{at}: insgesamt {shown}, aber {parts} = {number_de(reference)}"
    if check == "revisions":
        before = number_de(reference) if reference is not None else "kein Wert"
        return f"{at}: jetzt {shown}, in einer früheren Lieferung {before}"
    if check == "source_conflicts":
        other = number_de(reference) if reference is not None else "kein Wert"
        return f"{at}: hier {shown}, eine andere Quelle gibt {other} an"
    return f"{at}: {shown}"


# headlines of the file and column checks when they flag something: (English, German)
CHECK_TITLES = {
    "structure": ("the file cannot be read as agreed", "die Datei ist so nicht lesbar"),
    "structure:columns": (
        "the header does not fit the columns agreed",
        "die Kopfzeile passt nicht zu den vereinbarten Spalten",
    ),
    "data_lines": ("the file has no data lines", "die Datei hat keine Datenzeilen"),
    "unused_column": (
        "columns the source does not use",
        "Spalten, die für diese Quelle nicht vereinbart sind",
    ),
}
