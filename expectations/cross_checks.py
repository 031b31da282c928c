"""Checks across time, levels, subgroups and deliveries — what no single record can show.

    year_over_year      a value jumped against the school year before (with both values)
    completeness        a region or school year the source covers is missing
    level_consistency   municipalities do not add up to their Kreis (within declared rounding)
    subgroups           female + male or german + foreign do not add up to the total
    revisions           a new delivery changes values an earlier delivery loaded (old and new)

They work on canonical records (DataFrames with measure, region_code, school_year,
start_year, sex, nationality, value, status, …) so that the pipeline (after staging a source)
and the delivery screener (before anything is loaded) run the very same checks. Findings are
WARNINGs: the data loads; quality.findings and the asset check say what to look at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from schemas.catalogue import load_catalogue
from schemas.regions import load_regions
from schemas.tables import FINDING_COLUMNS, NUMERIC_STATUSES
from sources.registry import Source

QUALITY_YAML = Path(__file__).resolve().parent / "quality.yaml"
CHECKS = ("year_over_year", "completeness", "level_consistency", "subgroups", "revisions")
KEY = ["measure", "region_code", "school_year", "start_year", "sex", "nationality"]
LEVEL_RANK = {"bund": 0, "land": 1, "regierungsbezirk": 2, "kreis": 3, "gemeinde": 4}

FINDING_NAMES = [c.name for c in FINDING_COLUMNS]


@dataclass
class CrossCheck:
    name: str
    outcome: str  # PASS | WARNING
    message: str
    message_de: str
    findings: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=FINDING_NAMES))

    @property
    def passed(self) -> bool:
        return self.outcome == "PASS"


@cache
def _defaults() -> dict[str, Any]:
    return yaml.safe_load(QUALITY_YAML.read_text(encoding="utf-8"))


def settings(source: Source) -> dict[str, Any]:
    """The quality.yaml defaults with the source's own `quality:` overrides."""
    merged = {k: (dict(v) if isinstance(v, dict) else v) for k, v in _defaults().items()}
    for key, value in (source.quality or {}).items():
        if isinstance(value, bool) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], "enabled": value}
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _enabled(config: dict[str, Any], name: str) -> bool:
    return bool(config.get(name, {}).get("enabled", True))


def _numeric(records: pd.DataFrame, additive: bool = False) -> pd.DataFrame:
    """Records with a usable number; `additive`: only counts and hours (rates do not add up)."""
    keep = records["status"].isin(NUMERIC_STATUSES) & records["value"].notna()
    keep &= records["measure"].notna() & records["region_code"].notna()
    if additive:
        keep &= records["measure"].isin(_additive_measures())
    return records.loc[keep]


@cache
def _additive_measures() -> frozenset[str]:
    return frozenset(m.id for m in load_catalogue().measures.values() if m.unit != "percent")


def _tolerance(rounding: int | None, parts: int) -> float:
    """Rounding each of n parts and their total to a multiple of r moves the difference by at
    most r/2 × (n + 1); without declared rounding only floating-point noise is allowed."""
    return rounding / 2 * (parts + 1) if rounding else 1e-6


def _finding(check: str, source_id: str, row: dict[str, Any], message: str, message_de: str):
    return {
        "run_id": None,
        "source_id": source_id,
        "delivery_id": row.get("delivery_id"),
        "check_name": check,
        "measure": row.get("measure"),
        "region_code": row.get("region_code"),
        "school_year": row.get("school_year"),
        "sex": row.get("sex"),
        "nationality": row.get("nationality"),
        "value": row.get("value"),
        "reference": row.get("reference"),
        "tolerance": row.get("tolerance"),
        "source_line": row.get("source_line"),
        "message": message,
        "message_de": message_de,
    }


def _result(name: str, rows: list[dict], what_en: str, what_de: str, examples: int) -> CrossCheck:
    findings = pd.DataFrame(rows, columns=FINDING_NAMES)
    if findings.empty:
        return CrossCheck(name, "PASS", f"no {what_en}", f"keine {what_de}", findings)
    shown = list(findings["message"].head(examples))
    shown_de = list(findings["message_de"].head(examples))
    more = f" (+{len(findings) - examples} more)" if len(findings) > examples else ""
    more_de = f" (+{len(findings) - examples} weitere)" if len(findings) > examples else ""
    return CrossCheck(
        name,
        "WARNING",
        f"{len(findings)} {what_en}: " + "; ".join(shown) + more,
        f"{len(findings)} {what_de}: " + "; ".join(shown_de) + more_de,
        findings,
    )


def _num(value: float) -> str:
    """12946 not 1.2946e+04; 6.4 stays 6.4."""
    return f"{value:,.0f}".replace(",", " ") if float(value).is_integer() else f"{value:g}"


