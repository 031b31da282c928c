-- marts.indicators: the indicator catalogue: definition, unit, direction, goal, baseline, target.
CREATE OR REPLACE TABLE marts.indicators AS
SELECT i.indicator_id, i.name, i.goal_id, g.title AS goal_title, i.kind, i.definition,
    i.numerator_measures, i.denominator_measures, i.scale, i.of_indicator, i.compares,
    i.unit, i.direction, i.baseline, i.target_value, i.target_year, i.responsible_partner
FROM core.indicators i JOIN core.goals g ON g.goal_id = i.goal_id
ORDER BY g.goal_id, i.indicator_id;
