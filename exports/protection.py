"""Small-cell protection of public exports: primary and secondary suppression.

Every value of the publication is a *cell*: a measure cell (measure × region × school year ×
sex × nationality) or an indicator cell (indicator × region × school year × subgroup; a rate
cell stands for its value, numerator and denominator together). The protection runs over the
whole publication, whatever an export selects, so that two differently filtered exports never
disagree about which cells are secret (combined, they would undo each other's protection).

**Primary suppression** (exports/protection.yaml):

- a count (unit `count`) below `count_threshold`, zero included;
- a rate indicator whose denominator is below `denominator_threshold` or whose numerator is a
  count below `count_threshold`;
- `few_schools`: figures of school-level deliveries where fewer than `minimum` schools stand
  behind a region's value (the value would be one school's own);
- a cell the source already suppressed (`.`) is secret as well: it is protected like ours.

**Secondary suppression** protects the secret cells against subtraction. The additive
relations "total = sum of parts" of the publication are:

- regions: the Gemeinden of a Kreis (a kreisfreie Stadt is its Kreis's only part), the Kreise of
  a Regierungsbezirk or Land, the Regierungsbezirke of a Land, the Länder of Germany, the
  Stadtbezirke of a city, and the Ruhr (RVR) as the sum of its 53 Gemeinden and of its 15 Kreise;
- subgroups: female + male = total for each nationality, german + foreign = total for each sex;
- measures: the parts `measure_totals` lists (leavers by qualification = all leavers);
- tables: a rate indicator's numerator and denominator are its measures' cells.

A relation lets a reader recompute a secret cell when that cell is its only unknown (a cell
without a value, e.g. not delivered, is unknown too). The rule, applied until nothing changes:
for every relation whose only unknown cell is secret, the **smallest known part** (by its value;
for a rate cell its denominator; ties broken by the cell's key: table, item, region, year, sex,
nationality) is suppressed as well — the total only when no part is left. Smallest-part
choice loses the least information; the fixed tie order makes the result the same on every run.
Then the non-additive cells follow: a gap indicator is suppressed where one of the rates it
compares is, a percentage a partner delivered where its source's counts of that line are
suppressed or their total is below `denominator_threshold`.

The rule protects against recomputation from any single total and its parts (row and column
totals); like every hypercube-free heuristic it does not prove that no combination of several
relations narrows a cell down to an interval (an audit with τ-ARGUS would).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from expectations.rules import literal
from exports.config import Protection, person_counts_exempt

# the region levels a public export may contain: never a school
PUBLIC_LEVELS = ("bund", "land", "regierungsbezirk", "kreis", "gemeinde", "stadtbezirk", "verband")


@dataclass(frozen=True)
class Suppression:
    """The result: temp tables `hidden_measures` and `hidden_indicators` of the connection
    (the keys of every cell to suppress), and how many cells each rule took."""

    primary: int
    secondary: int
    derived: int
    rounds: int


def _in_list(values: list[str]) -> str:
    return "(" + ", ".join(literal(v) for v in values) + ")" if values else "(NULL)"


@dataclass(frozen=True)
class Scope:
    """The cells the protection looks at: these indicators and measures, these start years.
    Relations never join two school years, and join items only as `closure` follows them, so
    the decision for a cell in scope is the same as over the whole publication."""

    indicators: frozenset[str]
    measures: frozenset[str]
    years: tuple[int, int] | None = None  # first and last start year


def closure(conn: duckdb.DuckDBPyConnection, rules: Protection, scope: Scope) -> Scope:
    """`scope` widened by everything a relation or a derived rule links its items to: an
    indicator's measures (and the indicators of a measure), a gap's rate, the parts and total
    of `measure_totals`, the few-schools group, a delivered percentage's source counts."""
    links: list[tuple[str, str]] = []  # (item, item it depends on), "i:" / "m:" prefixed
    for ind, kind, numerator, denominator, of in conn.execute(
        "SELECT indicator_id, kind, numerator_measures, denominator_measures, of_indicator "
        "FROM published.marts.indicators"
    ).fetchall():
        if kind == "gap":
            links.append((f"i:{ind}", f"i:{of}"))
            continue
        for measure in f"{numerator} + {denominator}".split(" + "):
            links += [(f"i:{ind}", f"m:{measure}"), (f"m:{measure}", f"i:{ind}")]
    groups = [[t, *parts] for t, parts in rules.measure_totals.items()]
    if rules.few_schools:
        groups.append([rules.few_schools.schools_measure, *rules.few_schools.measures])
    links += [(f"m:{a}", f"m:{b}") for group in groups for a in group for b in group if a != b]
    for percent, count in conn.execute(
        "WITH m AS (SELECT DISTINCT measure, unit, source_id FROM published.marts.measure_values) "
        "SELECT p.measure, c.measure FROM m p JOIN m c ON c.source_id = p.source_id "
        "AND c.unit = 'count' WHERE p.unit = 'percent'"
    ).fetchall():
        links.append((f"m:{percent}", f"m:{count}"))
    items = {f"i:{i}" for i in scope.indicators} | {f"m:{m}" for m in scope.measures}
    while True:
        more = {b for a, b in links if a in items} - items
        if not more:
            break
        items |= more
    return Scope(
        frozenset(i[2:] for i in items if i.startswith("i:")),
        frozenset(m[2:] for m in items if m.startswith("m:")),
        scope.years,
    )


