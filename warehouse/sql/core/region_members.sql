-- core.region_members: for every region, its member regions at each finer-or-equal level.
-- Indicators of a region are Σ numerator / Σ denominator over the members of the finest level
-- for which every member has data (warehouse/sql/indicators/indicator_values.sql), so a level
-- is listed only where its members cover the whole region: Germany has Regierungsbezirke in
-- seven Länder only, so Germany is never summed from them.
-- A region is its own member at its own level; a kreisfreie Stadt's Gemeinde (05112000) and
-- its Kreis (05112) cover the same territory, so each counts as the other's member too.
-- Dissolved regions and Berlin's Bezirke (parts of one Gemeinde) are never members.
CREATE OR REPLACE TABLE core.region_members AS
WITH RECURSIVE current_regions AS (
    SELECT * FROM core.regions
    WHERE is_current AND level NOT IN ('verband', 'stadtbezirk')
),
ancestry(region_code, ancestor_code) AS (
    SELECT region_code, region_code FROM current_regions
    UNION ALL
    SELECT a.region_code, r.parent_code
    FROM ancestry a JOIN current_regions r ON r.region_code = a.ancestor_code
    WHERE r.parent_code IS NOT NULL
),
single_gemeinde_kreise AS (
    SELECT kreis_code, min(region_code) AS gemeinde_code
    FROM current_regions WHERE level = 'gemeinde'
    GROUP BY kreis_code HAVING count(*) = 1
),
members AS (
    SELECT a.ancestor_code AS region_code, m.region_code AS member_code, m.level AS member_level
    FROM ancestry a JOIN current_regions m ON m.region_code = a.region_code
    UNION ALL
    -- the Ruhr: its 53 municipalities and 15 Kreise / kreisfreie Städte
    SELECT 'RVR', region_code, level FROM current_regions
    WHERE in_ruhr AND level IN ('gemeinde', 'kreis')
    UNION ALL
    SELECT 'RVR', 'RVR', 'verband'
    UNION ALL
    -- a kreisfreie Stadt: the Gemeinde counts its Kreis as a member (same territory)
    SELECT s.gemeinde_code, s.kreis_code, 'kreis' FROM single_gemeinde_kreise s
),
-- Regierungsbezirke cover a region only if every one of its Kreise lies in one
kreise_per_region AS (
    SELECT m.region_code,
        count(*) AS kreise,
        count(*) FILTER (WHERE rb.level = 'regierungsbezirk') AS kreise_in_a_bezirk
    FROM members m
    JOIN current_regions k ON k.region_code = m.member_code AND m.member_level = 'kreis'
    LEFT JOIN current_regions rb ON rb.region_code = k.parent_code
    GROUP BY m.region_code
)
SELECT DISTINCT m.region_code, m.member_code, m.member_level,
    CASE m.member_level
        WHEN 'gemeinde' THEN 1 WHEN 'kreis' THEN 2 WHEN 'regierungsbezirk' THEN 3
        WHEN 'land' THEN 4 WHEN 'verband' THEN 5 ELSE 6 END AS level_rank
FROM members m
LEFT JOIN kreise_per_region c ON c.region_code = m.region_code
WHERE m.member_level <> 'regierungsbezirk'
   OR m.member_code = m.region_code
   OR c.kreise = c.kreise_in_a_bezirk;
