-- marts.goals: the initiative's common goals.
CREATE OR REPLACE TABLE marts.goals AS
SELECT g.goal_id, g.title, g.description, g.lead_partner,
    count(i.indicator_id) AS indicators
FROM core.goals g LEFT JOIN core.indicators i ON i.goal_id = g.goal_id
GROUP BY ALL
ORDER BY g.goal_id;
