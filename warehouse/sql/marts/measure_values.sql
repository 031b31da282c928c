-- marts.measure_values: the counts as delivered — current revision per measure × region ×
-- school year × subgroup — with their status, source and delivery. Rows stay in the order of
-- the deliveries (not sorted: at national scale the sort took three times the build).
-- A view in the working warehouse: the publication is where it is materialised, once (a table
-- here too would write every current value twice per run).
CREATE OR REPLACE VIEW marts.measure_values AS
SELECT
    c.measure, m.label AS measure_label, m.unit,
    c.region_code, r.name AS region_name, r.level AS region_level, r.in_ruhr,
    c.school_year, c.start_year, c.sex, c.nationality,
    c.value, c.status, c.raw_value,
    c.source_id, s.title AS source_title, c.delivery_id, c.file_name, c.received_at,
    c.source_line, c.revisions, c.synthetic
FROM core.measure_revisions c
JOIN core.measures m ON m.measure = c.measure
LEFT JOIN core.regions r ON r.region_code = c.region_code
LEFT JOIN core.sources s ON s.source_id = c.source_id
WHERE c.is_current;
