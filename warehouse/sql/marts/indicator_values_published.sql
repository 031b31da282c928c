-- In the publication: marts.indicator_values is the open rows of marts.indicator_history (what
-- this publication says), and marts.indicator_values_as_of(moment) what the publication in
-- force at `moment` said — a TIMESTAMP (UTC), or a DATE: as published at the end of that day.
--     SELECT * FROM marts.indicator_values_as_of(DATE '2026-03-01') WHERE region_code = 'RVR'
-- Plain SQL views and a table macro: they work in every DuckDB client from 1.3 on.
CREATE OR REPLACE VIEW marts.indicator_values AS
SELECT * EXCLUDE (valid_from, valid_to) FROM marts.indicator_history WHERE valid_to IS NULL;

CREATE OR REPLACE MACRO marts.indicator_values_as_of(moment) AS TABLE
SELECT * EXCLUDE (valid_from, valid_to, as_of)
FROM marts.indicator_history,
    (SELECT CASE WHEN length(CAST(moment AS VARCHAR)) <= 10
                 THEN CAST(moment AS DATE) + INTERVAL 1 DAY - INTERVAL 1 MICROSECOND
                 ELSE CAST(moment AS TIMESTAMP) END AS as_of)
WHERE valid_from <= as_of AND (valid_to IS NULL OR valid_to > as_of);