def suppress(conn: duckdb.DuckDBPyConnection, rules: Protection, scope: Scope) -> Suppression:
    """Decide which cells of `published` (attached to `conn`) a public export of `scope`
    suppresses: temp table `hidden_cells`."""
    scope = closure(conn, rules, scope)
    few = rules.few_schools
    few_measures = _in_list(few.measures) if few else "(NULL)"
    years = "true" if scope.years is None else "start_year BETWEEN {} AND {}".format(*scope.years)
    small = f"value < {rules.count_threshold}" + ("" if rules.protect_zeros else " AND value > 0")
    exempt = _in_list(person_counts_exempt(rules))
    conn.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE cells AS
        WITH m AS (
            SELECT 'measure' AS tab, measure AS item, unit, source_id, region_code, start_year,
                   sex, nationality, value AS size, value IS NULL AS unknown,
                   status = 'suppressed'
                       OR (unit = 'count' AND measure NOT IN {exempt} AND {small}) AS secret,
                   unit IN ('count', 'hours') AS additive
            FROM published.marts.measure_values
            WHERE measure IN {_in_list(sorted(scope.measures))} AND {years}
        ), i AS (
            SELECT v.*, d.kind FROM published.marts.indicator_values v
            JOIN published.marts.indicators d USING (indicator_id)
            WHERE d.kind = 'rate' AND v.indicator_id IN {_in_list(sorted(scope.indicators))}
              AND {years}
        ), n AS (  -- a rate's numerator: hidden whenever its value must be
            SELECT 'numerator' AS tab, indicator_id AS item, 'count' AS unit, NULL AS source_id,
                   region_code, start_year, sex, nationality, numerator AS size,
                   numerator IS NULL AS unknown,
                   status = 'suppressed' OR denominator < {rules.denominator_threshold}
                       OR {small.replace("value", "numerator")} AS secret,
                   true AS additive
            FROM i
        ), d AS (
            SELECT 'denominator' AS tab, indicator_id AS item, 'count' AS unit, NULL AS source_id,
                   region_code, start_year, sex, nationality, denominator AS size,
                   denominator IS NULL AS unknown,
                   status = 'suppressed' OR {small.replace("value", "denominator")} AS secret,
                   true AS additive
            FROM i
        )
        SELECT row_number() OVER (ORDER BY tab, item, region_code, start_year, sex, nationality)
                   AS cell, *, secret AS hidden
        FROM (SELECT * FROM m UNION ALL SELECT * FROM n UNION ALL SELECT * FROM d)
        """
    )
    if few is not None:
        conn.execute(
            f"""
            UPDATE cells SET secret = true, hidden = true
            FROM (SELECT region_code, start_year, sex, nationality FROM cells
                  WHERE tab = 'measure' AND item = {literal(few.schools_measure)}
                    AND size < {few.minimum}) s
            WHERE cells.tab = 'measure' AND cells.item IN {few_measures}
              AND cells.region_code = s.region_code AND cells.start_year = s.start_year
              AND cells.sex = s.sex AND cells.nationality = s.nationality
            """
        )
    primary = conn.execute("SELECT count(*) FROM cells WHERE hidden").fetchone()[0]
    _relations(conn, rules)
    rounds = 0
    while True:
        added = conn.execute(
            """
            WITH exposed AS (  -- relations whose only unknown cell is a hidden one
                SELECT e.rel FROM edges e JOIN cells c USING (cell)
                GROUP BY e.rel
                HAVING count(*) FILTER (WHERE c.hidden OR c.unknown) = 1
                   AND count(*) FILTER (WHERE c.hidden) = 1
            ), chosen AS (
                SELECT e.cell FROM edges e JOIN cells c USING (cell)
                WHERE e.rel IN (SELECT rel FROM exposed) AND NOT c.hidden AND NOT c.unknown
                QUALIFY row_number() OVER (
                    PARTITION BY e.rel ORDER BY e.is_total, c.size, e.cell) = 1
            )
            UPDATE cells SET hidden = true WHERE cell IN (SELECT cell FROM chosen)
            """
        ).fetchone()[0]
        if not added:
            break
        rounds += 1
    secondary = conn.execute("SELECT count(*) FROM cells WHERE hidden").fetchone()[0] - primary
    derived = _derived(conn, rules, scope)
    conn.execute(
        "CREATE OR REPLACE TEMP TABLE hidden_cells AS SELECT tab, item, region_code, start_year, "
        "sex, nationality FROM cells WHERE hidden"
    )
    return Suppression(primary, secondary, derived, rounds)


def _relations(conn: duckdb.DuckDBPyConnection, rules: Protection) -> None:
    """edges(rel, cell, is_total): every additive relation "total = sum of parts"."""
    totals = [(total, part) for total, parts in rules.measure_totals.items() for part in parts]
    measure_parts = (
        "VALUES " + ", ".join(f"({literal(t)}, {literal(p)})" for t, p in totals)
        if totals
        else "SELECT NULL, NULL WHERE false"
    )
    conn.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE links AS  -- a child region and the total it is part of
        SELECT region_code AS child, parent_code AS parent, level
        FROM published.marts.regions
        WHERE parent_code IS NOT NULL AND level <> 'verband'
        UNION ALL
        SELECT region_code, 'RVR', level FROM published.marts.regions
        WHERE in_ruhr AND level IN ('gemeinde', 'kreis');

        CREATE OR REPLACE TEMP TABLE measure_parts (total VARCHAR, part VARCHAR);
        INSERT INTO measure_parts {measure_parts};

        CREATE OR REPLACE TEMP TABLE edges AS
        WITH a AS (SELECT * FROM cells WHERE additive),
        geography AS (
            SELECT 'g' || p.cell || '/' || l.level AS rel, c.cell, false AS is_total
            FROM a c JOIN links l ON l.child = c.region_code
            JOIN a p ON p.tab = c.tab AND p.item = c.item AND p.region_code = l.parent
                AND p.start_year = c.start_year AND p.sex = c.sex
                AND p.nationality = c.nationality
        ),
        by_sex AS (
            SELECT 's' || p.cell AS rel, c.cell, false AS is_total
            FROM a c JOIN a p ON p.tab = c.tab AND p.item = c.item
                AND p.region_code = c.region_code AND p.start_year = c.start_year
                AND p.nationality = c.nationality AND p.sex = 'total' AND c.sex <> 'total'
        ),
        by_nationality AS (
            SELECT 'n' || p.cell AS rel, c.cell, false AS is_total
            FROM a c JOIN a p ON p.tab = c.tab AND p.item = c.item
                AND p.region_code = c.region_code AND p.start_year = c.start_year
                AND p.sex = c.sex AND p.nationality = 'total' AND c.nationality <> 'total'
        ),
        by_measure AS (
            SELECT 'm' || p.cell AS rel, c.cell, false AS is_total
            FROM measure_parts mp
            JOIN a p ON p.tab = 'measure' AND p.item = mp.total
            JOIN a c ON c.tab = 'measure' AND c.item = mp.part
                AND c.region_code = p.region_code AND c.start_year = p.start_year
                AND c.sex = p.sex AND c.nationality = p.nationality
        ),
        indicator_measures AS (  -- a rate's numerator (denominator) = its measures' sum
            SELECT indicator_id, 'numerator' AS side,
                   unnest(string_split(numerator_measures, ' + ')) AS measure
            FROM published.marts.indicators WHERE kind = 'rate'
            UNION ALL
            SELECT indicator_id, 'denominator',
                   unnest(string_split(denominator_measures, ' + '))
            FROM published.marts.indicators WHERE kind = 'rate'
        ),
        by_table AS (
            SELECT 't' || p.cell AS rel, c.cell, false AS is_total
            FROM indicator_measures im
            JOIN a p ON p.tab = im.side AND p.item = im.indicator_id
            JOIN a c ON c.tab = 'measure' AND c.item = im.measure
                AND c.region_code = p.region_code AND c.start_year = p.start_year
                AND c.sex = p.sex AND c.nationality = p.nationality
        ),
        parts AS (
            SELECT * FROM geography UNION ALL SELECT * FROM by_sex
            UNION ALL SELECT * FROM by_nationality UNION ALL SELECT * FROM by_measure
            UNION ALL SELECT * FROM by_table
        )
        SELECT * FROM parts
        UNION ALL  -- the totals themselves
        SELECT DISTINCT rel, CAST(regexp_extract(rel, '^[a-z]+(\\d+)', 1) AS BIGINT), true
        FROM parts
        """
    )


