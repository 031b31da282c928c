-- core.measure_revisions: every value every accepted delivery stated, with its revision number.
-- The current revision of a key (measure × region × school year × subgroup) is the one from the
-- delivery received last; earlier ones stay, so "which delivery said what, when" is answerable.
CREATE OR REPLACE TABLE core.measure_revisions AS
WITH revisions AS (
    SELECT
        r.measure, r.region_code, r.school_year, r.start_year, r.sex, r.nationality,
        r.value, r.status, r.raw_value,
        r.source_id, r.delivery_id, d.delivery_seq, d.file_name, d.received_at, d.synthetic,
        r.source_line, r.source_column,
        row_number() OVER key_by_receipt AS revision,
        count(*) OVER (PARTITION BY r.measure, r.region_code, r.school_year, r.sex, r.nationality)
            AS revisions,
        lag(r.value) OVER key_by_receipt AS previous_value,
        lag(r.status) OVER key_by_receipt AS previous_status,
        lag(r.delivery_id) OVER key_by_receipt AS previous_delivery_id
    FROM staging.records r
    JOIN meta.deliveries d ON d.delivery_id = r.delivery_id AND d.source_id = r.source_id
    WHERE d.state IN ('loaded', 'loaded_with_quarantine')
    WINDOW key_by_receipt AS (
        PARTITION BY r.measure, r.region_code, r.school_year, r.sex, r.nationality
        ORDER BY d.delivery_seq
    )
)
SELECT *, revision = revisions AS is_current
FROM revisions;
