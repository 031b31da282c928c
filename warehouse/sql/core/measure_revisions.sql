-- core.measure_revisions: every value every accepted delivery stated, with its revision number.
-- A key (measure × region × school year × subgroup) may be stated by several deliveries, of one
-- source or of several, and by one delivery more than once: the bytes of an earlier delivery
-- sent again after a later one replaced it are a revert (meta.delivery_events), which states
-- its values anew. Statements are numbered in order of receipt; the current value of a cell is
-- decided by precedence, whatever the arrival order: the delivery of the source with the
-- highest standing (official, then partner, then synthetic; within a standing the lower rank —
-- sources/registry/*.yaml), and of that source the one that stated it last. A cell is one
-- territory: a kreisfreie Stadt's Gemeinde key and Kreis key (05112000, 05112), or a Land of
-- one Kreis and that Kreis, name the same one. Earlier and outranked values stay, so "which
-- delivery said what, when" is answerable (core.measure_history).
--
-- Only a key stated more than once has revisions to number or a precedence to decide, and such
-- keys can lie only in a (measure, school year) that more than one statement covers.
-- core.revision_numbers holds those keys alone, one row per statement, on narrow columns;
-- core.measure_revisions and core.measure_history are views that join it to the staged records
-- (at national scale writing every staged value once more, with its delivery's columns, cost
-- more than all of the staging checks of a source).
CREATE OR REPLACE TABLE core.revision_numbers AS
WITH accepted AS (
    -- a source no longer registered comes last
    SELECT d.delivery_id, d.source_id, d.delivery_seq, d.received_at,
        coalesce(list_position(['official', 'partner', 'synthetic'], s.standing), 4)
            AS standing_order,
        coalesce(s.rank, 2147483647) AS rank
    FROM meta.deliveries d
    LEFT JOIN core.sources s ON s.source_id = d.source_id
    WHERE d.state IN ('loaded', 'loaded_with_quarantine')
),
-- every time a delivery stated its values: when it was received, and each revert
statements AS (
    SELECT delivery_id, source_id, delivery_seq AS statement_seq, received_at AS stated_at,
        'received' AS event, standing_order, rank
    FROM accepted
    UNION ALL
    SELECT e.delivery_id, e.source_id, e.event_seq, e.happened_at, e.event, a.standing_order,
        a.rank
    FROM meta.delivery_events e
    JOIN accepted a ON a.delivery_id = e.delivery_id AND a.source_id = e.source_id
),
-- (measure, school year) stated more than once; counted on the distinct (delivery, measure,
-- school year) first, so that the join below starts from the few shared
shared_years AS (
    SELECT s.measure, s.school_year
    FROM (SELECT DISTINCT delivery_id, source_id, measure, school_year FROM staging.records) s
    JOIN statements d ON d.delivery_id = s.delivery_id AND d.source_id = s.source_id
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
        r.school_year, r.sex, r.nationality, r.value, r.status, r.source_id, r.delivery_id,
        d.statement_seq, d.stated_at, d.event, d.standing_order, d.rank,
        -- the delivery's latest statement: the one that counts for precedence
        d.statement_seq = max(d.statement_seq) OVER (PARTITION BY r.delivery_id, r.measure,
            r.region_code, r.school_year, r.sex, r.nationality) AS latest_of_delivery
    FROM staging.records r
    JOIN statements d ON d.delivery_id = r.delivery_id AND d.source_id = r.source_id
    JOIN shared_years y ON y.measure = r.measure AND y.school_year = r.school_year
    LEFT JOIN territories t ON t.region_code = r.region_code
),
numbered AS (
    SELECT r.*,
        row_number() OVER key_by_receipt AS revision,
        lag(r.value) OVER key_by_receipt AS previous_value,
        lag(r.status) OVER key_by_receipt AS previous_status,
        lag(r.delivery_id) OVER key_by_receipt AS previous_delivery_id,
        -- a statement that changed the cell's value (or status) against the one before
        coalesce((r.value, r.status) IS DISTINCT FROM (lag(r.value) OVER key_by_receipt,
            lag(r.status) OVER key_by_receipt), false)
            AND row_number() OVER key_by_receipt > 1 AS changed,
        -- until the same source stated the key again
        lead(r.stated_at) OVER (PARTITION BY r.source_id, r.measure, r.region_code,
            r.school_year, r.sex, r.nationality ORDER BY r.statement_seq) AS valid_to,
        -- the cell's current statement: every key of it that delivery states is current
        r.statement_seq = first_value(r.statement_seq) OVER (
            PARTITION BY r.measure, r.territory, r.school_year, r.sex, r.nationality
            ORDER BY r.standing_order, r.rank, r.statement_seq DESC
        ) AS is_current
    FROM records r
    WINDOW key_by_receipt AS (
        PARTITION BY r.measure, r.region_code, r.school_year, r.sex, r.nationality
        ORDER BY r.statement_seq
    )
)
SELECT measure, region_code, school_year, sex, nationality, delivery_id, statement_seq,
    stated_at, event, valid_to, latest_of_delivery, revision,
    -- how many times a statement changed the cell's value: 0 = never
    count(*) FILTER (WHERE changed) OVER (
        PARTITION BY measure, region_code, school_year, sex, nationality) AS revisions,
    previous_value, previous_status, previous_delivery_id,
    -- a delivery restated by a revert is current through its latest statement only
    is_current AND latest_of_delivery AS is_current
FROM numbered;

CREATE OR REPLACE VIEW core.measure_revisions AS
SELECT
    r.measure, r.region_code, r.school_year, r.start_year, r.sex, r.nationality,
    r.value, r.status, r.raw_value,
    r.source_id, r.delivery_id, d.delivery_seq, d.file_name, d.received_at, d.synthetic,
    r.source_line, r.source_column,
    coalesce(n.revision, 1) AS revision,
    coalesce(n.revisions, 0) AS revisions,
    n.previous_value,
    n.previous_status,
    n.previous_delivery_id,
    coalesce(n.is_current, true) AS is_current
FROM staging.records r
JOIN meta.deliveries d ON d.delivery_id = r.delivery_id AND d.source_id = r.source_id
LEFT JOIN core.revision_numbers n ON n.delivery_id = r.delivery_id AND n.latest_of_delivery
    AND n.measure IS NOT DISTINCT FROM r.measure
    AND n.region_code IS NOT DISTINCT FROM r.region_code
    AND n.school_year IS NOT DISTINCT FROM r.school_year
    AND n.sex IS NOT DISTINCT FROM r.sex
    AND n.nationality IS NOT DISTINCT FROM r.nationality
WHERE d.state IN ('loaded', 'loaded_with_quarantine');

-- core.measure_history: every value a source ever stated, one row per statement — its
-- delivery, the event (received, or a revert of an earlier delivery), valid_from (when the
-- pipeline received it) and valid_to (when the same source stated the key again; NULL: it is
-- still the source's word), and whether it is the published value now.
CREATE OR REPLACE VIEW core.measure_history AS
SELECT
    r.measure, r.region_code, r.school_year, r.start_year, r.sex, r.nationality,
    r.value, r.status, r.raw_value,
    r.source_id, r.delivery_id, d.file_name, r.source_line,
    coalesce(n.event, 'received') AS event,
    coalesce(n.stated_at, d.received_at) AS valid_from,
    n.valid_to,
    coalesce(n.revision, 1) AS revision,
    coalesce(n.revisions, 0) AS revisions,
    coalesce(n.is_current, true) AS is_current,
    d.received_at, d.synthetic
FROM staging.records r
JOIN meta.deliveries d ON d.delivery_id = r.delivery_id AND d.source_id = r.source_id
LEFT JOIN core.revision_numbers n ON n.delivery_id = r.delivery_id
    AND n.measure IS NOT DISTINCT FROM r.measure
    AND n.region_code IS NOT DISTINCT FROM r.region_code
    AND n.school_year IS NOT DISTINCT FROM r.school_year
    AND n.sex IS NOT DISTINCT FROM r.sex
    AND n.nationality IS NOT DISTINCT FROM r.nationality
WHERE d.state IN ('loaded', 'loaded_with_quarantine');