def _derived(conn: duckdb.DuckDBPyConnection, rules: Protection, scope: Scope) -> int:
    """Non-additive cells that would give a hidden cell away: gaps and delivered percentages."""
    before = conn.execute("SELECT count(*) FROM cells WHERE hidden").fetchone()[0]
    conn.execute(
        f"""
        UPDATE cells SET hidden = true
        FROM (
            SELECT p.cell FROM cells p
            JOIN cells c ON c.tab = 'measure' AND c.unit = 'count'
                AND c.source_id = p.source_id AND c.region_code = p.region_code
                AND c.start_year = p.start_year AND c.sex = p.sex
                AND c.nationality = p.nationality
            WHERE p.tab = 'measure' AND p.unit = 'percent'
            GROUP BY p.cell
            HAVING bool_or(c.hidden) OR max(c.size) < {rules.denominator_threshold}
        ) d
        WHERE cells.cell = d.cell
        """
    )
    # a rate's value goes with its numerator or denominator; a gap with a rate it compares
    conn.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE hidden_values AS
        SELECT DISTINCT item, region_code, start_year, sex, nationality FROM cells
        WHERE hidden AND tab IN ('numerator', 'denominator');
        INSERT INTO hidden_values
        SELECT DISTINCT g.indicator_id, g.region_code, g.start_year, g.sex, g.nationality
        FROM published.marts.indicator_values g
        JOIN published.marts.indicators d ON d.indicator_id = g.indicator_id AND d.kind = 'gap'
        JOIN hidden_values r ON r.item = d.of_indicator
            AND r.region_code = g.region_code AND r.start_year = g.start_year
            AND CASE d.compares
                WHEN 'sex' THEN r.nationality = g.nationality AND r.sex <> 'total'
                ELSE r.sex = g.sex AND r.nationality <> 'total' END
        WHERE g.indicator_id IN {_in_list(sorted(scope.indicators))}
        """
    )
    gaps = conn.execute(
        "SELECT count(*) FROM hidden_values h JOIN published.marts.indicators d "
        "ON d.indicator_id = h.item AND d.kind = 'gap'"
    ).fetchone()[0]
    return conn.execute("SELECT count(*) FROM cells WHERE hidden").fetchone()[0] - before + gaps
