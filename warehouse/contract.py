"""The analysts' contract: every published mart table with its columns, types and meaning.

These names are the product's public interface (DESIGN.md). A test compares them with the
tables the SQL really builds, and docs/analysts.md with this list, so code, docs and the
published file cannot drift apart.
"""

from __future__ import annotations

from schemas.tables import (
    CHECK_RESULT_COLUMNS,
    DELIVERY_COLUMNS,
    DELIVERY_EVENT_COLUMNS,
    DELIVERY_LOG_COLUMNS,
    FINDING_COLUMNS,
    QUARANTINE_COLUMNS,
    Column,
)

_REGION = (
    Column("region_code", "VARCHAR", "official key (AGS); RVR = the Ruhr, 05 = NRW, DG = Germany"),
    Column("region_name", "VARCHAR", "region name"),
    Column(
        "region_level", "VARCHAR", "gemeinde | kreis | regierungsbezirk | land | verband | bund"
    ),
    Column("in_ruhr", "BOOLEAN", "member of the Ruhr (one of the 53 municipalities or 15 Kreise)"),
)
_TIME_SUBGROUP = (
    Column("school_year", "VARCHAR", "school year, e.g. 2022/23"),
    Column("start_year", "INTEGER", "first calendar year of the school year"),
    Column("sex", "VARCHAR", "total | female | male"),
    Column("nationality", "VARCHAR", "total | german | foreign"),
)
_SERIES_BREAK = (
    Column(
        "series_break",
        "BOOLEAN",
        "the sources or the aggregation differ from the school year before: the change "
        "against it is not only a change in the world",
    ),
    Column(
        "series_break_reason",
        "VARCHAR",
        "what changed, e.g. 'sources: a → b; aggregation: summed from 53 parts (gemeinde) → "
        "delivered (kreis)'; NULL without a break",
    ),
)

# a current value as marts.measure_values publishes it; marts.measure_history adds its validity
_MEASURE_VALUE = (
    Column("measure", "VARCHAR", "measure id (schemas/measures.yaml)"),
    Column("measure_label", "VARCHAR", "measure label"),
    Column("unit", "VARCHAR", "count | percent | hours | thousand | eur_thousand | eur_million"),
    *_REGION,
    *_TIME_SUBGROUP,
    Column("value", "DOUBLE", "the figure as delivered; NULL when the status is a symbol"),
    Column(
        "status",
        "VARCHAR",
        "ok | suppressed | not_available | not_applicable | unreliable | provisional | estimated",
    ),
    Column("raw_value", "VARCHAR", "the cell exactly as delivered (e.g. '.', '1234 p')"),
    Column("source_id", "VARCHAR", "source registry id"),
    Column("source_title", "VARCHAR", "source title"),
    Column("delivery_id", "VARCHAR", "SHA-256 of the delivery (meta.deliveries)"),
    Column("file_name", "VARCHAR", "delivered file name"),
    Column("received_at", "TIMESTAMP", "when the delivery was received (UTC)"),
    Column("source_line", "INTEGER", "line in the delivered file"),
    Column(
        "revisions",
        "BIGINT",
        "how many times a later statement changed this cell's value or status (0 = never; "
        "a re-delivery of the same value is no revision)",
    ),
    Column("synthetic", "BOOLEAN", "true for the synthetic demo deliveries"),
)

# marts.measure_history: a current value's columns and its statement's validity
_MEASURE_HISTORY = (
    *_MEASURE_VALUE,
    Column("revision", "BIGINT", "this statement's place among the cell's statements (1 = first)"),
    Column(
        "event",
        "VARCHAR",
        "received (the delivery arrived) | revert (its bytes were sent again after a later "
        "delivery had replaced it: its values became current again)",
    ),
    Column("valid_from", "TIMESTAMP", "when the pipeline received the statement (UTC)"),
    Column(
        "valid_to",
        "TIMESTAMP",
        "when the same source stated the cell again (UTC); NULL while this is its word",
    ),
    Column(
        "is_current",
        "BOOLEAN",
        "the published value now (precedence of sources: marts.measure_values' row)",
    ),
)

# the names marts.measure_history joins in the publication instead of storing them per statement
_NAMES_JOINED_IN_PUBLICATION = (
    "measure_label", "unit", "region_name", "region_level", "in_ruhr", "source_title",
)  # fmt: skip

