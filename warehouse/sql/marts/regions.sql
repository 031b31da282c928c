-- marts.regions: one row per region: official key, name, level, parent, Ruhr membership.
CREATE OR REPLACE TABLE marts.regions AS
SELECT region_code, name, official_name, level, parent_code, kreis_code, land_code, in_ruhr,
    is_current
FROM core.regions
ORDER BY region_code;