def _label(row: dict[str, Any]) -> str:
    groups = [g for g in (row.get("sex"), row.get("nationality")) if g and g != "total"]
    suffix = f" ({', '.join(groups)})" if groups else ""
    return f"{row['measure']} {row['region_code']} {row['school_year']}{suffix}"


# --- year over year ----------------------------------------------------------------------------


def year_over_year(
    source: Source, new: pd.DataFrame, history: pd.DataFrame, config: dict[str, Any]
) -> CrossCheck:
    """New values against the same key one school year earlier (from the new records or the
    source's history)."""
    rule = config["year_over_year"]
    catalogue = load_catalogue()
    units = {m.id: m.unit for m in catalogue.measures.values()}
    measures = {m for m, unit in units.items() if unit in ("count", "hours")}
    if rule.get("measures", "indicators") == "indicators":
        used = {m for i in catalogue.rate_indicators() for m in (*i.numerator, *i.denominator)}
        measures &= used
    current = _numeric(new)
    current = current[current["measure"].isin(measures)]
    if current.empty:
        return _result("year_over_year", [], "jumps", "Sprünge", config["examples"])
    before = pd.concat([_numeric(history), _numeric(new)], ignore_index=True)
    before = before.drop_duplicates(subset=KEY, keep="last")
    # the value of the school year before, keyed by the following school year
    before = pd.DataFrame(
        {
            "measure": before["measure"],
            "region_code": before["region_code"],
            "start_year": before["start_year"].astype("int64") + 1,
            "sex": before["sex"],
            "nationality": before["nationality"],
            "reference": before["value"],
            "previous_year": before["school_year"],
        }
    )
    current = current.assign(start_year=current["start_year"].astype("int64"))
    joined = current.merge(
        before, on=["measure", "region_code", "start_year", "sex", "nationality"], how="inner"
    )
    change = (joined["value"] - joined["reference"]).abs()
    base = joined["reference"].abs()
    jump = (change >= float(rule["min_absolute"])) & (
        (base == 0) | (change / base.where(base > 0) > float(rule["relative"]))
    )
    rows = []
    for row in joined[jump].to_dict("records"):
        pct = (
            (row["value"] - row["reference"]) / row["reference"] * 100 if row["reference"] else None
        )
        change_text = f"{pct:+.0f} %" if pct is not None else "from 0"
        change_de = f"{pct:+.0f} %".replace(".", ",") if pct is not None else "von 0"
        rows.append(
            _finding(
                "year_over_year",
                source.id,
                row,
                f"{_label(row)}: {_num(row['reference'])} in {row['previous_year']} → "
                f"{_num(row['value'])} "
                f"({change_text})",
                f"{_label(row)}: {_num(row['reference'])} im Schuljahr {row['previous_year']} → "
                f"{_num(row['value'])} ({change_de})",
            )
        )
    return _result(
        "year_over_year",
        rows,
        "jumps against the year before",
        "Sprünge gegenüber dem Vorjahr",
        config["examples"],
    )


# --- completeness -------------------------------------------------------------------------------


@cache
def _region_tables() -> tuple[pd.DataFrame, dict[str, str], dict[str, set[str]]]:
    regions = load_regions()
    current = regions[regions["is_current"] & regions["level"].isin(list(LEVEL_RANK))]
    level = dict(zip(current["region_code"], current["level"], strict=True))
    # same territory: a Kreis with one Gemeinde (kreisfreie Stadt) and a Land with one Kreis
    # (Berlin, Hamburg) are the same region under two keys
    equivalents: dict[str, set[str]] = {}
    gemeinden = current[current["level"] == "gemeinde"]
    for kreis, group in gemeinden.groupby("kreis_code"):
        if len(group) == 1:
            (gemeinde,) = group["region_code"]
            equivalents.setdefault(gemeinde, set()).add(kreis)
            equivalents.setdefault(kreis, set()).add(gemeinde)
    kreise = current[current["level"] == "kreis"]
    for land, group in kreise.groupby("land_code"):
        if len(group) == 1:
            (kreis,) = group["region_code"]
            equivalents.setdefault(kreis, set()).add(land)
            equivalents.setdefault(land, set()).add(kreis)
    return current, level, equivalents


def _with_equivalents(codes: set[str]) -> set[str]:
    _, _, equivalents = _region_tables()
    return codes | {e for c in codes for e in equivalents.get(c, ())}


def _covered(coverage: str | None, level: str) -> set[str]:
    current, _, _ = _region_tables()
    at_level = current[current["level"] == level]
    if coverage == "RVR":
        return set(at_level.loc[at_level["in_ruhr"], "region_code"])
    prefix = "" if coverage in (None, "DG") else coverage
    return {c for c in at_level["region_code"] if c.startswith(prefix)}


