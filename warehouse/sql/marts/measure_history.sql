-- marts.measure_history: every value a source ever stated — one row per statement: the
-- delivery that stated it, when (valid_from: received, or restored by a revert) and until when
-- the source held it (valid_to: the next statement of the same source for the same key; NULL
-- while it still does), and whether it is the published value now (is_current: precedence,
-- docs/sources.md). marts.measure_values is its current rows.
-- A view in the working warehouse: the publication is where it is materialised, once.
CREATE OR REPLACE VIEW marts.measure_history AS
SELECT
    c.measure, m.label AS measure_label, m.unit,
    c.region_code, r.name AS region_name, r.level AS region_level, r.in_ruhr,
    c.school_year, c.start_year, c.sex, c.nationality,
    c.value, c.status, c.raw_value,
    c.source_id, s.title AS source_title, c.delivery_id, c.file_name, c.received_at,
    c.source_line, c.revisions, c.synthetic,
    c.revision, c.event, c.valid_from, c.valid_to, c.is_current
FROM core.measure_history c
JOIN core.measures m ON m.measure = c.measure
LEFT JOIN core.regions r ON r.region_code = c.region_code
LEFT JOIN core.sources s ON s.source_id = c.source_id;