MART_COLUMNS: dict[str, tuple[Column, ...]] = {
    "marts.regions": (
        Column(
            "region_code",
            "VARCHAR",
            "official key: 8 digits Gemeinde, 5 Kreis, 3 Regierungsbezirk, 2 Land; DG, RVR",
        ),
        Column("name", "VARCHAR", "short name, e.g. Duisburg, Wesel"),
        Column(
            "official_name",
            "VARCHAR",
            "name as the statistical offices write it, e.g. 'Wesel, Kreis'",
        ),
        Column("level", "VARCHAR", "bund | land | regierungsbezirk | kreis | gemeinde | verband"),
        Column("parent_code", "VARCHAR", "next higher region"),
        Column("kreis_code", "VARCHAR", "the Kreis of a Gemeinde (or the Kreis itself)"),
        Column("land_code", "VARCHAR", "the Land"),
        Column(
            "in_ruhr",
            "BOOLEAN",
            "one of the 53 Ruhr municipalities or 15 Ruhr Kreise / kreisfreie Städte",
        ),
        Column(
            "is_current",
            "BOOLEAN",
            "part of today's territory; false for keys ended by a territorial change "
            "(marts.region_changes)",
        ),
        Column(
            "valid_from",
            "DATE",
            "first day the key is valid (a key created by a change); NULL = before 2007",
        ),
        Column(
            "valid_until",
            "DATE",
            "last day the key is valid (a key ended by a change); NULL = still valid",
        ),
    ),
    "marts.region_changes": (
        Column("old_code", "VARCHAR", "key before the change"),
        Column("old_name", "VARCHAR", "name of the old key"),
        Column(
            "new_code",
            "VARCHAR",
            "key after it; a key that goes on with another territory names itself",
        ),
        Column("new_name", "VARCHAR", "name of the new key"),
        Column("level", "VARCHAR", "kreis | gemeinde"),
        Column("effective", "DATE", "the day the new territory applies"),
        Column(
            "first_school_year",
            "VARCHAR",
            "the first school year wholly on the new territory (begins on or after effective)",
        ),
        Column(
            "kind",
            "VARCHAR",
            "merge (the whole old region goes into the new key, with others) | rename (the "
            "same territory under a new key) | split (the old region is divided) | new (a new "
            "key from part of a region that keeps its key)",
        ),
        Column("change", "VARCHAR", "what happened, as the change list names it"),
        Column("share", "DOUBLE", "a split: share of the old region that went to the new key"),
        Column("source", "VARCHAR", "file and line the change comes from"),
    ),
    "marts.goals": (
        Column("goal_id", "VARCHAR", "goal id"),
        Column("title", "VARCHAR", "title"),
        Column("description", "VARCHAR", "what the partners want to achieve"),
        Column("lead_partner", "VARCHAR", "partner leading the goal"),
        Column("indicators", "BIGINT", "number of indicators measuring it"),
    ),
    "marts.indicators": (
        Column("indicator_id", "VARCHAR", "indicator id"),
        Column("name", "VARCHAR", "name"),
        Column("goal_id", "VARCHAR", "goal it measures"),
        Column("goal_title", "VARCHAR", "title of that goal"),
        Column(
            "kind",
            "VARCHAR",
            "rate (scale × Σ numerator / Σ denominator) or gap (difference of two subgroups' "
            "rates)",
        ),
        Column("definition", "VARCHAR", "definition in words"),
        Column("numerator_measures", "VARCHAR", "measures summed in the numerator"),
        Column("denominator_measures", "VARCHAR", "measures summed in the denominator"),
        Column("scale", "DOUBLE", "100 for percent, 1 for ratios, 1000 per mille"),
        Column("of_indicator", "VARCHAR", "gap indicators: the rate compared"),
        Column("compares", "VARCHAR", "gap indicators: sex or nationality"),
        Column("unit", "VARCHAR", "unit of the value"),
        Column("direction", "VARCHAR", "up = higher is better, down = lower is better"),
        Column("baseline", "VARCHAR", "baseline school year"),
        Column("target_value", "DOUBLE", "target value (set for the Ruhr)"),
        Column("target_year", "VARCHAR", "school year by which the target is to be reached"),
        Column("responsible_partner", "VARCHAR", "partner responsible for the indicator"),
        Column(
            "sources",
            "VARCHAR",
            "ids of the registered sources that deliver its measures (meta.sources), ', '-joined",
        ),
        Column(
            "source_titles",
            "VARCHAR",
            "those sources as 'title (partner)', '; '-joined: where the figures come from",
        ),
    ),
    "marts.measure_history": _MEASURE_HISTORY,
    "marts.measure_values": _MEASURE_VALUE,
    # the stored form of marts.measure_history: names stored once, in marts.measures,
    # marts.regions and meta.sources, not once per statement
    "marts.measure_statements": tuple(
        c for c in _MEASURE_HISTORY if c.name not in _NAMES_JOINED_IN_PUBLICATION
    ),
    "marts.measures": (
        Column("measure", "VARCHAR", "measure id"),
        Column("label", "VARCHAR", "label"),
        Column("unit", "VARCHAR", _MEASURE_VALUE[2].description),
        Column("description", "VARCHAR", "what is counted"),
        Column("family", "VARCHAR", "the measure's family (leavers, day care, population …)"),
        Column("school_form", "VARCHAR", "the school form a pupils' measure counts; NULL else"),
    ),
    "marts.indicator_values": (
        Column("indicator_id", "VARCHAR", "indicator id"),
        Column("indicator_name", "VARCHAR", "indicator name"),
        Column("goal_id", "VARCHAR", "goal"),
        *_REGION,
        *_TIME_SUBGROUP,
        Column("value", "DOUBLE", "the indicator value"),
        Column("numerator", "DOUBLE", "Σ numerator measures over the region's members"),
        Column("denominator", "DOUBLE", "Σ denominator measures over the region's members"),
        Column("unit", "VARCHAR", "unit"),
        Column(
            "status",
            "VARCHAR",
            "ok, or the weakest status of the values used (provisional …), or the symbol's "
            "status when there is no value",
        ),
        Column(
            "computed_from_level",
            "VARCHAR",
            "member level summed: gemeinde, kreis, … (the region's own level = as delivered)",
        ),
        Column("member_count", "BIGINT", "members summed (1 for a delivered figure)"),
        Column(
            "aggregation",
            "VARCHAR",
            "'delivered' (the region's own figure, as its source delivered it), "
            "'summed from N parts' (Σ over its N members at computed_from_level), or for a "
            "year before a territorial change the region's predecessors: 'summed from N "
            "predecessors (old keys: change, date)' / 'carried from predecessor KEY (change, "
            "date)' (marts.region_changes)",
        ),
        *_SERIES_BREAK,
        Column("sources", "VARCHAR", "sources of the measures used"),
        Column(
            "synthetic", "BOOLEAN", "true if any measure used comes from a synthetic demo delivery"
        ),
    ),
    "marts.indicator_trends": (
        Column("indicator_id", "VARCHAR", "indicator id"),
        Column("indicator_name", "VARCHAR", "indicator name"),
        Column("goal_id", "VARCHAR", "goal"),
        *_REGION,
        *_TIME_SUBGROUP,
        Column("value", "DOUBLE", "the indicator value"),
        Column("unit", "VARCHAR", "unit"),
        Column("status", "VARCHAR", "status of the value"),
        Column("aggregation", "VARCHAR", "'delivered' or 'summed from N parts'"),
        *_SERIES_BREAK,
        Column("previous_school_year", "VARCHAR", "the school year before, if computed"),
        Column("previous_value", "DOUBLE", "value in the school year before"),
        Column("change_vs_previous", "DOUBLE", "value − previous value"),
        Column("baseline_school_year", "VARCHAR", "the indicator's baseline year"),
        Column("baseline_value", "DOUBLE", "value in the baseline year"),
        Column("change_vs_baseline", "DOUBLE", "value − baseline value"),
        Column("direction", "VARCHAR", "up or down"),
        Column("target_value", "DOUBLE", "target value"),
        Column("target_year", "VARCHAR", "target school year"),
        Column(
            "distance_to_target",
            "DOUBLE",
            "how far the value still is from the target (positive = not yet reached)",
        ),
        Column("target_reached", "BOOLEAN", "value is at or beyond the target"),
        Column("ruhr_value", "DOUBLE", "value of the Ruhr (RVR), same year and subgroup"),
        Column("difference_to_ruhr", "DOUBLE", "value − Ruhr value"),
        Column("nrw_value", "DOUBLE", "value of NRW, same year and subgroup"),
        Column("difference_to_nrw", "DOUBLE", "value − NRW value"),
        Column("sources", "VARCHAR", "sources used"),
        Column("synthetic", "BOOLEAN", "true if any measure used is synthetic"),
    ),
    "marts.schools": (
        Column("school_number", "VARCHAR", "NRW Schulnummer"),
        Column("name", "VARCHAR", "school name (Schulbezeichnung 1–3)"),
        Column("short_name", "VARCHAR", "Kurzbezeichnung"),
        Column("school_form_key", "VARCHAR", "NRW school form key"),
        Column("school_form", "VARCHAR", "school form"),
        Column("school_category", "VARCHAR", "allgemeinbildend | berufsbildend | verwaltung"),
        Column("legal_form", "VARCHAR", "öffentlich | privat"),
        Column("region_code", "VARCHAR", "Gemeindeschlüssel (AGS) of the municipality"),
        Column("municipality", "VARCHAR", "municipality name"),
        Column("kreis_code", "VARCHAR", "Kreis key"),
        Column("in_ruhr", "BOOLEAN", "the school lies in one of the 53 Ruhr municipalities"),
        Column("postcode", "VARCHAR", "PLZ"),
        Column("town", "VARCHAR", "Ort"),
        Column("street", "VARCHAR", "Straße"),
        Column("epsg", "VARCHAR", "coordinate reference system of utm_east/utm_north"),
        Column("utm_east", "INTEGER", "UTM easting (EPSG:25832)"),
        Column("utm_north", "INTEGER", "UTM northing (EPSG:25832)"),
        Column(
            "social_index",
            "INTEGER",
            "Sozialindexstufe 1 (least) – 9 (most disadvantaged); NULL = none",
        ),
        Column("social_index_label", "VARCHAR", "Sozialindexstufe as published ('1'…'9', 'ohne')"),
        Column("social_index_school_year", "VARCHAR", "school year of the social index"),
        Column("directory_delivery_id", "VARCHAR", "delivery of the school directory"),
    ),
    "quality.check_results": CHECK_RESULT_COLUMNS,
    "quality.quarantine": QUARANTINE_COLUMNS,
    "quality.findings": FINDING_COLUMNS,
    "quality.source_health": (
        Column("source_id", "VARCHAR", "registry id of the source"),
        Column("title", "VARCHAR", "source title"),
        Column("partner", "VARCHAR", "partner delivering it"),
        Column(
            "kind", "VARCHAR", "csv | genesis_table_csv | genesis_ffcsv | genesis_api | json_api"
        ),
        Column("synthetic", "BOOLEAN", "true for the synthetic demo sources"),
        Column("latest_run_id", "VARCHAR", "latest run that checked anything of the source"),
        Column("latest_checked_at", "TIMESTAMP", "when that run checked it (UTC)"),
        Column("latest_outcome", "VARCHAR", "PASS | WARNING | FAIL in that run"),
        Column("latest_failing_checks", "VARCHAR", "checks that failed in that run, ', '-joined"),
        Column("latest_failure_messages", "VARCHAR", "their messages, ' | '-joined"),
        Column("latest_warnings", "BIGINT", "checks with a warning in that run"),
        Column("failing_since", "TIMESTAMP", "first failed run of the current failing streak"),
        Column("consecutive_failed_runs", "BIGINT", "failed runs in a row, up to the latest"),
        Column("runs_checked", "BIGINT", "runs that checked the source"),
        Column("runs_failed", "BIGINT", "of those, runs in which a check failed"),
        Column("runs_failed_last_30_days", "BIGINT", "failed runs in the last 30 days"),
        Column("last_failure_at", "TIMESTAMP", "when a check of the source last failed"),
        Column("last_good_file", "VARCHAR", "file name of the last delivery that loaded"),
        Column("last_good_received_at", "TIMESTAMP", "when that delivery was received (UTC)"),
        Column("last_good_delivery_id", "VARCHAR", "its SHA-256 (meta.deliveries)"),
        Column("last_rejected_file", "VARCHAR", "file name of the last rejected delivery"),
        Column("last_rejected_at", "TIMESTAMP", "when that delivery was received (UTC)"),
    ),
    "meta.deliveries": DELIVERY_COLUMNS,
    "meta.delivery_log": DELIVERY_LOG_COLUMNS,
    "meta.sources": (
        Column("source_id", "VARCHAR", "registry id (sources/registry/<profile>/<id>.yaml)"),
        Column("title", "VARCHAR", "source title"),
        Column("partner", "VARCHAR", "partner delivering it"),
        Column("licence", "VARCHAR", "licence of the data"),
        Column(
            "kind", "VARCHAR", "csv | genesis_table_csv | genesis_ffcsv | genesis_api | json_api"
        ),
        Column("dataset", "VARCHAR", "measures | school_directory | school_social_index"),
        Column("synthetic", "BOOLEAN", "true for the synthetic demo sources"),
        Column(
            "standing",
            "VARCHAR",
            "official | partner | synthetic: which figure is current where sources overlap",
        ),
        Column("rank", "BIGINT", "order within the standing: 1 comes first"),
        Column("location", "VARCHAR", "where its files are read from (demo files, inbox, API)"),
        Column("expectations", "VARCHAR", "expectation suites applied, ', '-joined"),
        Column("description", "VARCHAR", "what the source holds"),
    ),
    "meta.publication": (
        Column("run_id", "VARCHAR", "Dagster run that wrote this publication"),
        Column("published_at", "TIMESTAMP", "when it was written (UTC)"),
        Column("storage_version", "VARCHAR", "DuckDB storage version of the file"),
    ),
    "meta.delivery_events": DELIVERY_EVENT_COLUMNS,
}

