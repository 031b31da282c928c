-- marts.indicator_values: every indicator for every region, school year and subgroup it can be
-- computed for — from measures, never averaged from rates.
--
-- Rate indicators, delivered before computed: a region's own figure — delivered for the region
-- itself, or for the same territory under another key (a kreisfreie Stadt's Kreis and Gemeinde,
-- a Land of one Kreis) — is published as delivered (`aggregation` = 'delivered'). Only where a
-- region has no complete own figure, numerator and denominator are Σ over its members at the
-- finest level where every member has a numeric current value for every term measure
-- (Gemeinden first, then Kreise, Regierungsbezirke, Länder: 'summed from N parts'). Numerator
-- and denominator always come from the same level. A member whose value is suppressed / not
-- available makes that level incomplete: an aggregate never silently leaves a municipality out.
-- Gap indicators: rate of one subgroup minus rate of the other, in percentage points.
-- A value whose sources or aggregation differ from the value of the school year before carries
-- `series_break` with the reason.
-- Territory over time (schemas/territory.yaml): a region formed by a merge or a rename gets
-- figures for the school years before the change as Σ of its predecessors' (aggregation
-- 'summed from N predecessors (…)' / 'carried from predecessor … (…)'), only where every
-- predecessor has the term: the series goes on, on today's territory, without a break. A key
-- that goes on with another territory (a split, or a merge that could not be summed) breaks.
CREATE OR REPLACE TABLE marts.indicator_values AS
WITH
-- the sources a value rests on, as bits (one per source): OR-ing bits is cheap where lists of
-- names on millions of rows are not; the names come back at the very end
source_bits AS (
    SELECT source_id, (row_number() OVER (ORDER BY source_id) - 1)::INTEGER AS bit,
        greatest(count(*) OVER (), 1)::INTEGER AS width
    FROM core.sources
),
source_masks AS (
    SELECT source_id, bit, set_bit(bitstring('0', width), bit, 1) AS mask FROM source_bits
),
-- numerator and denominator of every indicator, region, school year and subgroup in one row:
-- each term summing its measures (e.g. two Förderschule columns); a term is numeric when all
-- its measures are there with a number
own_terms AS MATERIALIZED (
    SELECT t.indicator_id, c.region_code, c.school_year, c.start_year, c.sex, c.nationality,
        sum(c.value) FILTER (WHERE t.role = 'numerator') AS num,
        sum(c.value) FILTER (WHERE t.role = 'denominator') AS den,
        coalesce(count(*) FILTER (WHERE t.role = 'numerator')
                 = max(t.term_measures) FILTER (WHERE t.role = 'numerator')
                 AND bool_and(c.value IS NOT NULL) FILTER (WHERE t.role = 'numerator'),
                 false) AS num_numeric,
        coalesce(count(*) FILTER (WHERE t.role = 'denominator')
                 = max(t.term_measures) FILTER (WHERE t.role = 'denominator')
                 AND bool_and(c.value IS NOT NULL) FILTER (WHERE t.role = 'denominator'),
                 false) AS den_numeric,
        count(*) FILTER (WHERE t.role = 'numerator') > 0 AS has_num,
        count(*) FILTER (WHERE t.role = 'denominator') > 0 AS has_den,
        max(CASE c.status WHEN 'unreliable' THEN 3 WHEN 'estimated' THEN 2
                          WHEN 'provisional' THEN 1 ELSE 0 END) AS flag_rank,
        bit_or(s.mask) AS sources,
        bool_or(c.synthetic) AS synthetic,
        min(c.status) FILTER (WHERE t.role = 'numerator' AND c.value IS NULL) AS num_missing,
        min(c.status) FILTER (WHERE t.role = 'denominator' AND c.value IS NULL) AS den_missing
    FROM core.indicator_terms t
    JOIN core.measure_revisions c ON c.measure = t.measure AND c.is_current
    LEFT JOIN source_masks s ON s.source_id = c.source_id
    GROUP BY ALL
),
-- the predecessors' terms summed for their successor (a small table: dissolved keys' years)
carried_sums AS (
    SELECT o.indicator_id, s.successor_code AS region_code, o.school_year, o.start_year, o.sex,
        o.nationality, sum(o.num) AS num, sum(o.den) AS den,
        bool_and(o.num_numeric) AND count(*) = any_value(s.predecessors) AS num_numeric,
        bool_and(o.den_numeric) AND count(*) = any_value(s.predecessors) AS den_numeric,
        true AS has_num, true AS has_den, max(o.flag_rank) AS flag_rank,
        bit_or(o.sources) AS sources, bool_or(o.synthetic) AS synthetic,
        NULL::VARCHAR AS num_missing, NULL::VARCHAR AS den_missing,
        any_value(s.rule) AS carried_rule,
        -- the successor is one of its predecessors: its own figure is the old territory's
        bool_or(s.predecessor_code = s.successor_code) AS replaces_own
    FROM own_terms o
    JOIN core.region_successions s
        ON s.predecessor_code = o.region_code AND o.start_year < s.first_start_year
    GROUP BY o.indicator_id, s.successor_code, o.school_year, o.start_year, o.sex, o.nationality
),
carried AS (
    SELECT * FROM carried_sums WHERE num_numeric AND den_numeric
),
-- the successors' own figures (the probe of the precedence below stays small)
successor_own AS (
    SELECT o.indicator_id, o.region_code, o.school_year, o.sex, o.nationality
    FROM own_terms o
    WHERE o.region_code IN (SELECT successor_code FROM core.region_successions)
),
-- a delivered figure of the successor comes first, unless it is the old territory's
term_values AS NOT MATERIALIZED (
    SELECT o.*, NULL::VARCHAR AS carried_rule
    FROM own_terms o
    WHERE NOT EXISTS (
        SELECT 1 FROM carried c
        WHERE c.replaces_own AND c.indicator_id = o.indicator_id
          AND c.region_code = o.region_code AND c.school_year = o.school_year
          AND c.sex = o.sex AND c.nationality = o.nationality)
    UNION ALL BY NAME
    SELECT c.* EXCLUDE (replaces_own)
    FROM carried c
    WHERE c.replaces_own OR NOT EXISTS (
        SELECT 1 FROM successor_own o
        WHERE c.indicator_id = o.indicator_id AND c.region_code = o.region_code
          AND c.school_year = o.school_year AND c.sex = o.sex
          AND c.nationality = o.nationality)
),
-- Σ over the members of every region at every member level. Municipalities — most of the
-- data — are added up twice: into their Kreis, then the Kreis sums into every larger region,
-- instead of joining each municipality with all its ancestors.
gemeinde_values AS (
    SELECT tv.*, r.kreis_code
    FROM term_values tv
    JOIN core.regions r ON r.region_code = tv.region_code
    WHERE r.level = 'gemeinde' AND r.is_current
),
kreis_sums AS (
    SELECT indicator_id, kreis_code, school_year, start_year, sex, nationality,
        sum(num) AS num, sum(den) AS den,
        count(*) FILTER (WHERE num_numeric) AS num_members,
        count(*) FILTER (WHERE den_numeric) AS den_members,
        max(flag_rank) AS flag_rank, bit_or(sources) AS sources, bool_or(synthetic) AS synthetic,
        max(carried_rule) AS carried_rule
    FROM gemeinde_values
    GROUP BY ALL
),
-- a municipality at its own level: the finest level there is, so where both its terms are
-- numeric it is chosen without comparing levels (most of the data takes this short way)
own_gemeinde AS (
    SELECT indicator_id, region_code, school_year, start_year, sex, nationality,
        num AS numerator, den AS denominator, flag_rank, 'gemeinde' AS member_level,
        1 AS members, true AS delivered, sources, synthetic, carried_rule
    FROM gemeinde_values
    WHERE num_numeric AND den_numeric
),
level_sums AS (
    -- every larger region from the sums of its Kreise (its municipalities, Kreis by Kreis)
    SELECT k.indicator_id, m.region_code, 'gemeinde' AS member_level, 1 AS level_rank,
        k.school_year, k.start_year, k.sex, k.nationality, sum(k.num) AS num,
        sum(k.den) AS den, sum(k.num_members) AS num_members,
        sum(k.den_members) AS den_members, max(k.flag_rank) AS flag_rank,
        bit_or(k.sources) AS sources, bool_or(k.synthetic) AS synthetic,
        max(k.carried_rule) AS carried_rule
    FROM kreis_sums k
    JOIN core.region_members m ON m.member_code = k.kreis_code AND m.member_level = 'kreis'
    JOIN core.regions r ON r.region_code = m.region_code AND r.level <> 'gemeinde'
    GROUP BY ALL
    UNION ALL
    -- figures delivered for Kreise and larger regions: joined with their targets directly
    SELECT tv.indicator_id, m.region_code, m.member_level, m.level_rank,
        tv.school_year, tv.start_year, tv.sex, tv.nationality, sum(tv.num), sum(tv.den),
        count(*) FILTER (WHERE tv.num_numeric), count(*) FILTER (WHERE tv.den_numeric),
        max(tv.flag_rank), bit_or(tv.sources), bool_or(tv.synthetic), max(tv.carried_rule)
    FROM term_values tv
    JOIN core.region_members m ON m.member_code = tv.region_code
    WHERE m.member_level <> 'gemeinde'
    GROUP BY ALL
),
-- the order in which member levels are tried for a region: its own key first, then another key
-- for the same territory (a level with a single member covers the whole region:
-- core.region_members lists only levels that do), then the finest complete level
level_choice AS (
    SELECT region_code, member_level, count(*) AS members,
        CASE WHEN bool_or(member_code = region_code) THEN 0
             WHEN count(*) = 1 THEN min(level_rank)
             ELSE 10 + min(level_rank) END AS choice_rank
    FROM core.region_members GROUP BY ALL
),
-- the region's own figure, else the finest level at which every member has both terms
chosen AS (
    SELECT * FROM own_gemeinde
    UNION ALL
    SELECT l.indicator_id, l.region_code, l.school_year,
        arg_min(l.start_year, lc.choice_rank) AS start_year,
        l.sex, l.nationality,
        arg_min(l.num, lc.choice_rank) AS numerator,
        arg_min(l.den, lc.choice_rank) AS denominator,
        arg_min(l.flag_rank, lc.choice_rank) AS flag_rank,
        arg_min(l.member_level, lc.choice_rank) AS member_level,
        arg_min(lc.members, lc.choice_rank) AS members,
        min(lc.choice_rank) < 10 AS delivered,
        arg_min(l.sources, lc.choice_rank) AS sources,
        arg_min(l.synthetic, lc.choice_rank) AS synthetic,
        arg_min(l.carried_rule, lc.choice_rank) AS carried_rule
    FROM level_sums l
    JOIN level_choice lc ON lc.region_code = l.region_code AND lc.member_level = l.member_level
    WHERE l.num_members = lc.members AND l.den_members = lc.members
      AND NOT EXISTS (
        SELECT 1 FROM own_gemeinde o
        WHERE o.indicator_id = l.indicator_id AND o.region_code = l.region_code
          AND o.school_year = l.school_year AND o.sex = l.sex
          AND o.nationality = l.nationality)
    GROUP BY l.indicator_id, l.region_code, l.school_year, l.sex, l.nationality
),
-- where no level is complete, but the region's own figure carries a symbol (e.g. '.'),
-- publish that status rather than nothing
own_symbols AS (
    SELECT tv.indicator_id, tv.region_code, tv.school_year, tv.start_year, tv.sex,
        tv.nationality, coalesce(tv.num_missing, tv.den_missing) AS status, tv.sources,
        tv.synthetic
    FROM term_values tv
    JOIN core.region_members m ON m.region_code = tv.region_code AND m.member_code = tv.region_code
    WHERE tv.has_num AND tv.has_den AND coalesce(tv.num_missing, tv.den_missing) IS NOT NULL
),
rates AS (
    SELECT c.indicator_id, c.region_code, c.school_year, c.start_year, c.sex, c.nationality,
        CASE WHEN c.denominator > 0 THEN i.scale * c.numerator / c.denominator END AS value,
        c.numerator, c.denominator,
        CASE WHEN c.denominator = 0 THEN 'not_applicable'
             WHEN c.flag_rank = 3 THEN 'unreliable' WHEN c.flag_rank = 2 THEN 'estimated'
             WHEN c.flag_rank = 1 THEN 'provisional' ELSE 'ok' END AS status,
        c.member_level AS computed_from_level, c.members AS member_count,
        CASE WHEN c.delivered THEN coalesce(c.carried_rule, 'delivered')
             ELSE 'summed from ' || c.members || ' parts' END AS aggregation,
        c.delivered AND c.carried_rule IS NOT NULL AS carried,
        -- carried, or summed over today's members: on today's territory whatever the year
        c.carried_rule IS NOT NULL OR NOT c.delivered AS on_today,
        c.sources, c.synthetic
    FROM chosen c JOIN core.indicators i ON i.indicator_id = c.indicator_id
    UNION ALL
    SELECT o.indicator_id, o.region_code, o.school_year, o.start_year, o.sex, o.nationality,
        NULL, NULL, NULL, o.status, NULL, NULL, 'delivered', false, false, o.sources,
        o.synthetic
    FROM own_symbols o
    WHERE NOT EXISTS (
        SELECT 1 FROM chosen c
        WHERE c.indicator_id = o.indicator_id AND c.region_code = o.region_code
          AND c.school_year = o.school_year AND c.sex = o.sex AND c.nationality = o.nationality)
),
gaps AS (
    SELECT g.indicator_id, a.region_code, a.school_year, a.start_year,
        CASE WHEN g.compares = 'sex' THEN 'total' ELSE a.sex END AS sex,
        CASE WHEN g.compares = 'nationality' THEN 'total' ELSE a.nationality END AS nationality,
        a.value - b.value AS value, NULL::DOUBLE AS numerator, NULL::DOUBLE AS denominator,
        CASE WHEN a.value IS NULL OR b.value IS NULL THEN coalesce(
                 nullif(a.status, 'ok'), nullif(b.status, 'ok'), 'not_available')
             WHEN a.status <> 'ok' THEN a.status WHEN b.status <> 'ok' THEN b.status
             ELSE 'ok' END AS status,
        least(a.computed_from_level, b.computed_from_level) AS computed_from_level,
        least(a.member_count, b.member_count) AS member_count,
        CASE WHEN a.aggregation = b.aggregation THEN a.aggregation
             ELSE a.aggregation || ' and ' || b.aggregation END AS aggregation,
        a.carried AND b.carried AS carried,
        a.on_today AND b.on_today AS on_today,
        a.sources | b.sources AS sources,
        a.synthetic OR b.synthetic AS synthetic
    FROM core.indicator_gaps g
    JOIN rates a ON a.indicator_id = g.of_indicator
        AND (g.compares <> 'sex' OR a.sex = g.minuend_value)
        AND (g.compares <> 'nationality' OR a.nationality = g.minuend_value)
    JOIN rates b ON b.indicator_id = g.of_indicator AND b.region_code = a.region_code
        AND b.school_year = a.school_year
        AND (CASE WHEN g.compares = 'sex' THEN b.sex = g.subtrahend_value
                  ELSE b.sex = a.sex END)
        AND (CASE WHEN g.compares = 'nationality' THEN b.nationality = g.subtrahend_value
                  ELSE b.nationality = a.nationality END)
),
all_values AS (
    SELECT * FROM rates UNION ALL SELECT * FROM gaps
),
source_names AS (
    SELECT v.sources, string_agg(b.source_id, ', ' ORDER BY b.source_id) AS names
    FROM (SELECT DISTINCT sources FROM all_values) v
    JOIN source_bits b ON get_bit(v.sources, b.bit) = 1
    GROUP BY v.sources
),
-- keys that went on with another territory: the first school years on each new territory
territories AS (
    SELECT region_code, list(start_year) AS years,
        string_agg(reason, '; ' ORDER BY start_year) AS reason
    FROM core.territory_breaks GROUP BY region_code
),
-- a series break: the sources or the aggregation differ from the school year just before (both
-- with a value: a symbol is no series of its own), or the two years lie on different
-- territories of the region. A figure carried from predecessors counts as the region's own, and
-- like a sum over today's members it lies on today's territory: the series goes on.
with_names AS (
    SELECT v.*, coalesce(n.names, '') AS source_names,
        CASE WHEN v.carried THEN 'delivered' ELSE v.aggregation END AS series_aggregation,
        t.reason AS territory_reason,
        CASE WHEN t.years IS NULL THEN NULL WHEN v.on_today THEN len(t.years)
             ELSE len(list_filter(t.years, lambda y: y <= v.start_year)) END AS territory,
        lag(v.start_year) OVER w AS previous_year,
        lag(v.value) OVER w AS previous_value,
        lag(coalesce(n.names, '')) OVER w AS previous_sources,
        lag(CASE WHEN v.carried THEN 'delivered' ELSE v.aggregation END) OVER w
            AS previous_series_aggregation,
        lag(v.aggregation) OVER w AS previous_aggregation,
        lag(CASE WHEN t.years IS NULL THEN NULL WHEN v.on_today THEN len(t.years)
                 ELSE len(list_filter(t.years, lambda y: y <= v.start_year)) END) OVER w
            AS previous_territory,
        lag(v.computed_from_level) OVER w AS previous_level
    FROM all_values v
    LEFT JOIN source_names n ON n.sources = v.sources
    LEFT JOIN territories t ON t.region_code = v.region_code
    WINDOW w AS (PARTITION BY v.indicator_id, v.region_code, v.sex, v.nationality
                 ORDER BY v.start_year)
),
breaks AS (
    SELECT *,
        CASE WHEN previous_year = start_year - 1 AND previous_value IS NOT NULL
                  AND value IS NOT NULL THEN concat_ws('; ',
            CASE WHEN previous_sources <> source_names
                 THEN 'sources: ' || previous_sources || ' → ' || source_names END,
            CASE WHEN previous_series_aggregation <> series_aggregation
                   OR previous_level IS DISTINCT FROM computed_from_level
                 THEN 'aggregation: ' || previous_aggregation
                      || coalesce(' (' || previous_level || ')', '') || ' → ' || aggregation
                      || coalesce(' (' || computed_from_level || ')', '') END,
            CASE WHEN previous_territory <> territory THEN territory_reason END)
        END AS break_reason
    FROM with_names
)
SELECT
    v.indicator_id, i.name AS indicator_name, i.goal_id,
    v.region_code, r.name AS region_name, r.level AS region_level, r.in_ruhr,
    v.school_year, v.start_year, v.sex, v.nationality,
    v.value, v.numerator, v.denominator, i.unit, v.status,
    v.computed_from_level, v.member_count, v.aggregation,
    coalesce(v.break_reason, '') <> '' AS series_break,
    nullif(v.break_reason, '') AS series_break_reason,
    v.source_names AS sources,
    coalesce(v.synthetic, false) AS synthetic
FROM breaks v
JOIN core.indicators i ON i.indicator_id = v.indicator_id
JOIN core.regions r ON r.region_code = v.region_code
ORDER BY v.indicator_id, v.region_code, v.start_year, v.sex, v.nationality;
