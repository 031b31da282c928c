-- In the publication: marts.measure_history is marts.measure_statements (one row per statement:
-- its keys, figure, delivery and validity) with the names of its measure, region and source
-- from marts.measures, marts.regions and meta.sources — each name stored once, not once per
-- statement. A plain SQL view: it works in every DuckDB client from 1.3 on.
CREATE OR REPLACE VIEW marts.measure_history AS
SELECT
    c.measure, m.label AS measure_label, m.unit,
    c.region_code, r.name AS region_name, r.level AS region_level, r.in_ruhr,
    c.school_year, c.start_year, c.sex, c.nationality,
    c.value, c.status, c.raw_value,
    c.source_id, s.title AS source_title, c.delivery_id, c.file_name, c.received_at,
    c.source_line, c.revisions, c.synthetic,
    c.revision, c.event, c.valid_from, c.valid_to, c.is_current
FROM marts.measure_statements c
JOIN marts.measures m ON m.measure = c.measure
LEFT JOIN marts.regions r ON r.region_code = c.region_code
LEFT JOIN meta.sources s ON s.source_id = c.source_id;
