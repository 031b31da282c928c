-- marts.indicator_values: every indicator for every region, school year and subgroup it can be
-- computed for — from measures, never averaged from rates.
--
-- Rate indicators: for a region R the numerator and the denominator are Σ over R's members at
-- the finest level where every member has a numeric current value for every term measure
-- (Gemeinden first, then Kreise, Regierungsbezirke, Länder; R itself is its own member at its
-- own level, so a figure delivered only for R is the last resort). Numerator and denominator
-- use the same level. A member whose value is suppressed / not available makes that level
-- incomplete: an aggregate never silently leaves a municipality out.
-- Gap indicators: rate of one subgroup minus rate of the other, in percentage points.
CREATE OR REPLACE TABLE marts.indicator_values AS
WITH current_measures AS (
    SELECT measure, region_code, school_year, start_year, sex, nationality, value, status,
        source_id, synthetic
    FROM core.measure_revisions WHERE is_current
),
-- one value per indicator term (numerator / denominator) per region, summing the term's
-- measures (e.g. two Förderschule columns); incomplete when a term measure is missing
term_values AS (
    SELECT t.indicator_id, t.role, c.region_code, c.school_year, c.start_year, c.sex,
        c.nationality,
        sum(c.value) AS value,
        count(*) = max(t.term_measures) AND bool_and(c.value IS NOT NULL) AS numeric,
        max(CASE c.status WHEN 'unreliable' THEN 3 WHEN 'estimated' THEN 2
                          WHEN 'provisional' THEN 1 ELSE 0 END) AS flag_rank,
        list(DISTINCT c.source_id) AS sources,
        bool_or(c.synthetic) AS synthetic,
        min(c.status) FILTER (WHERE c.value IS NULL) AS missing_status
    FROM core.indicator_terms t
    JOIN current_measures c ON c.measure = t.measure
    GROUP BY ALL
),
-- Σ over members per target region and member level, with completeness
level_sums AS (
    SELECT tv.indicator_id, tv.role, m.region_code, m.member_level, m.level_rank,
        tv.school_year, tv.start_year, tv.sex, tv.nationality,
        sum(tv.value) AS value,
        count(*) FILTER (WHERE tv.numeric) AS members_with_data,
        max(tv.flag_rank) AS flag_rank,
        flatten(list(tv.sources)) AS sources,
        bool_or(tv.synthetic) AS synthetic,
        min(tv.missing_status) AS missing_status
    FROM term_values tv
    JOIN core.region_members m ON m.member_code = tv.region_code
    GROUP BY ALL
),
member_counts AS (
    SELECT region_code, member_level, count(*) AS members
    FROM core.region_members GROUP BY ALL
),
complete_levels AS (
    SELECT n.indicator_id, n.region_code, n.member_level, n.level_rank, n.school_year,
        n.start_year, n.sex, n.nationality,
        n.value AS numerator, d.value AS denominator,
        greatest(n.flag_rank, d.flag_rank) AS flag_rank,
        list_distinct(list_concat(n.sources, d.sources)) AS sources,
        n.synthetic OR d.synthetic AS synthetic,
        mc.members
    FROM level_sums n
    JOIN level_sums d
      ON d.indicator_id = n.indicator_id AND d.role = 'denominator'
     AND d.region_code = n.region_code AND d.member_level = n.member_level
     AND d.school_year = n.school_year AND d.sex = n.sex AND d.nationality = n.nationality
    JOIN member_counts mc ON mc.region_code = n.region_code AND mc.member_level = n.member_level
    WHERE n.role = 'numerator'
      AND n.members_with_data = mc.members AND d.members_with_data = mc.members
),
chosen AS (
    SELECT * FROM complete_levels
    QUALIFY row_number() OVER (
        PARTITION BY indicator_id, region_code, school_year, sex, nationality
        ORDER BY level_rank) = 1
),
-- where no level is complete, but the region's own figure carries a symbol (e.g. '.'),
-- publish that status rather than nothing
own_symbols AS (
    SELECT n.indicator_id, n.region_code, n.school_year, n.start_year, n.sex, n.nationality,
        coalesce(n.missing_status, d.missing_status) AS status,
        list_distinct(list_concat(n.sources, d.sources)) AS sources,
        n.synthetic OR d.synthetic AS synthetic
    FROM level_sums n
    JOIN level_sums d
      ON d.indicator_id = n.indicator_id AND d.role = 'denominator'
     AND d.region_code = n.region_code AND d.member_level = n.member_level
     AND d.school_year = n.school_year AND d.sex = n.sex AND d.nationality = n.nationality
    JOIN core.regions r ON r.region_code = n.region_code AND r.level = n.member_level
    WHERE n.role = 'numerator'
      AND coalesce(n.missing_status, d.missing_status) IS NOT NULL
),
rates AS (
    SELECT c.indicator_id, c.region_code, c.school_year, c.start_year, c.sex, c.nationality,
        CASE WHEN c.denominator > 0 THEN i.scale * c.numerator / c.denominator END AS value,
        c.numerator, c.denominator,
        CASE WHEN c.denominator = 0 THEN 'not_applicable'
             WHEN c.flag_rank = 3 THEN 'unreliable' WHEN c.flag_rank = 2 THEN 'estimated'
             WHEN c.flag_rank = 1 THEN 'provisional' ELSE 'ok' END AS status,
        c.member_level AS computed_from_level, c.members AS member_count,
        c.sources, c.synthetic
    FROM chosen c JOIN core.indicators i ON i.indicator_id = c.indicator_id
    UNION ALL
    SELECT o.indicator_id, o.region_code, o.school_year, o.start_year, o.sex, o.nationality,
        NULL, NULL, NULL, o.status, NULL, NULL, o.sources, o.synthetic
    FROM own_symbols o
    WHERE NOT EXISTS (
        SELECT 1 FROM chosen c
        WHERE c.indicator_id = o.indicator_id AND c.region_code = o.region_code
          AND c.school_year = o.school_year AND c.sex = o.sex AND c.nationality = o.nationality)
),
gaps AS (
    SELECT g.indicator_id, a.region_code, a.school_year, a.start_year,
        CASE WHEN g.compares = 'sex' THEN 'total' ELSE a.sex END AS sex,
        CASE WHEN g.compares = 'nationality' THEN 'total' ELSE a.nationality END AS nationality,
        a.value - b.value AS value, NULL::DOUBLE AS numerator, NULL::DOUBLE AS denominator,
        CASE WHEN a.value IS NULL OR b.value IS NULL THEN coalesce(
                 nullif(a.status, 'ok'), nullif(b.status, 'ok'), 'not_available')
             WHEN a.status <> 'ok' THEN a.status WHEN b.status <> 'ok' THEN b.status
             ELSE 'ok' END AS status,
        least(a.computed_from_level, b.computed_from_level) AS computed_from_level,
        least(a.member_count, b.member_count) AS member_count,
        list_distinct(list_concat(a.sources, b.sources)) AS sources,
        a.synthetic OR b.synthetic AS synthetic
    FROM core.indicator_gaps g
    JOIN rates a ON a.indicator_id = g.of_indicator
        AND (g.compares <> 'sex' OR a.sex = g.minuend_value)
        AND (g.compares <> 'nationality' OR a.nationality = g.minuend_value)
    JOIN rates b ON b.indicator_id = g.of_indicator AND b.region_code = a.region_code
        AND b.school_year = a.school_year
        AND (CASE WHEN g.compares = 'sex' THEN b.sex = g.subtrahend_value
                  ELSE b.sex = a.sex END)
        AND (CASE WHEN g.compares = 'nationality' THEN b.nationality = g.subtrahend_value
                  ELSE b.nationality = a.nationality END)
),
all_values AS (
    SELECT * FROM rates UNION ALL SELECT * FROM gaps
)
SELECT
    v.indicator_id, i.name AS indicator_name, i.goal_id,
    v.region_code, r.name AS region_name, r.level AS region_level, r.in_ruhr,
    v.school_year, v.start_year, v.sex, v.nationality,
    v.value, v.numerator, v.denominator, i.unit, v.status,
    v.computed_from_level, v.member_count,
    array_to_string(list_sort(v.sources), ', ') AS sources,
    coalesce(v.synthetic, false) AS synthetic
FROM all_values v
JOIN core.indicators i ON i.indicator_id = v.indicator_id
JOIN core.regions r ON r.region_code = v.region_code
ORDER BY v.indicator_id, v.region_code, v.start_year, v.sex, v.nationality;