# what each publication said: the indicator values with the publication times they held for
MART_COLUMNS["marts.indicator_history"] = (
    *MART_COLUMNS["marts.indicator_values"],
    Column("valid_from", "TIMESTAMP", "publication from which the row held (UTC)"),
    Column("valid_to", "TIMESTAMP", "publication that replaced it (UTC); NULL = still current"),
)

# What each table of the contract holds: the tables' comments in the publication (COMMENT ON
# TABLE), the Dagster assets' descriptions and docs/analysts.md say this, from here.
TABLE_DESCRIPTIONS: dict[str, str] = {
    "marts.regions": "One row per region key: official key (AGS), name, level, parent, Ruhr "
    "membership, validity. RVR = the Ruhr (53 municipalities), 05 = NRW, DG = Germany. "
    "Today's territory is WHERE is_current; dissolved keys stay, so every delivered key "
    "has a name.",
    "marts.region_changes": "Territorial changes since 2007 (Gebietsstand): old key, new "
    "key, effective date, kind (merge, rename, split, new), the change and where it is "
    "listed. Series of merged and renamed keys are carried to today's key in "
    "marts.indicator_values; a split is a series break.",
    "marts.goals": "The initiative's common goals (schemas/goals.yaml).",
    "marts.indicators": "The indicator catalogue (schemas/indicators.yaml): definition, "
    "numerator and denominator measures, unit, direction, goal, baseline, target — and the "
    "sources its figures come from.",
    "marts.measure_history": "Every value any source ever delivered, per measure × region × "
    "school year × sex × nationality, with its delivery and when it was valid (from / to).",
    "marts.measure_statements": "marts.measure_history as stored: one row per statement "
    "with its keys, figure and delivery; the names of its measure, region and source are in "
    "marts.measures, marts.regions and meta.sources (marts.measure_history joins them).",
    "marts.measures": "The measures (schemas/measures.yaml): what each counts, its unit and "
    "family.",
    "marts.measure_values": "Measure × region × school year × sex × nationality: the counts "
    "as delivered (current revision), with status, source, delivery, file and line.",
    "marts.indicator_values": "Indicator × region × school year × sex × nationality: value = "
    "scale × Σ numerator / Σ denominator over the region's members (never averaged from "
    "rates), with status and sources.",
    "marts.indicator_history": "The indicator values as each publication said them: "
    "valid_from / valid_to are publication times; marts.indicator_values is its current rows "
    "and marts.indicator_values_as_of(moment) what was published at a moment.",
    "marts.indicator_trends": "marts.indicator_values plus the change against the previous "
    "year and the baseline, the distance to the target, and the Ruhr and NRW values alongside.",
    "marts.schools": "NRW school directory (Schulnummer): name, school form, municipality, "
    "coordinates, social index.",
    "quality.check_results": "Every check of every run: asset, check, outcome (PASS / WARNING "
    "/ FAIL / NOT_EVALUATED), severity, counts and observed values.",
    "quality.quarantine": "Delivered records held back by a record-level check, with the "
    "reason, file, line and column.",
    "quality.findings": "Values flagged by checks across years, levels and deliveries: jumps, "
    "missing regions, parts that do not add up, revised values — with both numbers.",
    "quality.source_health": "One row per source: latest outcome, since when it has been "
    "failing, failures over time, last good and last rejected delivery.",
    "meta.deliveries": "Every payload ever received: source, time, SHA-256, rows, outcome.",
    "meta.delivery_log": "Every sighting of a payload by a run: archived, skipped unchanged, "
    "parsed, rejected, fetch failed.",
    "meta.delivery_events": "Deliveries made current again: the bytes of an earlier, replaced "
    "delivery received once more (a revert).",
    "meta.sources": "The registered sources: title, partner, licence, kind, synthetic or "
    "real, standing and rank.",
    "meta.publication": "This publication: the run that wrote it, when, in which storage version.",
}