def completeness(source: Source, new: pd.DataFrame, config: dict[str, Any]) -> CrossCheck:
    """Every region of the source's finest level inside its coverage, for every school year
    and measure the new records contain."""
    if not _enabled(config, "completeness") or new.empty:
        return _result("completeness", [], "gaps", "Lücken", config["examples"])
    records = new.dropna(subset=["measure", "region_code", "school_year"])
    present = _with_equivalents(set(records["region_code"].unique()))
    # the level the source covers: the finest one of which it delivers at least half the
    # regions (Regionalstatistik's Kreis table also lists a few cities under Gemeinde keys)
    finest = config["completeness"].get("level")
    if finest is None:
        claimed = [
            lv
            for lv in LEVEL_RANK
            if len(present & (covered := _covered(source.coverage, lv))) >= len(covered) / 2
            and covered
        ]
        if not claimed:
            return _result("completeness", [], "gaps", "Lücken", config["examples"])
        finest = max(claimed, key=lambda lv: LEVEL_RANK[lv])
    expected = _covered(source.coverage, finest)
    rows = []
    for (year, measure), group in records.groupby(["school_year", "measure"]):
        missing = sorted(expected - _with_equivalents(set(group["region_code"])))
        for code in missing:
            row = {"measure": measure, "region_code": code, "school_year": year}
            rows.append(
                _finding(
                    "completeness",
                    source.id,
                    row,
                    f"{measure} {year}: {code} is missing ({finest} level of coverage "
                    f"{source.coverage or 'DG'})",
                    f"{measure} {year}: {code} fehlt (Ebene {finest} im Abdeckungsgebiet "
                    f"{source.coverage or 'DG'})",
                )
            )
    return _result(
        "completeness", rows, "missing region-years", "fehlende Gebiete/Jahre", config["examples"]
    )


# --- levels and subgroups ---------------------------------------------------------------------


def level_consistency(source: Source, new: pd.DataFrame, config: dict[str, Any]) -> CrossCheck:
    """Parts delivered for all children of a region add up to the region's own figure."""
    if not _enabled(config, "level_consistency"):
        return _result("level_consistency", [], "differences", "Abweichungen", config["examples"])
    current, _, equivalents = _region_tables()
    records = _numeric(new, additive=True)
    if records.empty:
        return _result("level_consistency", [], "differences", "Abweichungen", config["examples"])
    # a kreisfreie Stadt's figure delivered under its Gemeinde key stands for its Kreis too
    present = set(records["region_code"].unique())
    pairs = [(code, other) for code in present & set(equivalents) for other in equivalents[code]]
    alias = pd.DataFrame(pairs, columns=["region_code", "alias"])
    copies = records.merge(alias, on="region_code").drop(columns="region_code")
    copies = copies.rename(columns={"alias": "region_code"})
    values = pd.concat([records, copies], ignore_index=True).drop_duplicates(subset=KEY)
    parent_of = dict(zip(current["region_code"], current["parent_code"], strict=True))
    level_of = dict(zip(current["region_code"], current["level"], strict=True))
    values = values.assign(
        parent=values["region_code"].map(parent_of), level=values["region_code"].map(level_of)
    )
    children_count = current.groupby(["parent_code", "level"]).size()
    group_key = ["measure", "school_year", "start_year", "sex", "nationality", "parent", "level"]
    sums = (
        values.dropna(subset=["parent"])
        .groupby(group_key)
        .agg(total=("value", "sum"), parts=("value", "size"))
        .reset_index()
    )
    sums["needed"] = [
        children_count.get((p, lv), 0) for p, lv in zip(sums["parent"], sums["level"], strict=True)
    ]
    sums = sums[sums["parts"] == sums["needed"]]
    delivered = values.drop(columns=["parent", "level"]).rename(
        columns={"region_code": "parent", "value": "delivered"}
    )
    joined = sums.merge(
        delivered[
            ["measure", "school_year", "sex", "nationality", "parent", "delivered", "source_line"]
        ],
        on=["measure", "school_year", "sex", "nationality", "parent"],
    )
    joined["tolerance"] = [_tolerance(source.rounding, n) for n in joined["parts"]]
    off = joined[(joined["total"] - joined["delivered"]).abs() > joined["tolerance"]]
    rows = []
    for row in off.to_dict("records"):
        row = {
            **row,
            "region_code": row["parent"],
            "value": row["delivered"],
            "reference": row["total"],
        }
        diff = row["delivered"] - row["total"]
        signed = ("+" if diff >= 0 else "-") + _num(abs(diff))
        rows.append(
            _finding(
                "level_consistency",
                source.id,
                row,
                f"{_label(row)}: delivered {_num(row['delivered'])}, its {row['parts']} "
                f"{row['level']} parts add up to {_num(row['total'])} (difference {signed}, "
                f"allowed ±{row['tolerance']:g})",
                f"{_label(row)}: geliefert {_num(row['delivered'])}, die {row['parts']} Teile "
                f"(Ebene {row['level']}) ergeben {_num(row['total'])} (Differenz {signed}, "
                f"erlaubt ±{row['tolerance']:g})",
            )
        )
    return _result(
        "level_consistency",
        rows,
        "totals that are not the sum of their parts",
        "Summen, die nicht die Summe ihrer Teile sind",
        config["examples"],
    )


