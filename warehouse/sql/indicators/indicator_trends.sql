-- marts.indicator_trends: indicator_values plus the comparisons the steering group reads:
-- change vs the previous school year and vs the baseline year, distance to the target
-- (positive = still to go, whichever the direction), and the Ruhr and NRW values alongside.
-- A view in the working warehouse, materialised once in the publication.
CREATE OR REPLACE VIEW marts.indicator_trends AS
WITH v AS NOT MATERIALIZED (SELECT * FROM marts.indicator_values),
baseline AS (
    SELECT v.indicator_id, v.region_code, v.sex, v.nationality, v.value AS baseline_value
    FROM v JOIN core.indicators i ON i.indicator_id = v.indicator_id
    WHERE v.school_year = i.baseline
),
reference AS (
    SELECT indicator_id, school_year, sex, nationality,
        max(value) FILTER (WHERE region_code = 'RVR') AS ruhr_value,
        max(value) FILTER (WHERE region_code = '05') AS nrw_value
    FROM v WHERE region_code IN ('RVR', '05')
    GROUP BY ALL
)
SELECT
    v.indicator_id, v.indicator_name, v.goal_id, v.region_code, v.region_name, v.region_level,
    v.in_ruhr, v.school_year, v.start_year, v.sex, v.nationality, v.value, v.unit, v.status,
    v.aggregation, v.series_break, v.series_break_reason,
    p.school_year AS previous_school_year,
    p.value AS previous_value,
    v.value - p.value AS change_vs_previous,
    i.baseline AS baseline_school_year,
    b.baseline_value,
    v.value - b.baseline_value AS change_vs_baseline,
    i.direction,
    i.target_value, i.target_year,
    CASE i.direction WHEN 'up' THEN i.target_value - v.value
                     ELSE v.value - i.target_value END AS distance_to_target,
    CASE i.direction WHEN 'up' THEN v.value >= i.target_value
                     ELSE v.value <= i.target_value END AS target_reached,
    ref.ruhr_value, v.value - ref.ruhr_value AS difference_to_ruhr,
    ref.nrw_value, v.value - ref.nrw_value AS difference_to_nrw,
    v.sources, v.synthetic
FROM v
JOIN core.indicators i ON i.indicator_id = v.indicator_id
LEFT JOIN v p ON p.indicator_id = v.indicator_id AND p.region_code = v.region_code
    AND p.sex = v.sex AND p.nationality = v.nationality AND p.start_year = v.start_year - 1
LEFT JOIN baseline b ON b.indicator_id = v.indicator_id AND b.region_code = v.region_code
    AND b.sex = v.sex AND b.nationality = v.nationality
LEFT JOIN reference ref ON ref.indicator_id = v.indicator_id AND ref.school_year = v.school_year
    AND ref.sex = v.sex AND ref.nationality = v.nationality
ORDER BY v.indicator_id, v.region_code, v.start_year, v.sex, v.nationality;
