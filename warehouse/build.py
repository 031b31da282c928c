"""Building the core, indicator and mart layers of the working warehouse.

The reference tables (regions, catalogue, school forms, sources) are loaded from the YAML/CSV
files in schemas/ and sources/registry/; everything else is SQL in warehouse/sql/. Every step
replaces its tables whole (CREATE OR REPLACE), so re-running a step is always safe.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import duckdb
import pandas as pd
import yaml

from expectations.outcomes import CheckOutcome
from expectations.suites import load_suite
from expectations.validation import validate_rows
from schemas.catalogue import Catalogue
from schemas.regions import load_regions, territory
from schemas.territory import school_year_label
from sources.registry import Source
from sources.scratch import register
from warehouse.db import SQL_DIR, run_sql_file, stored_kind
from warehouse.quality import record_check_outcomes

SCHOOL_FORMS_YAML = Path(__file__).resolve().parent.parent / "schemas" / "school_forms.yaml"


def _replace(conn: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    register(conn, "replacement", frame)
    try:
        conn.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM replacement")
    finally:
        conn.unregister("replacement")


def load_regions_table(conn: duckdb.DuckDBPyConnection) -> None:
    regions = load_regions()
    for column in ("valid_from", "valid_until"):
        regions[column] = pd.to_datetime(regions[column]).dt.date
    _replace(conn, "core.regions", regions)
    conn.execute(
        "ALTER TABLE core.regions ALTER valid_from TYPE DATE; "
        "ALTER TABLE core.regions ALTER valid_until TYPE DATE"
    )
    load_territory_tables(conn)
    run_sql_file(conn, "core/region_members.sql")


def load_territory_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """core.region_changes (every change of a key), core.region_successions (whose figures
    make a successor's figure: merges and renames) and core.territory_breaks (keys that go on
    with another territory), from schemas/territory.yaml."""
    known = territory()
    names = dict(conn.execute("SELECT region_code, name FROM core.regions").fetchall())
    _replace(
        conn,
        "core.region_changes",
        pd.DataFrame(
            [
                {
                    "old_code": c.old_code,
                    "old_name": names.get(c.old_code),
                    "new_code": c.new_code,
                    "new_name": names.get(c.new_code),
                    "level": c.level,
                    "effective": c.effective,
                    "first_school_year": school_year_label(c.first_start_year),
                    "kind": c.kind,
                    "change": c.change,
                    "share": c.share,
                    "source": c.source,
                }
                for c in known.changes
            ],
            columns=[
                "old_code", "old_name", "new_code", "new_name", "level", "effective",
                "first_school_year", "kind", "change", "share", "source",
            ],
        ).astype({"share": "float64", "effective": "datetime64[s]"}),
    )  # fmt: skip
    conn.execute("ALTER TABLE core.region_changes ALTER effective TYPE DATE")
    _replace(
        conn,
        "core.region_successions",
        pd.DataFrame(
            [s.__dict__ for s in known.successions()],
            columns=[
                "predecessor_code", "successor_code", "first_start_year", "predecessors", "rule",
            ],
        ).astype({"first_start_year": "int32", "predecessors": "int32"}),
    )  # fmt: skip
    _replace(
        conn,
        "core.territory_breaks",
        pd.DataFrame(
            [b.__dict__ for b in known.breaks()], columns=["region_code", "start_year", "reason"]
        ).astype({"start_year": "int32"}),
    )


@cache
def school_forms() -> pd.DataFrame:
    spec = yaml.safe_load(SCHOOL_FORMS_YAML.read_text(encoding="utf-8"))["school_forms"]
    return pd.DataFrame(
        [
            {"school_form_key": k, "label": v["label"], "category": v["category"]}
            for k, v in spec.items()
        ]
    )


def load_catalogue_tables(conn: duckdb.DuckDBPyConnection, catalogue: Catalogue) -> None:
    _replace(
        conn,
        "core.measures",
        pd.DataFrame(
            [
                {
                    "measure": m.id,
                    "label": m.label,
                    "unit": m.unit,
                    "description": m.description,
                    "family": m.family,
                    "school_form": m.school_form,
                }
                for m in catalogue.measures.values()
            ]
        ),
    )
    _replace(
        conn,
        "core.goals",
        pd.DataFrame(
            [
                {
                    "goal_id": g.id,
                    "title": g.title,
                    "description": g.description,
                    "lead_partner": g.lead_partner,
                }
                for g in catalogue.goals.values()
            ]
        ),
    )
    indicators, terms, gaps = [], [], []
    for i in catalogue.indicators.values():
        compares = next(iter(i.minuend), None)
        indicators.append(
            {
                "indicator_id": i.id,
                "name": i.name,
                "goal_id": i.goal,
                "kind": i.kind,
                "definition": i.definition,
                "numerator_measures": " + ".join(i.numerator) or None,
                "denominator_measures": " + ".join(i.denominator) or None,
                "scale": i.scale if i.kind == "rate" else None,
                "of_indicator": i.of_indicator,
                "compares": compares,
                "unit": i.unit,
                "direction": i.direction,
                "baseline": i.baseline,
                "target_value": i.target_value,
                "target_year": i.target_year,
                "responsible_partner": i.responsible_partner,
            }
        )
        for role, measures in (("numerator", i.numerator), ("denominator", i.denominator)):
            terms += [
                {"indicator_id": i.id, "role": role, "measure": m, "term_measures": len(measures)}
                for m in measures
            ]
        if i.kind == "gap" and compares:
            gaps.append(
                {
                    "indicator_id": i.id,
                    "of_indicator": i.of_indicator,
                    "compares": compares,
                    "minuend_value": i.minuend[compares],
                    "subtrahend_value": i.subtrahend[compares],
                }
            )
    _replace(conn, "core.indicators", pd.DataFrame(indicators))
    _replace(conn, "core.indicator_terms", pd.DataFrame(terms))
    gap_columns = ["indicator_id", "of_indicator", "compares", "minuend_value", "subtrahend_value"]
    _replace(conn, "core.indicator_gaps", pd.DataFrame(gaps, columns=gap_columns))
    _replace(conn, "core.school_forms", school_forms())


def load_sources_table(conn: duckdb.DuckDBPyConnection, sources: dict[str, Source]) -> None:
    _replace(
        conn,
        "core.sources",
        pd.DataFrame(
            [
                {
                    "source_id": s.id,
                    "title": s.title,
                    "partner": s.partner,
                    "licence": s.licence,
                    "kind": s.kind,
                    "dataset": s.dataset,
                    "synthetic": s.synthetic,
                    "standing": s.standing,
                    "rank": s.rank,
                    "location": ", ".join(s.location),
                    "expectations": ", ".join(s.expectations),
                    "description": s.description,
                }
                for s in sources.values()
            ]
        ),
    )
    # which source can deliver which measure: marts.indicators names an indicator's sources
    _replace(
        conn,
        "core.source_measures",
        pd.DataFrame(
            [{"source_id": s.id, "measure": m} for s in sources.values()
             for m in sorted(s.measure_ids())],
            columns=["source_id", "measure"],
        ).astype(str),
    )  # fmt: skip


def build_measure_revisions(conn: duckdb.DuckDBPyConnection) -> None:
    build_sql_table(conn, "core/measure_revisions.sql")


_CREATES = re.compile(r"^CREATE OR REPLACE (TABLE|VIEW) ([\w.]+) AS", re.M)


def build_sql_table(conn: duckdb.DuckDBPyConnection, sql_path: str) -> None:
    """Run warehouse/sql/<sql_path> (layer/table.sql). A model that changed from table to view
    (or back) since the warehouse was built replaces the old object: DuckDB's CREATE OR
    REPLACE only replaces an object of the same kind."""
    for kind, name in _CREATES.findall((SQL_DIR / sql_path).read_text(encoding="utf-8")):
        stored = stored_kind(conn, name)
        if stored not in (None, kind):
            conn.execute(f"DROP {stored} {name}")
    run_sql_file(conn, sql_path)


def sql_description(sql_path: str) -> str:
    """The leading comment block of a SQL file, for Dagster asset descriptions."""
    lines = []
    for line in (SQL_DIR / sql_path).read_text(encoding="utf-8").splitlines():
        if not line.startswith("--"):
            break
        lines.append(line[2:].strip())
    return " ".join(lines)


INDICATOR_SUITE = "indicator_values"


def check_indicator_values(
    conn: duckdb.DuckDBPyConnection, run_id: str
) -> tuple[list[CheckOutcome], dict[str, int]]:
    """Validate marts.indicator_values with its suite (outcomes also go to
    quality.check_results); returns the outcomes and what the mart covers."""
    view = "indicator_values_checked"
    # a table's rowid is stable: the evaluation's queries all see the same row ids
    conn.execute(
        f"CREATE OR REPLACE TEMP VIEW {view} AS "
        "SELECT rowid AS row_id, * FROM marts.indicator_values"
    )
    try:
        validation = validate_rows(conn, view, (INDICATOR_SUITE,), "marts_indicator_values", run_id)
        validation.close(conn)
    finally:
        conn.execute(f"DROP VIEW IF EXISTS {view}")
    record_check_outcomes(conn, run_id, "marts/indicator_values", validation.outcomes)
    indicators, regions, years = conn.execute(
        "SELECT count(DISTINCT indicator_id), count(DISTINCT region_code), "
        "count(DISTINCT school_year) FROM marts.indicator_values"
    ).fetchone()
    return validation.outcomes, {
        "indicators": indicators,
        "regions": regions,
        "school_years": years,
    }


def skip_indicator_checks(conn: duckdb.DuckDBPyConnection, run_id: str, since: str) -> None:
    """The mart was not rebuilt: its checks are not evaluated again (quality.check_results
    says so — neither passed nor failed)."""
    outcomes = [
        CheckOutcome.not_evaluated(
            e.name,
            INDICATOR_SUITE,
            e.description,
            f"marts.indicator_values is unchanged since run {since}",
            f"marts.indicator_values ist seit Lauf {since} unverändert",
            expectation_type=e.type,
            description_de=e.description_de,
            blocking=e.blocking,
        )
        for e in load_suite(INDICATOR_SUITE).expectations
    ]
    record_check_outcomes(conn, run_id, "marts/indicator_values", outcomes)