def comment_statements(
    catalog: str, present: set[tuple[str, str]], views: set[str] | tuple[str, ...] = ()
) -> list[str]:
    """COMMENT ON statements giving every contract table (or view) and column of the database
    `catalog` its description, so DBeaver, R and the duckdb CLI show what each one means.
    `present`: the (table, column) pairs the database has (a test's stand-in has fewer)."""

    def quoted(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    tables = {table for table, _ in present}
    statements = []
    for table, columns in MART_COLUMNS.items():
        if table not in tables:
            continue
        kind = "VIEW" if table in views else "TABLE"
        statements.append(
            f"COMMENT ON {kind} {catalog}.{table} IS {quoted(TABLE_DESCRIPTIONS[table])}"
        )
        statements += [
            f'COMMENT ON COLUMN {catalog}.{table}."{c.name}" IS {quoted(c.description)}'
            for c in columns
            if (table, c.name) in present
        ]
    return statements


# Core tables behind the marts (working warehouse only; shown as the core assets' schemas).
CORE_COLUMNS: dict[str, tuple[Column, ...]] = {
    "core.regions": MART_COLUMNS["marts.regions"],
    "core.indicators": (
        Column("indicator_id", "VARCHAR", "indicator id"),
        Column("name", "VARCHAR", "name"),
        Column("goal_id", "VARCHAR", "goal"),
        Column("kind", "VARCHAR", "rate | gap"),
        Column("definition", "VARCHAR", "definition"),
        Column("numerator_measures", "VARCHAR", "numerator measures, ' + '-joined"),
        Column("denominator_measures", "VARCHAR", "denominator measures, ' + '-joined"),
        Column("scale", "DOUBLE", "scale factor of a rate"),
        Column("of_indicator", "VARCHAR", "gap: the rate compared"),
        Column("compares", "VARCHAR", "gap: sex | nationality"),
        Column("unit", "VARCHAR", "unit"),
        Column("direction", "VARCHAR", "up | down"),
        Column("baseline", "VARCHAR", "baseline school year"),
        Column("target_value", "DOUBLE", "target value"),
        Column("target_year", "VARCHAR", "target school year"),
        Column("responsible_partner", "VARCHAR", "responsible partner"),
    ),
    "core.measure_revisions": (
        Column("measure", "VARCHAR", "measure id"),
        Column("region_code", "VARCHAR", "official key"),
        *_TIME_SUBGROUP[:4],
        Column("value", "DOUBLE", "value this delivery stated"),
        Column("status", "VARCHAR", "status this delivery stated"),
        Column("raw_value", "VARCHAR", "cell as delivered"),
        Column("source_id", "VARCHAR", "source"),
        Column("delivery_id", "VARCHAR", "delivery (SHA-256)"),
        Column("delivery_seq", "INTEGER", "order of receipt"),
        Column("file_name", "VARCHAR", "delivered file"),
        Column("received_at", "TIMESTAMP", "received (UTC)"),
        Column("synthetic", "BOOLEAN", "synthetic demo delivery"),
        Column("source_line", "INTEGER", "line in the file"),
        Column("source_column", "VARCHAR", "column in the file"),
        Column("revision", "BIGINT", "1 = first delivery of this key, 2 = the next, …"),
        Column("revisions", "BIGINT", "how many deliveries stated this key"),
        Column("previous_value", "DOUBLE", "value of the previous revision"),
        Column("previous_status", "VARCHAR", "status of the previous revision"),
        Column("previous_delivery_id", "VARCHAR", "delivery of the previous revision"),
        Column("is_current", "BOOLEAN", "the latest revision: the one published"),
    ),
}


def render_markdown() -> str:
    """The column reference of docs/analysts.md (between its generated-section markers)."""
    parts = []
    for table, columns in MART_COLUMNS.items():
        parts.append(f"### `{table}`\n\n{TABLE_DESCRIPTIONS[table]}\n")
        parts.append("| column | type | meaning |\n|---|---|---|")
        parts += [f"| `{c.name}` | {c.type} | {c.description} |" for c in columns]
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"
