-- marts.regions: one row per region key: official key, name, level, parent, Ruhr membership,
-- validity. is_current is today's territory; keys ended by a change stay (with valid_until),
-- so that every key a delivery used has a name.
CREATE OR REPLACE TABLE marts.regions AS
SELECT region_code, name, official_name, level, parent_code, kreis_code, land_code, in_ruhr,
    is_current, valid_from, valid_until
FROM core.regions
ORDER BY region_code;
