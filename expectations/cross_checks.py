"""Checks across time, levels, subgroups and deliveries — what no single record can show.

    year_over_year      a value jumped against the school year before (with both values)
    completeness        a region or school year the source covers is missing
    level_consistency   municipalities do not add up to their Kreis (within declared rounding)
    subgroups           female + male or german + foreign do not add up to the total
    revisions           a new delivery changes values an earlier delivery loaded (old and new)
    source_conflicts    another source delivers the same figure with another value (both
                        sources and values, and which one is current by precedence)

They run as SQL over relations of canonical records (measure, region_code, school_year,
start_year, sex, nationality, value, status, source_line, delivery_id; `previous` also
file_name; `others` the other sources' current values with source_id, standing, rank and
file_name), so that the pipeline (after staging a source, over the warehouse's tables) and the
delivery screener (before anything is loaded, over the file's records) run the very same
checks. Each check leaves its findings in a temporary table with the columns of
quality.findings. Findings are WARNINGs: the data loads; quality.findings and the asset check
say what to look at.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, wraps
from pathlib import Path
from typing import Any

import duckdb
import yaml

from expectations.partner_words import CROSS_TITLES
from expectations.rules import literal
from schemas.catalogue import load_catalogue
from schemas.regions import in_force, regions_relation
from schemas.tables import FINDING_COLUMNS, NUMERIC_STATUSES
from sources.registry import Source
from sources.scratch import drop, temp_name

QUALITY_YAML = Path(__file__).resolve().parent / "quality.yaml"
CHECKS = (
    "year_over_year",
    "completeness",
    "level_consistency",
    "subgroups",
    "revisions",
    "source_conflicts",
)
STANDINGS_DE = {"official": "amtlich", "partner": "Partnerlieferung", "synthetic": "synthetisch"}
#: the columns of the other sources' values that source_conflicts compares against
OTHER_VALUE_COLUMNS = (
    "measure VARCHAR, region_code VARCHAR, school_year VARCHAR, start_year INTEGER, "
    "sex VARCHAR, nationality VARCHAR, value DOUBLE, status VARCHAR, source_id VARCHAR, "
    "standing VARCHAR, rank INTEGER, file_name VARCHAR"
)
KEY = ["measure", "region_code", "school_year", "start_year", "sex", "nationality"]
LEVEL_RANK = {"bund": 0, "land": 1, "regierungsbezirk": 2, "kreis": 3, "gemeinde": 4}
FINDING_NAMES = [c.name for c in FINDING_COLUMNS]


@dataclass
class CrossCheck:
    name: str
    outcome: str  # PASS | WARNING
    message: str
    message_de: str
    findings: str  # temp table: the columns of quality.findings, plus `ord` (their order)
    count: int = 0

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


def _tolerance(rounding: int | None, parts: str) -> str:
    """Rounding each of n parts and their total to a multiple of r moves the difference by at
    most r/2 × (n + 1); without declared rounding only floating-point noise is allowed."""
    return f"({rounding} / 2 * ({parts} + 1))" if rounding else "1e-6"


# --- numbers and labels as the messages write them ----------------------------------------------


def _num(v: str) -> str:
    """SQL for Python's 12946 → '12 946', 6.4 → '6.4' (f"{v:,.0f}" with spaces, or f"{v:g}")."""
    return (
        f"CASE WHEN {v} = trunc({v}) THEN replace(format('{{:,.0f}}', {v}), ',', ' ') "
        f"ELSE format('{{:g}}', {v}) END"
    )


def _label(alias: str = "") -> str:
    """'leavers_total 05513000 2022/23 (female, foreign)' — subgroups other than total."""
    p = f"{alias}." if alias else ""
    groups = f"list_filter([{p}sex, {p}nationality], lambda g: g IS NOT NULL AND g <> 'total')"
    return (
        f"{p}measure || ' ' || {p}region_code || ' ' || {p}school_year || "
        f"CASE WHEN len({groups}) > 0 THEN ' (' || array_to_string({groups}, ', ') || ')' "
        "ELSE '' END"
    )


def _value_text(value: str, status: str) -> str:
    return (
        f"CASE WHEN {value} IS NULL THEN '(' || {status} || ')' "
        f"ELSE {_num(value)} || CASE WHEN {status} = 'ok' THEN '' ELSE ' ' || {status} END END"
    )


