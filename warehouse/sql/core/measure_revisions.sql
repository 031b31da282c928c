-- core.measure_revisions: every value every accepted delivery stated, with its revision number.
-- The current revision of a key (measure × region × school year × subgroup) is the one from the
-- delivery received last; earlier ones stay, so "which delivery said what, when" is answerable.
--
-- Only a key stated by more than one delivery has revisions to number, and such keys can lie
-- only in a (measure, school year) that more than one delivery covers. core.revision_numbers
-- holds the numbering of those keys alone, on narrow columns; core.measure_revisions is a view
-- that joins it to the staged records (at national scale writing every staged value once more,
-- with its delivery's columns, cost more than all of the staging checks of a source).
CREATE OR REPLACE TABLE core.revision_numbers AS
WITH accepted AS (
    SELECT delivery_id, source_id, delivery_seq
    FROM meta.deliveries
    WHERE state IN ('loaded', 'loaded_with_quarantine')
),
-- (measure, school year) stated by more than one accepted delivery; counted on the distinct
-- (delivery, measure, school year) first, so that the join below starts from the few shared
shared_years AS (
    SELECT s.measure, s.school_year
    FROM (SELECT DISTINCT delivery_id, source_id, measure, school_year FROM staging.records) s
    JOIN accepted d ON d.delivery_id = s.delivery_id AND d.source_id = s.source_id
    GROUP BY ALL
    HAVING count(*) > 1
),
records AS (
    SELECT r.measure, r.region_code, r.school_year, r.sex, r.nationality, r.value, r.status,
        r.delivery_id, d.delivery_seq
    FROM staging.records r
    JOIN accepted d ON d.delivery_id = r.delivery_id AND d.source_id = r.source_id
    JOIN shared_years y ON y.measure = r.measure AND y.school_year = r.school_year
)
SELECT
    r.measure, r.region_code, r.school_year, r.sex, r.nationality, r.delivery_id,
    row_number() OVER key_by_receipt AS revision,
    count(*) OVER (PARTITION BY r.measure, r.region_code, r.school_year, r.sex, r.nationality)
        AS revisions,
    lag(r.value) OVER key_by_receipt AS previous_value,
    lag(r.status) OVER key_by_receipt AS previous_status,
    lag(r.delivery_id) OVER key_by_receipt AS previous_delivery_id
FROM records r
WINDOW key_by_receipt AS (
    PARTITION BY r.measure, r.region_code, r.school_year, r.sex, r.nationality
    ORDER BY r.delivery_seq
);

CREATE OR REPLACE VIEW core.measure_revisions AS
SELECT
    r.measure, r.region_code, r.school_year, r.start_year, r.sex, r.nationality,
    r.value, r.status, r.raw_value,
    r.source_id, r.delivery_id, d.delivery_seq, d.file_name, d.received_at, d.synthetic,
    r.source_line, r.source_column,
    coalesce(n.revision, 1) AS revision,
    coalesce(n.revisions, 1) AS revisions,
    n.previous_value,
    n.previous_status,
    n.previous_delivery_id,
    coalesce(n.revision = n.revisions, true) AS is_current
FROM staging.records r
JOIN meta.deliveries d ON d.delivery_id = r.delivery_id AND d.source_id = r.source_id
LEFT JOIN core.revision_numbers n ON n.delivery_id = r.delivery_id
    AND n.measure IS NOT DISTINCT FROM r.measure
    AND n.region_code IS NOT DISTINCT FROM r.region_code
    AND n.school_year IS NOT DISTINCT FROM r.school_year
    AND n.sex IS NOT DISTINCT FROM r.sex
    AND n.nationality IS NOT DISTINCT FROM r.nationality
WHERE d.state IN ('loaded', 'loaded_with_quarantine');
