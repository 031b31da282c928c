-- core.measure_revisions: every value every accepted delivery stated, with its revision number.
-- A key (measure × region × school year × subgroup) may be stated by several deliveries, of one
-- source or of several. Revisions are numbered in order of receipt; the current value of a
-- cell is decided by precedence, whatever the arrival order: the delivery of the source with
-- the highest standing (official, then partner, then synthetic; within a standing the lower
-- rank — sources/registry/*.yaml), and of that source the one received last. A cell is one
-- territory: a kreisfreie Stadt's Gemeinde key and Kreis key (05112000, 05112), or a Land of
-- one Kreis and that Kreis, name the same one. Earlier and outranked values stay, so "which
-- delivery said what, when" is answerable.
--
-- Only a key stated by more than one delivery has revisions to number or a precedence to
-- decide, and such keys can lie only in a (measure, school year) that more than one delivery
-- covers. core.revision_numbers holds those keys alone, on narrow columns; core.measure_revisions
-- is a view that joins it to the staged records (at national scale writing every staged value
-- once more, with its delivery's columns, cost more than all of the staging checks of a source).
CREATE OR REPLACE TABLE core.revision_numbers AS
WITH accepted AS (
    -- a source no longer registered comes last
    SELECT d.delivery_id, d.source_id, d.delivery_seq,
        coalesce(list_position(['official', 'partner', 'synthetic'], s.standing), 4)
            AS standing_order,
        coalesce(s.rank, 2147483647) AS rank
    FROM meta.deliveries d
    LEFT JOIN core.sources s ON s.source_id = d.source_id
    WHERE d.state IN ('loaded', 'loaded_with_quarantine')
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
current_regions AS (
    SELECT * FROM core.regions WHERE is_current AND level IN ('land', 'kreis', 'gemeinde')
),
-- a Kreis of one Gemeinde (kreisfreie Stadt), a Land of one Kreis (Berlin, Hamburg)
kreisfrei AS (
    SELECT kreis_code, min(region_code) AS gemeinde_code FROM current_regions
    WHERE level = 'gemeinde' GROUP BY kreis_code HAVING count(*) = 1
),
one_kreis AS (
    SELECT land_code, min(region_code) AS kreis_code FROM current_regions
    WHERE level = 'kreis' GROUP BY land_code HAVING count(*) = 1
),
-- every key of such a territory -> its coarsest key
territories AS (
    SELECT k.gemeinde_code AS region_code, coalesce(o.land_code, k.kreis_code) AS territory
    FROM kreisfrei k LEFT JOIN one_kreis o ON o.kreis_code = k.kreis_code
    UNION ALL
    SELECT kreis_code, land_code FROM one_kreis
),
records AS (
    SELECT r.measure, r.region_code, coalesce(t.territory, r.region_code) AS territory,
        r.school_year, r.sex, r.nationality, r.value, r.status, r.delivery_id,
        d.delivery_seq, d.standing_order, d.rank
    FROM staging.records r
    JOIN accepted d ON d.delivery_id = r.delivery_id AND d.source_id = r.source_id
    JOIN shared_years y ON y.measure = r.measure AND y.school_year = r.school_year
    LEFT JOIN territories t ON t.region_code = r.region_code
)
SELECT
    r.measure, r.region_code, r.school_year, r.sex, r.nationality, r.delivery_id,
    row_number() OVER key_by_receipt AS revision,
    count(*) OVER (PARTITION BY r.measure, r.region_code, r.school_year, r.sex, r.nationality)
        AS revisions,
    lag(r.value) OVER key_by_receipt AS previous_value,
    lag(r.status) OVER key_by_receipt AS previous_status,
    lag(r.delivery_id) OVER key_by_receipt AS previous_delivery_id,
    -- the cell's current delivery: every key of it that delivery states is current
    r.delivery_seq = first_value(r.delivery_seq) OVER (
        PARTITION BY r.measure, r.territory, r.school_year, r.sex, r.nationality
        ORDER BY r.standing_order, r.rank, r.delivery_seq DESC
    ) AS is_current
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
    coalesce(n.is_current, true) AS is_current
FROM staging.records r
JOIN meta.deliveries d ON d.delivery_id = r.delivery_id AND d.source_id = r.source_id
LEFT JOIN core.revision_numbers n ON n.delivery_id = r.delivery_id
    AND n.measure IS NOT DISTINCT FROM r.measure
    AND n.region_code IS NOT DISTINCT FROM r.region_code
    AND n.school_year IS NOT DISTINCT FROM r.school_year
    AND n.sex IS NOT DISTINCT FROM r.sex
    AND n.nationality IS NOT DISTINCT FROM r.nationality
WHERE d.state IN ('loaded', 'loaded_with_quarantine');