# `n` and `o` state the same key, with another value or status (revisions, source_conflicts)
_SAME_KEY_OTHER_VALUE = """ON o.measure = n.measure AND o.region_code = n.region_code
         AND o.school_year = n.school_year AND o.start_year = n.start_year
         AND o.sex = n.sex AND o.nationality = n.nationality
        WHERE n.status IS DISTINCT FROM o.status
           OR coalesce(abs(n.value - o.value), 0) > 1e-9
           OR (n.value IS NULL) <> (o.value IS NULL)"""


def _numeric(relation: str, additive: bool = False) -> str:
    """SQL: the records with a usable number; `additive`: only counts and hours."""
    statuses = ", ".join(literal(s) for s in NUMERIC_STATUSES)
    where = (
        f"status IN ({statuses}) AND value IS NOT NULL AND measure IS NOT NULL "
        "AND region_code IS NOT NULL"
    )
    if additive:
        measures = ", ".join(literal(m) for m in sorted(_additive_measures())) or "NULL"
        where += f" AND measure IN ({measures})"
    return f"(SELECT * FROM {relation} WHERE {where})"


@cache
def _additive_measures() -> frozenset[str]:
    return frozenset(m.id for m in load_catalogue().measures.values() if m.unit != "percent")


def _columns(conn: duckdb.DuckDBPyConnection, relation: str) -> set[str]:
    return {name for name, *_ in conn.execute(f"DESCRIBE {relation}").fetchall()}


def _col(available: set[str], column: str, alias: str = "") -> str:
    """A column of a relation that may not have it (the screener's records: no delivery)."""
    return f"{alias + '.' if alias else ''}{column}" if column in available else "NULL"


def _findings(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    source: Source,
    select: str | None,
    what_en: str,
    what_de: str,
    examples: int,
) -> CrossCheck:
    """Store `select` (a query with the finding columns and `ord`) as the check's findings."""
    table = temp_name(f"findings_{name}")
    columns = ", ".join(f"{c.name} {c.type}" for c in FINDING_COLUMNS)
    conn.execute(f"CREATE OR REPLACE TEMP TABLE {table} ({columns}, ord BIGINT)")
    count = 0
    if select is not None:  # an INSERT answers with the number of rows it inserted
        count = conn.execute(f"INSERT INTO {table} BY NAME {select}").fetchone()[0]
    if name in CROSS_TITLES:  # the German forms, declined right ("keine fehlenden …")
        _, what_de, none_de = CROSS_TITLES[name]
    else:
        none_de = f"keine {what_de}"
    if not count:
        return CrossCheck(name, "PASS", f"no {what_en}", none_de, table)
    shown = conn.execute(
        f"SELECT message, message_de FROM {table} ORDER BY ord LIMIT {int(examples)}"
    ).fetchall()
    more = f" (+{count - examples} more)" if count > examples else ""
    more_de = f" (+{count - examples} weitere)" if count > examples else ""
    return CrossCheck(
        name,
        "WARNING",
        f"{count} {what_en}: " + "; ".join(m for m, _ in shown) + more,
        f"{what_de}: {count:,}".replace(",", ".")
        + " – "
        + "; ".join(m for _, m in shown)
        + more_de,
        table,
        count,
    )


def _finding_select(
    source: Source, check: str, alias: str, available: set[str], **parts: str
) -> str:
    """The finding columns from a row aliased `alias`; `parts` override (SQL expressions)."""
    defaults = {
        "run_id": "NULL",
        "source_id": literal(source.id),
        "delivery_id": _col(available, "delivery_id", alias),
        "check_name": literal(check),
        "measure": f"{alias}.measure",
        "region_code": f"{alias}.region_code",
        "school_year": f"{alias}.school_year",
        "sex": f"{alias}.sex",
        "nationality": f"{alias}.nationality",
        "value": f"{alias}.value",
        "reference": "NULL",
        "tolerance": "NULL",
        "source_line": _col(available, "source_line", alias),
    }
    defaults.update(parts)
    return ", ".join(f"{expr} AS {name}" for name, expr in defaults.items())


_ORDER = "measure, region_code, school_year, sex, nationality"


# --- year over year ----------------------------------------------------------------------------


