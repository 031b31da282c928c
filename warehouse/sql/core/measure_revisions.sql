-- core.measure_revisions: every value every accepted delivery stated, with its revision number.
-- The current revision of a key (measure × region × school year × subgroup) is the one from the
-- delivery received last; earlier ones stay, so "which delivery said what, when" is answerable.
--
-- Only a key stated by more than one delivery has revisions to number, and such keys can lie
-- only in a (measure, school year) that more than one delivery covers: the window runs over
-- those rows alone, on narrow columns, and the wide rows are joined once (at national scale the
-- window over every wide row cost four times the rest of the statement).
CREATE OR REPLACE TABLE core.measure_revisions AS
WITH accepted AS (
    SELECT delivery_id, source_id, delivery_seq, file_name, received_at, synthetic
    FROM meta.deliveries
    WHERE state IN ('loaded', 'loaded_with_quarantine')
),
records AS NOT MATERIALIZED (
    SELECT r.rowid AS record_row, r.*, d.delivery_seq, d.file_name, d.received_at, d.synthetic
    FROM staging.records r
    JOIN accepted d ON d.delivery_id = r.delivery_id AND d.source_id = r.source_id
),
shared_years AS (
    SELECT measure, school_year
    FROM (SELECT DISTINCT delivery_seq, measure, school_year FROM records)
    GROUP BY ALL
    HAVING count(*) > 1
),
numbered AS (
    SELECT
        r.record_row,
        row_number() OVER key_by_receipt AS revision,
        count(*) OVER (PARTITION BY r.measure, r.region_code, r.school_year, r.sex, r.nationality)
            AS revisions,
        lag(r.value) OVER key_by_receipt AS previous_value,
        lag(r.status) OVER key_by_receipt AS previous_status,
        lag(r.delivery_seq) OVER key_by_receipt AS previous_seq
    FROM records r
    SEMI JOIN shared_years y ON y.measure = r.measure AND y.school_year = r.school_year
    WINDOW key_by_receipt AS (
        PARTITION BY r.measure, r.region_code, r.school_year, r.sex, r.nationality
        ORDER BY r.delivery_seq
    )
)
SELECT
    r.measure, r.region_code, r.school_year, r.start_year, r.sex, r.nationality,
    r.value, r.status, r.raw_value,
    r.source_id, r.delivery_id, r.delivery_seq, r.file_name, r.received_at, r.synthetic,
    r.source_line, r.source_column,
    coalesce(n.revision, 1) AS revision,
    coalesce(n.revisions, 1) AS revisions,
    n.previous_value,
    n.previous_status,
    p.delivery_id AS previous_delivery_id,
    coalesce(n.revision = n.revisions, true) AS is_current
FROM records r
LEFT JOIN numbered n ON n.record_row = r.record_row
LEFT JOIN meta.deliveries p ON p.delivery_seq = n.previous_seq;
