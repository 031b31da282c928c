-- marts.region_changes: the territorial changes since 2007 (schemas/territory.yaml and its
-- Kreis change list), one row per old key and new key of a change.
CREATE OR REPLACE TABLE marts.region_changes AS
SELECT old_code, old_name, new_code, new_name, level, effective, first_school_year, kind,
    change, share, source
FROM core.region_changes
ORDER BY effective, old_code, new_code;