def subgroups(source: Source, new: pd.DataFrame, config: dict[str, Any]) -> CrossCheck:
    """female + male = total (per nationality) and german + foreign = total (per sex)."""
    if not _enabled(config, "subgroups"):
        return _result("subgroups", [], "differences", "Abweichungen", config["examples"])
    records = _numeric(new, additive=True)
    rows = []
    for dimension, parts in (("sex", ("female", "male")), ("nationality", ("german", "foreign"))):
        other = "nationality" if dimension == "sex" else "sex"
        base = ["measure", "region_code", "school_year", other]
        pieces = records[records[dimension].isin(parts)]
        sums = pieces.groupby(base).agg(total=("value", "sum"), n=("value", "size")).reset_index()
        sums = sums[sums["n"] == 2]
        totals = records[records[dimension] == "total"][[*base, dimension, "value", "source_line"]]
        joined = sums.merge(totals, on=base)
        tolerance = _tolerance(source.rounding, 2)
        for row in joined[(joined["total"] - joined["value"]).abs() > tolerance].to_dict("records"):
            row = {**row, "reference": row["total"], "tolerance": tolerance}
            a, b = parts
            rows.append(
                _finding(
                    "subgroups",
                    source.id,
                    row,
                    f"{_label(row)}: total {_num(row['value'])} but {a} + {b} = "
                    f"{_num(row['total'])}",
                    f"{_label(row)}: insgesamt {_num(row['value'])}, aber {a} + {b} = "
                    f"{_num(row['total'])}",
                )
            )
    return _result(
        "subgroups",
        rows,
        "totals that differ from their subgroups",
        "Gesamtwerte, die von ihren Untergruppen abweichen",
        config["examples"],
    )


# --- revisions ----------------------------------------------------------------------------------


def revisions(
    source: Source, new: pd.DataFrame, previous: pd.DataFrame, config: dict[str, Any]
) -> CrossCheck:
    """Values of `new` that differ from what an earlier delivery stated (`previous`: the
    current values before the new deliveries, with their file_name)."""
    if not _enabled(config, "revisions") or previous.empty or new.empty:
        return _result("revisions", [], "revised values", "geänderten Werte", config["examples"])
    old = previous.rename(
        columns={"value": "reference", "status": "old_status", "file_name": "old_file"}
    )
    joined = new.merge(old[[*KEY, "reference", "old_status", "old_file"]], on=KEY, how="inner")
    changed = (
        (joined["status"] != joined["old_status"])
        | ((joined["value"] - joined["reference"]).abs().fillna(0) > 1e-9)
        | (joined["value"].isna() != joined["reference"].isna())
    )
    rows = []
    for row in joined[changed].to_dict("records"):
        old_text = _value_text(row["reference"], row["old_status"])
        new_text = _value_text(row["value"], row["status"])
        rows.append(
            _finding(
                "revisions",
                source.id,
                row,
                f"{_label(row)}: {old_text} (from {row['old_file']}) → {new_text}",
                f"{_label(row)}: {old_text} (aus {row['old_file']}) → {new_text}",
            )
        )
    return _result(
        "revisions",
        rows,
        "values changed against earlier deliveries",
        "Werte gegenüber früheren Lieferungen geändert",
        config["examples"],
    )


def _value_text(value: float | None, status: str | None) -> str:
    if value is None or pd.isna(value):
        return f"({status})"
    return _num(value) + ("" if status == "ok" else f" {status}")


def run_all(
    source: Source, new: pd.DataFrame, history: pd.DataFrame, previous: pd.DataFrame
) -> list[CrossCheck]:
    """All five checks for the new records of one source."""
    config = settings(source)
    return [
        year_over_year(source, new, history, config),
        completeness(source, new, config),
        level_consistency(source, new, config),
        subgroups(source, new, config),
        revisions(source, new, previous, config),
    ]
