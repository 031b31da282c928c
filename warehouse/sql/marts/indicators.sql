-- marts.indicators: the indicator catalogue: definition, unit, direction, goal, baseline, target,
-- and the registered sources that deliver the measures it is computed from (a gap indicator:
-- those of the rate it compares), so "where does the dropout rate come from" is one query.
CREATE OR REPLACE TABLE marts.indicators AS
WITH used AS (
    SELECT i.indicator_id, t.measure
    FROM core.indicators i
    JOIN core.indicator_terms t ON t.indicator_id = coalesce(i.of_indicator, i.indicator_id)
),
provenance AS (
    SELECT u.indicator_id,
        string_agg(DISTINCT s.source_id, ', ' ORDER BY s.source_id) AS sources,
        string_agg(DISTINCT s.title || ' (' || s.partner || ')', '; '
                   ORDER BY s.title || ' (' || s.partner || ')') AS source_titles
    FROM used u
    JOIN core.source_measures m ON m.measure = u.measure
    JOIN core.sources s ON s.source_id = m.source_id
    GROUP BY u.indicator_id
)
SELECT i.indicator_id, i.name, i.goal_id, g.title AS goal_title, i.kind, i.definition,
    i.numerator_measures, i.denominator_measures, i.scale, i.of_indicator, i.compares,
    i.unit, i.direction, i.baseline, i.target_value, i.target_year, i.responsible_partner,
    p.sources, p.source_titles
FROM core.indicators i JOIN core.goals g ON g.goal_id = i.goal_id
LEFT JOIN provenance p ON p.indicator_id = i.indicator_id
ORDER BY g.goal_id, i.indicator_id;