def year_over_year(
    conn: duckdb.DuckDBPyConnection,
    source: Source,
    new: str,
    history: str,
    config: dict[str, Any],
) -> CrossCheck:
    """New values against the same key one school year earlier (from the new records or the
    source's history)."""
    rule = config["year_over_year"]
    catalogue = load_catalogue()
    measures = {m.id for m in catalogue.measures.values() if m.unit in ("count", "hours")}
    if rule.get("measures", "indicators") == "indicators":
        used = {m for i in catalogue.rate_indicators() for m in (*i.numerator, *i.denominator)}
        measures &= used
    listed = ", ".join(literal(m) for m in sorted(measures)) or "NULL"
    available = _columns(conn, new)
    label = _label("c")
    pct = "((c.value - b.value) / b.value * 100)"
    change_en = f"CASE WHEN b.value <> 0 THEN format('{{:+.0f}} %', {pct}) ELSE 'from 0' END"
    change_de = f"CASE WHEN b.value <> 0 THEN format('{{:+.0f}} %', {pct}) ELSE 'von 0' END"

    def jump(c: str, b: str) -> str:
        change = f"abs({c}.value - {b}.value)"
        return (
            f"{change} >= {float(rule['min_absolute'])} AND (abs({b}.value) = 0 "
            f"OR {change} / abs({b}.value) > {float(rule['relative'])})"
        )

    key = "hash({a}.measure, {a}.region_code, {a}.sex, {a}.nationality)"
    # the source's earlier values, where this run did not state the key again; a source's
    # first delivery has none (and DuckDB would still build the anti join's hash table of
    # every new value: 2 s at national scale)
    earlier = f"""
            UNION ALL
            SELECT h.measure, h.region_code, h.start_year, h.sex, h.nationality, h.value,
                h.school_year
            FROM {_numeric(history)} h
            WHERE h.measure IN ({listed})
              AND NOT EXISTS (SELECT 1 FROM new_numeric n WHERE n.measure = h.measure
                AND n.region_code = h.region_code AND n.school_year = h.school_year
                AND n.start_year = h.start_year AND n.sex = h.sex
                AND n.nationality = h.nationality)"""
    if conn.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {history})").fetchone()[0]:
        earlier = ""
    select = f"""
        WITH new_numeric AS NOT MATERIALIZED {_numeric(new)},
        current AS NOT MATERIALIZED (SELECT * FROM new_numeric WHERE measure IN ({listed})),
        before AS NOT MATERIALIZED (
            SELECT measure, region_code, start_year, sex, nationality, value, school_year
            FROM current{earlier}
        ),
        -- the jumps, found by joining on one 64-bit hash of the key (on the four text
        -- columns, at national scale, the join cost five times as much); the rows of the
        -- few jumps are then matched on the key itself, which also rules out a collision
        jumps AS (
            SELECT c.k, c.start_year
            FROM (SELECT {key.format(a="x")} AS k, start_year, value FROM current x) c
            JOIN (SELECT {key.format(a="x")} AS k, start_year, value FROM before x) b
              ON b.k = c.k AND b.start_year + 1 = c.start_year
            WHERE {jump("c", "b")}
        ),
        jumped AS (
            SELECT * FROM current x
            SEMI JOIN jumps j ON j.k = {key.format(a="x")} AND j.start_year = x.start_year
        ),
        jumped_from AS (
            SELECT * FROM before x
            SEMI JOIN jumps j ON j.k = {key.format(a="x")} AND j.start_year = x.start_year + 1
        )
        SELECT {_finding_select(source, "year_over_year", "c", available,
                                reference="b.value")},
            {label} || ': ' || {_num("b.value")} || ' in ' || b.school_year || ' → '
                || {_num("c.value")} || ' (' || {change_en} || ')' AS message,
            {label} || ': ' || {_num("b.value")} || ' im Schuljahr ' || b.school_year || ' → '
                || {_num("c.value")} || ' (' || {change_de} || ')' AS message_de,
            row_number() OVER (ORDER BY c.measure, c.region_code, c.school_year, c.sex,
                c.nationality) AS ord
        FROM jumped c JOIN jumped_from b
          ON b.measure = c.measure AND b.region_code = c.region_code
         AND b.start_year + 1 = c.start_year AND b.sex = c.sex
         AND b.nationality = c.nationality
        WHERE {jump("c", "b")}
    """  # fmt: skip
    return _findings(
        conn,
        "year_over_year",
        source,
        select,
        "jumps against the year before",
        "Sprünge gegenüber dem Vorjahr",
        config["examples"],
    )


# --- completeness -------------------------------------------------------------------------------


