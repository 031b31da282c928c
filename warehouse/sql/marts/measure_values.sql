-- marts.measure_values: the counts as delivered — the current statement per measure × region ×
-- school year × subgroup (marts.measure_history) — with their status, source and delivery.
-- Rows stay in the order of the deliveries (not sorted: at national scale the sort took three
-- times the build). A view, in the working warehouse and in the publication alike: there
-- marts.measure_history is the table, and the current values are not written twice.
CREATE OR REPLACE VIEW marts.measure_values AS
SELECT
    measure, measure_label, unit,
    region_code, region_name, region_level, in_ruhr,
    school_year, start_year, sex, nationality,
    value, status, raw_value,
    source_id, source_title, delivery_id, file_name, received_at,
    source_line, revisions, synthetic
FROM marts.measure_history
WHERE is_current;