@dataclass
class Places:
    """The regions the checks of one delivery join, per school year of the delivery, as
    temporary tables: `regions` (start_year, region_code, level, parent_code, kreis_code,
    land_code, in_ruhr, whole_year: the keys of the five levels in force on some day of the
    school year; whole_year: on all of them) and `equivalents` (start_year, code, other: the
    same territory under two keys — a Kreis with one Gemeinde, a kreisfreie Stadt, and a
    Land with one Kreis, Berlin and Hamburg)."""

    regions: str
    equivalents: str

    def drop(self, conn: duckdb.DuckDBPyConnection) -> None:
        drop(conn, self.regions, self.equivalents)


def places(conn: duckdb.DuckDBPyConnection, source: Source, new: str) -> Places:
    """The Places of `new`, for each school year it has: the territory of that year
    (schemas/territory.yaml), or today's for every year when the source recalculates its
    series on today's territory (registry: `territory: today`). Only the regions of the
    Länder `new` has keys of and of its coverage's, and every Land and the Bund (the Bund's
    parts): the checks never look further — a Gemeinde's Kreis, a Kreis's Land, a kreisfreie
    Stadt's two keys share the Land's two digits — so a Land's delivery does not join all of
    Germany's 11,000 Gemeinden for each of its years."""
    regions = regions_relation(conn)
    table, equivalents = temp_name("places"), temp_name("equivalents")
    levels = ", ".join(literal(level) for level in LEVEL_RANK)
    first, last = "make_date(y.start_year, 8, 1)", "make_date(y.start_year + 1, 7, 31)"
    if source.territory == "today":
        valid, whole_year = "r.is_current", "true"
    else:
        valid = in_force(first, last, "r")
        whole_year = f"{in_force(first, first, 'r')} AND {in_force(last, last, 'r')}"
    lands = ""
    if source.coverage not in (None, "DG"):  # all of Germany: every Land (no scan of `new`)
        lands = (
            f"AND (level IN ('bund', 'land') "
            f"OR left(region_code, 2) IN (SELECT DISTINCT left(region_code, 2) FROM {new} "
            f"UNION SELECT left(region_code, 2) FROM {regions} WHERE {_inside(source.coverage)}))"
        )
    # the Länder first, then their keys of each year (not every key of Germany for each year)
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT y.start_year, r.region_code, r.level, "
        f"r.parent_code, r.kreis_code, r.land_code, r.in_ruhr, {whole_year} AS whole_year "
        f"FROM (SELECT DISTINCT start_year FROM {new} WHERE start_year IS NOT NULL) y "
        f"JOIN (SELECT * FROM {regions} WHERE level IN ({levels}) {lands}) r ON {valid}"
    )
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE {equivalents} AS
        WITH kreisfrei AS (SELECT start_year, kreis_code, min(region_code) AS gemeinde
                           FROM {table} WHERE level = 'gemeinde'
                           GROUP BY start_year, kreis_code HAVING count(*) = 1),
        one_kreis AS (SELECT start_year, land_code, min(region_code) AS kreis FROM {table}
                      WHERE level = 'kreis' GROUP BY start_year, land_code HAVING count(*) = 1)
        SELECT start_year, gemeinde AS code, kreis_code AS other FROM kreisfrei
        UNION ALL SELECT start_year, kreis_code, gemeinde FROM kreisfrei
        UNION ALL SELECT start_year, kreis, land_code FROM one_kreis
        UNION ALL SELECT start_year, land_code, kreis FROM one_kreis"""
    )
    return Places(table, equivalents)


def _placing(check: Callable[..., CrossCheck]) -> Callable[..., CrossCheck]:
    """A check that places regions takes run_all's Places (`located`); called on its own, it
    makes the Places of its records for the one call and drops them after."""

    @wraps(check)
    def placed(conn, source, new, *args, located: Places | None = None) -> CrossCheck:
        if located is not None:
            return check(conn, source, new, *args, located=located)
        own = places(conn, source, new)
        try:
            return check(conn, source, new, *args, located=own)
        finally:
            own.drop(conn)

    return placed


def _inside(coverage: str | None) -> str:
    """SQL: a region inside a coverage (RVR, a key prefix, DG)."""
    if coverage == "RVR":
        return "in_ruhr"
    if coverage not in (None, "DG"):
        return f"starts_with(region_code, {literal(coverage)})"
    return "true"


def _covered(regions: str, coverage: str | None, level: str) -> str:
    """SQL (start_year, region_code): the regions of `level` inside a coverage that are in
    force all through each school year (`regions`: Places) — a key that begins or ends
    within a school year is welcome in it, but not required."""
    return (
        f"(SELECT start_year, region_code FROM {regions} WHERE whole_year "
        f"AND {_inside(coverage)} AND level = {literal(level)})"
    )


@_placing
def completeness(
    conn: duckdb.DuckDBPyConnection,
    source: Source,
    new: str,
    config: dict[str, Any],
    *,
    located: Places,
) -> CrossCheck:
    """Every region of the source's finest level inside its coverage, for every school year
    and measure the new records contain (`located`: the Places of `new`)."""
    args = ("gaps", "Lücken", config["examples"])
    if not _enabled(config, "completeness"):
        return _findings(conn, "completeness", source, None, *args)
    regions, equivalents = located.regions, located.equivalents
    # the delivered keys, read once: every question below is about them (at national scale
    # a million keys of five million records, which each level's question read again)
    records = temp_name("delivered_keys")
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE {records} AS SELECT DISTINCT school_year, start_year, "
        f"measure, region_code FROM {new} WHERE measure IS NOT NULL AND region_code IS NOT NULL "
        "AND school_year IS NOT NULL"
    )
    regions_present = temp_name("regions_present")
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE {regions_present} AS SELECT DISTINCT region_code FROM "
        f"{records} UNION SELECT e.other FROM {records} r JOIN {equivalents} e "
        "ON e.code = r.region_code AND e.start_year = r.start_year"
    )
    try:
        present = f"(SELECT region_code FROM {regions_present})"
        # the level the source covers: the finest one of which it delivers at least half the
        # regions (Regionalstatistik's Kreis table also lists a few cities under Gemeinde keys)
        finest = config["completeness"].get("level")
        if finest is None:
            levels = ", ".join(literal(level) for level in LEVEL_RANK)
            claimed = [
                level
                for level, covered, hit in conn.execute(
                    f"SELECT level, count(*), count(*) FILTER (WHERE region_code IN {present}) "
                    f"FROM (SELECT DISTINCT level, region_code FROM {regions} WHERE whole_year "
                    f"AND {_inside(source.coverage)} AND level IN ({levels})) GROUP BY level"
                ).fetchall()
                if hit >= covered / 2
            ]
            if not claimed:
                return _findings(conn, "completeness", source, None, *args)
            finest = max(claimed, key=lambda lv: LEVEL_RANK[lv])
        coverage = source.coverage or "DG"
        select = f"""
            WITH groups AS (SELECT DISTINCT school_year, start_year, measure FROM {records}),
            delivered AS (
                SELECT school_year, measure, region_code FROM {records}
                UNION SELECT r.school_year, r.measure, e.other FROM {records} r
                JOIN {equivalents} e ON e.code = r.region_code AND e.start_year = r.start_year
            ),
            -- each school year against the keys of its own territory
            missing AS (
                SELECT g.school_year, g.measure, x.region_code
                FROM groups g JOIN {_covered(regions, source.coverage, finest)} x
                  ON x.start_year = g.start_year
                EXCEPT SELECT school_year, measure, region_code FROM delivered
            )
            SELECT NULL AS run_id, {literal(source.id)} AS source_id, NULL AS delivery_id,
                'completeness' AS check_name, measure, region_code, school_year,
                NULL AS sex, NULL AS nationality, NULL AS value, NULL AS reference,
                NULL AS tolerance, NULL AS source_line,
                measure || ' ' || school_year || ': ' || region_code || ' is missing ('
                    || {literal(finest)} || ' level of coverage ' || {literal(coverage)} || ')'
                    AS message,
                measure || ' ' || school_year || ': ' || region_code || ' fehlt (Ebene '
                    || {literal(finest)} || ' im Abdeckungsgebiet ' || {literal(coverage)} || ')'
                    AS message_de,
                row_number() OVER (ORDER BY school_year, measure, region_code) AS ord
            FROM missing
        """
        return _findings(
            conn,
            "completeness",
            source,
            select,
            "missing region-years",
            "fehlende Gebiete/Jahre",
            config["examples"],
        )
    finally:
        drop(conn, records, regions_present)


# --- levels and subgroups ---------------------------------------------------------------------


@_placing
def level_consistency(
    conn: duckdb.DuckDBPyConnection,
    source: Source,
    new: str,
    config: dict[str, Any],
    *,
    located: Places,
) -> CrossCheck:
    """Parts delivered for all children of a region add up to the region's own figure
    (`located`: the Places of `new`)."""
    if not _enabled(config, "level_consistency"):
        return _findings(conn, "level_consistency", source, None, "differences", "Abweichungen", 5)
    current, equivalents = located.regions, located.equivalents
    what = ("totals that are not the sum of their parts",
            "Summen, die nicht die Summe ihrer Teile sind", config["examples"])  # fmt: skip
    # municipalities alone have no parts: the only totals are a kreisfreie Stadt's (or a Land
    # of one Kreis') copies of itself, which add up to themselves
    only_municipalities = conn.execute(
        f"""SELECT NOT EXISTS (SELECT 1 FROM {current} c WHERE c.level <> 'gemeinde'
            AND c.region_code IN (SELECT DISTINCT region_code FROM {new}))"""
    ).fetchone()[0]
    if only_municipalities:
        return _findings(conn, "level_consistency", source, None, *what)
    available = _columns(conn, new)
    delivery = _col(available, "delivery_id")
    line = _col(available, "source_line")
    label = _label()
    signed = "(CASE WHEN diff >= 0 THEN '+' ELSE '-' END || " + _num("abs(diff)") + ")"
    select = f"""
        WITH records AS (
            SELECT measure, region_code, school_year, start_year, sex, nationality, value,
                {line} AS source_line, {delivery} AS delivery_id, 0 AS copy
            FROM {_numeric(new, additive=True)}
        ),
        -- a kreisfreie Stadt's figure delivered under its Gemeinde key stands for its Kreis too
        copies AS (
            SELECT r.measure, e.other AS region_code, r.school_year, r.start_year, r.sex,
                r.nationality, r.value, r.source_line, r.delivery_id, 1 AS copy
            FROM records r JOIN {equivalents} e
              ON e.code = r.region_code AND e.start_year = r.start_year
            QUALIFY row_number() OVER (PARTITION BY r.measure, e.other, r.school_year,
                r.start_year, r.sex, r.nationality ORDER BY r.region_code) = 1
        ),
        -- (only where that key was not delivered itself: an anti join, not a window over all)
        vals AS (
            SELECT * FROM records
            UNION ALL
            SELECT * FROM copies c WHERE NOT EXISTS (
                SELECT 1 FROM records r WHERE r.measure = c.measure
                AND r.region_code = c.region_code AND r.school_year = c.school_year
                AND r.start_year = c.start_year AND r.sex = c.sex
                AND r.nationality = c.nationality)
        ),
        -- a part of its parent in the year's territory, and that year's number of parts;
        -- only parts of a parent with a figure of its own are added up (a delivery of
        -- municipalities alone adds up nothing: at national scale, 4 million rows less)
        placed AS (
            SELECT v.*, c.parent_code AS parent, c.level
            FROM vals v JOIN {current} c
              ON c.region_code = v.region_code AND c.start_year = v.start_year
            WHERE c.parent_code IN (SELECT DISTINCT region_code FROM vals)
        ),
        needed AS (SELECT start_year, parent_code AS parent, level, count(*) AS needed
                   FROM {current} GROUP BY ALL),
        sums AS (
            SELECT measure, school_year, start_year, sex, nationality, parent, level,
                sum(value) AS total, count(*) AS parts
            FROM placed WHERE parent IS NOT NULL GROUP BY ALL
        ),
        joined AS (
            SELECT s.*, d.value AS delivered, d.source_line, d.delivery_id,
                s.parent AS region_code, d.value - s.total AS diff,
                {_tolerance(source.rounding, "s.parts")} AS tol
            FROM sums s
            JOIN needed n ON n.start_year = s.start_year AND n.parent = s.parent
             AND n.level = s.level AND n.needed = s.parts
            JOIN vals d ON d.measure = s.measure AND d.school_year = s.school_year
             AND d.sex = s.sex AND d.nationality = s.nationality AND d.region_code = s.parent
        )
        SELECT NULL AS run_id, {literal(source.id)} AS source_id, NULL AS delivery_id,
            'level_consistency' AS check_name, measure, region_code, school_year, sex,
            nationality, delivered AS value, total AS reference, tol AS tolerance,
            source_line,
            {label} || ': delivered ' || {_num("delivered")} || ', its ' || parts || ' '
                || level || ' parts add up to ' || {_num("total")} || ' (difference '
                || {signed} || ', allowed ±' || format('{{:g}}', tol) || ')' AS message,
            {label} || ': geliefert ' || {_num("delivered")} || ', die ' || parts
                || ' Teile (Ebene ' || level || ') ergeben ' || {_num("total")}
                || ' (Differenz ' || {signed} || ', erlaubt ±' || format('{{:g}}', tol)
                || ')' AS message_de,
            row_number() OVER (ORDER BY {_ORDER}) AS ord
        FROM joined WHERE abs(total - delivered) > tol
    """
    return _findings(conn, "level_consistency", source, select, *what)


def subgroups(
    conn: duckdb.DuckDBPyConnection, source: Source, new: str, config: dict[str, Any]
) -> CrossCheck:
    """female + male = total (per nationality) and german + foreign = total (per sex)."""
    if not _enabled(config, "subgroups"):
        return _findings(conn, "subgroups", source, None, "differences", "Abweichungen", 5)
    available = _columns(conn, new)
    tolerance = _tolerance(source.rounding, "2")
    delivered = conn.execute(f"SELECT DISTINCT sex, nationality FROM {new}").fetchall()
    parts_sql = []
    for rank, (dimension, (a, b)) in enumerate(
        (("sex", ("female", "male")), ("nationality", ("german", "foreign")))
    ):
        values = {row[0 if dimension == "sex" else 1] for row in delivered}
        if not {a, b, "total"} <= values:
            continue  # (a total without both parts, or parts without a total: nothing to add)
        other = "nationality" if dimension == "sex" else "sex"
        base = f"measure, region_code, school_year, {other}"
        label = _label("t")
        parts_sql.append(f"""
            SELECT {_finding_select(source, "subgroups", "t", available, delivery_id="NULL",
                                    reference="s.total", tolerance=tolerance)},
                {label} || ': total ' || {_num("t.value")} || ' but {a} + {b} = '
                    || {_num("s.total")} AS message,
                {label} || ': insgesamt ' || {_num("t.value")} || ', aber {a} + {b} = '
                    || {_num("s.total")} AS message_de,
                {rank} AS rank_, t.measure AS o1, t.region_code AS o2, t.school_year AS o3,
                t.{other} AS o4
            FROM (SELECT {base}, sum(value) AS total, count(*) AS n
                  FROM {_numeric(new, additive=True)}
                  WHERE {dimension} IN ('{a}', '{b}') GROUP BY ALL HAVING count(*) = 2) s
            JOIN (SELECT * FROM {_numeric(new, additive=True)} WHERE {dimension} = 'total') t
              USING ({base})
            WHERE abs(s.total - t.value) > {tolerance}
        """)  # fmt: skip
    select = (
        "SELECT * EXCLUDE (rank_, o1, o2, o3, o4), row_number() OVER "
        f"(ORDER BY rank_, o1, o2, o3, o4) AS ord FROM ({' UNION ALL '.join(parts_sql)})"
        if parts_sql
        else None
    )
    return _findings(
        conn,
        "subgroups",
        source,
        select,
        "totals that differ from their subgroups",
        "Gesamtwerte, die von ihren Untergruppen abweichen",
        config["examples"],
    )


# --- revisions ----------------------------------------------------------------------------------


def revisions(
    conn: duckdb.DuckDBPyConnection,
    source: Source,
    new: str,
    previous: str,
    config: dict[str, Any],
) -> CrossCheck:
    """Values of `new` that differ from what an earlier delivery stated (`previous`: the
    current values before the new deliveries, with their file_name)."""
    args = ("values changed against earlier deliveries", "Werte gegenüber früheren Lieferungen "
            "geändert", config["examples"])  # fmt: skip
    if not _enabled(config, "revisions"):
        return _findings(conn, "revisions", source, None, *args)
    available = _columns(conn, new)
    label = _label("n")
    old_text = _value_text("o.value", "o.status")
    new_text = _value_text("n.value", "n.status")
    select = f"""
        SELECT {_finding_select(source, "revisions", "n", available, reference="o.value")},
            {label} || ': ' || {old_text} || ' (from ' || o.file_name || ') → ' || {new_text}
                AS message,
            {label} || ': ' || {old_text} || ' (aus ' || o.file_name || ') → ' || {new_text}
                AS message_de,
            row_number() OVER (ORDER BY n.measure, n.region_code, n.school_year, n.sex,
                n.nationality) AS ord
        FROM {new} n JOIN {previous} o
          {_SAME_KEY_OTHER_VALUE}
    """  # fmt: skip
    return _findings(conn, "revisions", source, select, *args)


# --- other sources -----------------------------------------------------------------------------


@_placing
def source_conflicts(
    conn: duckdb.DuckDBPyConnection,
    source: Source,
    new: str,
    others: str,
    config: dict[str, Any],
    *,
    located: Places,
) -> CrossCheck:
    """Values of `new` that another source states differently for the same figure (a
    kreisfreie Stadt's Gemeinde and Kreis key are one figure), with both values and the one
    that precedence makes current (docs/sources.md, "Precedence"; `located`: the Places
    of `new`)."""
    args = ("figures another source states differently",
            "Werte, die eine andere Quelle anders angibt", config["examples"])  # fmt: skip
    if not _enabled(config, "source_conflicts"):
        return _findings(conn, "source_conflicts", source, None, *args)
    shared = conn.execute(
        f"SELECT count(*) FROM (SELECT DISTINCT measure FROM {others}) "
        f"SEMI JOIN (SELECT DISTINCT measure FROM {new}) USING (measure)"
    ).fetchone()[0]
    if not shared:  # no other source has any measure of this one: nothing to compare
        return _findings(conn, "source_conflicts", source, None, *args)
    equivalents = located.equivalents
    available = _columns(conn, new)
    label = _label("n")
    mine = (
        f"list_position(['official', 'partner', 'synthetic'], {literal(source.standing)}), "
        f"{int(source.rank)}"
    )
    theirs = "coalesce(list_position(['official', 'partner', 'synthetic'], o.standing), 4), o.rank"
    # ties cannot be (the registry refuses them); an unregistered source comes last
    current = f"CASE WHEN ({mine}) <= ({theirs}) THEN {literal(source.id)} ELSE o.source_id END"
    standing_de = (
        "CASE o.standing "
        + " ".join(f"WHEN {literal(k)} THEN {literal(v)}" for k, v in STANDINGS_DE.items())
        + " ELSE o.standing END"
    )
    new_text, other_text = _value_text("n.value", "n.status"), _value_text("o.value", "o.status")
    select = f"""
        WITH other_values AS (
            SELECT * FROM {others}
            UNION ALL
            SELECT o.* REPLACE (e.other AS region_code)
            FROM {others} o JOIN {equivalents} e
              ON e.code = o.region_code AND e.start_year = o.start_year
        )
        SELECT {_finding_select(source, "source_conflicts", "n", available,
                                reference="o.value")},
            {label} || ': ' || {new_text} || ' here (' || {literal(source.standing)}
                || '), ' || {other_text} || ' from ' || o.source_id || ' (' || o.standing
                || ', ' || o.file_name || '); current: ' || {current} AS message,
            {label} || ': ' || {new_text} || ' hier ('
                || {literal(STANDINGS_DE.get(source.standing, source.standing))} || '), '
                || {other_text} || ' laut ' || o.source_id || ' (' || {standing_de} || ', '
                || o.file_name || '); es gilt: ' || {current} AS message_de,
            row_number() OVER (ORDER BY n.measure, n.region_code, n.school_year, n.sex,
                n.nationality, o.source_id) AS ord
        FROM {new} n JOIN other_values o
          {_SAME_KEY_OTHER_VALUE}
    """  # fmt: skip
    return _findings(conn, "source_conflicts", source, select, *args)


def run_all(
    conn: duckdb.DuckDBPyConnection,
    source: Source,
    new: str,
    history: str,
    previous: str,
    others: str,
) -> list[CrossCheck]:
    """All six checks for the new records of one source (relations: `new` this run's current
    values, `history` and `previous` the source's current values before them, `others` the
    other sources' current values)."""
    config = settings(source)
    located = places(conn, source, new)  # once for the three checks that place regions
    try:
        return [
            year_over_year(conn, source, new, history, config),
            completeness(conn, source, new, config, located=located),
            level_consistency(conn, source, new, config, located=located),
            subgroups(conn, source, new, config),
            revisions(conn, source, new, previous, config),
            source_conflicts(conn, source, new, others, config, located=located),
        ]
    finally:
        located.drop(conn)
