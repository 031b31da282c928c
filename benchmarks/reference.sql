-- The reference: DuckDB alone does the pipeline's job on the benchmark deliveries.
--
-- It loads the four delivery files into one DuckDB database, checks the rules of the suites
-- (expectations/canonical_records.json, school_leavers.json, day_care.json, population.json,
-- school_statistics.json), quarantines what fails, and computes marts.indicator_values as
-- warehouse/sql/indicators/indicator_values.sql defines it: for every region (Gemeinde, Kreis,
-- Regierungsbezirk, Land, Germany, the Ruhr) Σ numerator / Σ denominator over its Gemeinden,
-- only where every one of them has a numeric value (the deliveries are Gemeinde-level, so the
-- Gemeinde level is the only one that can be complete); gaps as differences of two rates.
--
-- Placeholders, replaced by benchmarks/reference.py with SQL literals:
--   ${leavers} ${kita} ${population} ${schools}   the delivery files
--   ${regions}                                    today's regions (regions.csv + territory.yaml)
--   ${indicator_terms} ${indicator_gaps}          the catalogue (schemas/indicators.yaml) as CSV
--   ${latest_start_year}                          the current school year's start year
--
-- cp1252 files are read as latin-1 (DuckDB has no cp1252 without the encodings extension); the
-- two agree on every character of the data lines (region names are latin-1), and the names
-- are not used anyway.

-- 1. Reference tables -------------------------------------------------------------------------

CREATE TABLE regions AS
SELECT region_code, name, level, nullif(parent_code, '') AS parent_code,
    in_ruhr = 'true' AS in_ruhr, is_current = 'true' AS is_current
FROM read_csv(${regions}, header = true, all_varchar = true);

CREATE TABLE indicator_terms AS
SELECT * FROM read_csv(${indicator_terms}, header = true, auto_detect = false,
    columns = {'indicator_id': 'VARCHAR', 'role': 'VARCHAR', 'measure': 'VARCHAR',
               'term_measures': 'BIGINT', 'scale': 'DOUBLE'});

CREATE TABLE indicator_gaps AS
SELECT * FROM read_csv(${indicator_gaps}, header = true, auto_detect = false,
    columns = {'indicator_id': 'VARCHAR', 'of_indicator': 'VARCHAR', 'compares': 'VARCHAR',
               'minuend_value': 'VARCHAR', 'subtrahend_value': 'VARCHAR'});

-- a cell of official statistics -> value and status (sources/symbols.py): '-' is 0, '.' 'x'
-- '/' '...' and '' are symbols without a value, '(n)' is unreliable, 'n p' provisional, 'n e'
-- estimated, 'n r' a final figure; anything else is unreadable (status NULL)
CREATE MACRO cell_parts(raw) AS regexp_extract(trim(coalesce(raw, '')),
    '^(\()?(-?[0-9]+(?:,[0-9]+)?)\)?\s*([pre]?)$', ['parens', 'number', 'flag']);
CREATE MACRO cell_value(text, c) AS CASE
    WHEN text IN ('-', '–') THEN 0.0
    WHEN c.number <> '' THEN CAST(replace(c.number, ',', '.') AS DOUBLE) END;
CREATE MACRO cell_status(text, c) AS CASE
    WHEN text IN ('-', '–') THEN 'ok'
    WHEN c.number <> '' AND c.parens <> '' THEN 'unreliable'
    WHEN c.number <> '' AND c.flag = 'p' THEN 'provisional'
    WHEN c.number <> '' AND c.flag = 'e' THEN 'estimated'
    WHEN c.number <> '' THEN 'ok'
    WHEN text = '.' THEN 'suppressed'
    WHEN text IN ('x', 'X') THEN 'not_applicable'
    WHEN text = '/' THEN 'unreliable'
    WHEN text IN ('...', '…', '') THEN 'not_available' END;

-- 2. The deliveries as canonical records --------------------------------------------------------

-- one view per delivery: source_id, measure, region_code, start_year, year_ok, sex,
-- nationality, raw (the cell as delivered); parsed and stored in one pass below

-- leavers by qualification: 7 value columns, sex and nationality columns, school year 2022/23
CREATE TEMP VIEW leaver_records AS
WITH lines AS (
    SELECT * FROM read_csv(${leavers}, delim = ';', header = true, encoding = 'latin-1',
        auto_detect = false, quote = '"',
        columns = {'school_year': 'VARCHAR', 'region': 'VARCHAR', 'name': 'VARCHAR',
                   'sex': 'VARCHAR', 'nationality': 'VARCHAR',
                   'leavers_total': 'VARCHAR', 'leavers_without_hsa': 'VARCHAR',
                   'leavers_hsa': 'VARCHAR', 'leavers_msa': 'VARCHAR', 'leavers_fhr': 'VARCHAR',
                   'leavers_abitur': 'VARCHAR', 'leavers_without_hsa_share': 'VARCHAR'})
),
-- the line's keys once per line, then one row per value column
keyed AS (
    SELECT * EXCLUDE (school_year, region, name, sex, nationality),
        trim(region) AS region_code,
        TRY_CAST(left(trim(school_year), 4) AS INTEGER) AS start_year,
        CASE WHEN regexp_full_match(trim(school_year), '[0-9]{4}/[0-9]{2}')
             THEN right(trim(school_year), 2)::INTEGER = (left(trim(school_year), 4)::INTEGER + 1) % 100
             WHEN regexp_full_match(trim(school_year), '[0-9]{4}/[0-9]{4}')
             THEN right(trim(school_year), 4)::INTEGER = left(trim(school_year), 4)::INTEGER + 1
             ELSE false END AS year_ok,
        CASE trim(sex) WHEN 'insgesamt' THEN 'total' WHEN 'weiblich' THEN 'female'
                       WHEN 'männlich' THEN 'male' END AS sex,
        CASE trim(nationality) WHEN 'insgesamt' THEN 'total' WHEN 'deutsch' THEN 'german'
                               WHEN 'ausländisch' THEN 'foreign' END AS nationality
    FROM lines
)
SELECT 'schulabgaenger_abschlussart' AS source_id, measure, region_code, start_year, year_ok,
    sex, nationality, raw
FROM keyed UNPIVOT INCLUDE NULLS (raw FOR measure IN (
    leavers_total, leavers_without_hsa, leavers_hsa, leavers_msa, leavers_fhr, leavers_abitur,
    leavers_without_hsa_share));

-- day care: Stichtag 01.03.2024 -> school year 2023/24 (school years begin 1 August)
CREATE TEMP VIEW kita_records AS
WITH lines AS (
    SELECT * FROM read_csv(${kita}, delim = ';', header = true, auto_detect = false,
        columns = {'stichtag': 'VARCHAR', 'region': 'VARCHAR', 'name': 'VARCHAR',
                   'daycare_children_u3': 'VARCHAR', 'daycare_children_3_6': 'VARCHAR'})
),
long AS (
    SELECT * FROM lines UNPIVOT INCLUDE NULLS (raw FOR measure IN (
        daycare_children_u3, daycare_children_3_6))
),
dated AS (SELECT *, TRY_STRPTIME(trim(stichtag), '%d.%m.%Y') AS day FROM long)
SELECT 'kita_betreuung' AS source_id, measure, trim(region) AS region_code,
    year(day) - CASE WHEN month(day) >= 8 THEN 0 ELSE 1 END AS start_year,
    day IS NOT NULL AS year_ok, 'total' AS sex, 'total' AS nationality, raw
FROM dated;

-- population (GENESIS flat file): 31.12.2023 -> 2023/24; age group from the 2nd variable
CREATE TEMP VIEW population_records AS
WITH lines AS (
    SELECT * FROM read_csv(${population}, delim = ';', header = true, all_varchar = true)
),
dated AS (
    SELECT *, TRY_STRPTIME(trim("time"), '%Y-%m-%d') AS day FROM lines
    WHERE trim(value_variable_code) = 'BEVSTD'
)
SELECT 'bevoelkerung_kinder' AS source_id,
    CASE trim("2_variable_attribute_code") WHEN 'ALT000B03' THEN 'population_u3'
                                           WHEN 'ALT003B06' THEN 'population_3_6' END AS measure,
    trim("1_variable_attribute_code") AS region_code,
    year(day) - CASE WHEN month(day) >= 8 THEN 0 ELSE 1 END AS start_year,
    day IS NOT NULL AS year_ok, 'total' AS sex, 'total' AS nationality, value AS raw
FROM dated;

-- schools and pupils (GENESIS table CSV): data rows between the header rows and the footer;
-- labels year, region key, region name, school type; 4 mapped value columns (2 ignored)
CREATE TEMP VIEW school_records AS
WITH lines AS (
    SELECT string_split(line, ';') AS c
    FROM read_csv(${schools}, columns = {'line': 'VARCHAR'}, delim = chr(1),
        quote = '', escape = '', header = false, auto_detect = false, encoding = 'latin-1')
    WHERE regexp_matches(line, '^[0-9]{4};')
),
keyed AS (
    SELECT trim(c[2]) AS region_code, TRY_CAST(trim(c[1]) AS INTEGER) AS start_year,
        regexp_full_match(trim(c[1]), '[0-9]{4}') AS year_ok,
        CASE trim(c[4])
            WHEN 'Insgesamt' THEN 'total' WHEN 'Vorschulbereich' THEN 'vorschulbereich'
            WHEN 'Grundschulen' THEN 'grundschule'
            WHEN 'Schulartunabhängige Orientierungsstufe' THEN 'orientierungsstufe'
            WHEN 'Hauptschulen' THEN 'hauptschule'
            WHEN 'Schularten mit mehreren Bildungsgängen' THEN 'mehrere_bildungsgaenge'
            WHEN 'Realschulen' THEN 'realschule' WHEN 'Gymnasien' THEN 'gymnasium'
            WHEN 'Integrierte Gesamtschulen' THEN 'gesamtschule'
            WHEN 'Freie Waldorfschulen' THEN 'waldorfschule'
            WHEN 'Sonderschulen/Förderschulen' THEN 'foerderschule'
            WHEN 'Abendschulen und Kollegs' THEN 'weiterbildungskolleg' END AS school_type,
        c[5] AS schools, c[6] AS pupils, c[7] AS pupils_female, c[8] AS pupils_foreign
    FROM lines
    WHERE len(c) = 10  -- a row of another width is a structural error (checked below)
)
SELECT 'regionalstatistik_21111_01_03_4' AS source_id,
    CASE variable WHEN 'schools' THEN 'schools_' ELSE 'pupils_' END || school_type AS measure,
    region_code, start_year, year_ok,
    CASE variable WHEN 'pupils_female' THEN 'female' ELSE 'total' END AS sex,
    CASE variable WHEN 'pupils_foreign' THEN 'foreign' ELSE 'total' END AS nationality,
    raw
FROM keyed UNPIVOT INCLUDE NULLS (raw FOR variable IN (
    schools, pupils, pupils_female, pupils_foreign));

CREATE TABLE structure AS
SELECT 'regionalstatistik_21111_01_03_4' AS source_id, count(*) AS bad_lines
FROM read_csv(${schools}, columns = {'line': 'VARCHAR'}, delim = chr(1),
    quote = '', escape = '', header = false, auto_detect = false, encoding = 'latin-1')
WHERE regexp_matches(line, '^[0-9]{4};') AND len(string_split(line, ';')) <> 10;

-- 3. The suites' rules ----------------------------------------------------------------------------

CREATE TABLE records AS
SELECT source_id, measure, region_code, start_year, school_year_ok, sex, nationality, raw,
    cell_value(text, c) AS value, cell_status(text, c) AS status,
    measure = 'leavers_without_hsa_share' AS is_rate
FROM (
    SELECT *, year_ok AND start_year IS NOT NULL AS school_year_ok,
        trim(coalesce(raw, '')) AS text, cell_parts(raw) AS c
    FROM (SELECT * FROM leaver_records UNION ALL SELECT * FROM kita_records
          UNION ALL SELECT * FROM population_records UNION ALL SELECT * FROM school_records));

-- record-level checks (canonical_records.json): one row per failing record and check
CREATE TABLE record_failures AS
SELECT rowid AS row_id, 'readable_cells' AS check_name FROM records
WHERE status IS NULL OR NOT school_year_ok OR measure IS NULL OR region_code IS NULL
   OR region_code = '' OR sex IS NULL OR nationality IS NULL
UNION ALL
SELECT rowid, 'known_region_keys' FROM records
WHERE region_code NOT IN (SELECT region_code FROM regions)
UNION ALL
SELECT rowid, 'plausible_school_years' FROM records
WHERE start_year NOT BETWEEN 1990 AND ${latest_start_year}
UNION ALL
SELECT rowid, 'canonical_sex' FROM records WHERE sex NOT IN ('total', 'female', 'male')
UNION ALL
SELECT rowid, 'canonical_nationality' FROM records
WHERE nationality NOT IN ('total', 'german', 'foreign')
UNION ALL
SELECT rowid, 'non_negative_counts' FROM records WHERE NOT is_rate AND value < 0
UNION ALL
SELECT rowid, 'rates_within_0_100' FROM records WHERE is_rate AND value NOT BETWEEN 0 AND 100
UNION ALL
SELECT rowid, 'unique_keys' FROM records
WHERE hash(source_id, measure, region_code, start_year, sex, nationality) IN (
    -- keys seen twice (hashes first: one 64-bit column groups much faster than six)
    SELECT hash(source_id, measure, region_code, start_year, sex, nationality)
    FROM records
    WHERE hash(source_id, measure, region_code, start_year, sex, nationality) IN (
        SELECT h FROM (
            SELECT hash(source_id, measure, region_code, start_year, sex, nationality) AS h
            FROM records)
        GROUP BY h HAVING count(*) > 1)
    GROUP BY source_id, measure, region_code, start_year, sex, nationality
    HAVING count(*) > 1);

-- line-level checks (the wide suites): a failing region × school year × subgroup line
-- quarantines every record of it
CREATE TABLE wide AS
SELECT source_id, region_code, start_year, sex, nationality,
    max(value) FILTER (WHERE measure = 'leavers_total') AS leavers_total,
    max(value) FILTER (WHERE measure = 'leavers_without_hsa') AS leavers_without_hsa,
    max(value) FILTER (WHERE measure = 'leavers_abitur') AS leavers_abitur,
    max(value) FILTER (WHERE measure = 'leavers_without_hsa_share') AS leavers_without_hsa_share,
    max(value) FILTER (WHERE measure = 'daycare_children_u3') AS daycare_children_u3,
    max(value) FILTER (WHERE measure = 'daycare_children_3_6') AS daycare_children_3_6,
    max(value) FILTER (WHERE measure = 'population_u3') AS population_u3,
    max(value) FILTER (WHERE measure = 'population_3_6') AS population_3_6,
    max(value) FILTER (WHERE measure = 'pupils_total') AS pupils_total,
    max(value) FILTER (WHERE measure = 'pupils_gymnasium') AS pupils_gymnasium,
    max(value) FILTER (WHERE measure = 'pupils_foerderschule') AS pupils_foerderschule
FROM records
WHERE measure IN ('leavers_total', 'leavers_without_hsa', 'leavers_abitur',
                  'leavers_without_hsa_share', 'daycare_children_u3', 'daycare_children_3_6',
                  'population_u3', 'population_3_6', 'pupils_total', 'pupils_gymnasium',
                  'pupils_foerderschule')
  AND region_code IS NOT NULL AND school_year_ok
GROUP BY ALL;

CREATE TABLE line_failures AS
SELECT source_id, region_code, start_year, sex, nationality, check_name FROM (
    SELECT *, unnest([
        CASE WHEN leavers_without_hsa > leavers_total
             THEN 'numerator_le_denominator_dropout' END,
        CASE WHEN leavers_abitur > leavers_total THEN 'numerator_le_denominator_abitur' END,
        CASE WHEN leavers_without_hsa_share NOT BETWEEN 0 AND 100
             THEN 'delivered_rate_within_0_100' END,
        CASE WHEN daycare_children_u3 NOT BETWEEN 0 AND 50000 THEN 'plausible_u3' END,
        CASE WHEN daycare_children_3_6 NOT BETWEEN 0 AND 60000 THEN 'plausible_3_6' END,
        CASE WHEN population_u3 NOT BETWEEN 0 AND 60000 THEN 'plausible_u3' END,
        CASE WHEN population_3_6 NOT BETWEEN 0 AND 60000 THEN 'plausible_3_6' END,
        CASE WHEN pupils_gymnasium > pupils_total THEN 'numerator_le_denominator_gymnasium' END,
        CASE WHEN pupils_foerderschule > pupils_total
             THEN 'numerator_le_denominator_foerderschule' END
    ]) AS check_name FROM wide)
WHERE check_name IS NOT NULL;

CREATE TABLE quarantine AS
SELECT DISTINCT row_id FROM record_failures
UNION
SELECT r.rowid FROM records r
JOIN line_failures f USING (source_id, region_code, start_year, sex, nationality);

-- what each check found, per source (a delivery with more than 10 % failing is rejected)
CREATE TABLE check_results AS
WITH totals AS (SELECT source_id, count(*) AS records FROM records GROUP BY ALL),
applicable(source_id, check_name) AS (
    SELECT source_id, unnest(['readable_cells', 'known_region_keys', 'plausible_school_years',
        'canonical_sex', 'canonical_nationality', 'non_negative_counts', 'rates_within_0_100',
        'unique_keys']) FROM totals
    UNION ALL
    SELECT * FROM (VALUES
        ('schulabgaenger_abschlussart', 'numerator_le_denominator_dropout'),
        ('schulabgaenger_abschlussart', 'numerator_le_denominator_abitur'),
        ('schulabgaenger_abschlussart', 'delivered_rate_within_0_100'),
        ('kita_betreuung', 'plausible_u3'), ('kita_betreuung', 'plausible_3_6'),
        ('bevoelkerung_kinder', 'plausible_u3'), ('bevoelkerung_kinder', 'plausible_3_6'),
        ('regionalstatistik_21111_01_03_4', 'numerator_le_denominator_gymnasium'),
        ('regionalstatistik_21111_01_03_4', 'numerator_le_denominator_foerderschule'))
),
failed AS (
    SELECT r.source_id, f.check_name, count(*) AS failed
    FROM record_failures f JOIN records r ON r.rowid = f.row_id GROUP BY ALL
    UNION ALL
    SELECT source_id, check_name, count(*) FROM line_failures GROUP BY ALL
)
SELECT a.source_id, a.check_name, coalesce(f.failed, 0) AS failed, t.records,
    coalesce(f.failed, 0) > 0.1 * t.records AS rejects_delivery
FROM applicable a
JOIN totals t USING (source_id)
LEFT JOIN failed f USING (source_id, check_name);

CREATE VIEW measures AS
SELECT measure, region_code, printf('%d/%02d', start_year, (start_year + 1) % 100) AS school_year,
    start_year, sex, nationality, value, status, source_id
FROM records
WHERE rowid NOT IN (SELECT row_id FROM quarantine)
  AND source_id NOT IN (SELECT source_id FROM check_results WHERE rejects_delivery)
  AND source_id NOT IN (SELECT source_id FROM structure WHERE bad_lines > 0);

-- 4. Indicators -------------------------------------------------------------------------------

-- the Gemeinden of every region: ancestry through the current regions (as
-- warehouse/sql/core/region_members.sql), and the Ruhr's 53
CREATE TABLE gemeinde_members AS
WITH RECURSIVE current_regions AS (
    SELECT * FROM regions WHERE is_current AND level NOT IN ('verband', 'stadtbezirk')
),
ancestry(region_code, ancestor_code) AS (
    SELECT region_code, region_code FROM current_regions WHERE level = 'gemeinde'
    UNION ALL
    SELECT a.region_code, r.parent_code
    FROM ancestry a JOIN current_regions r ON r.region_code = a.ancestor_code
    WHERE r.parent_code IS NOT NULL
)
SELECT DISTINCT ancestor_code AS region_code, region_code AS member_code FROM ancestry
UNION
SELECT 'RVR', region_code FROM regions WHERE is_current AND in_ruhr AND level = 'gemeinde';

-- one value per indicator term, region, school year and subgroup: a single-measure term is
-- the measure itself (keys are unique after the checks), a term of several measures their
-- sum, incomplete when one of them is missing
CREATE TEMP TABLE term_values AS
SELECT t.indicator_id, t.role, m.region_code, m.start_year, m.sex, m.nationality, m.value,
    m.value IS NOT NULL AS numeric,
    CASE m.status WHEN 'unreliable' THEN 3 WHEN 'estimated' THEN 2
                  WHEN 'provisional' THEN 1 ELSE 0 END AS flag_rank,
    CASE WHEN m.value IS NULL THEN m.status END AS missing_status
FROM indicator_terms t JOIN measures m ON m.measure = t.measure
WHERE t.term_measures = 1
UNION ALL
SELECT t.indicator_id, t.role, m.region_code, m.start_year, m.sex, m.nationality,
    sum(m.value),
    count(*) = max(t.term_measures) AND bool_and(m.value IS NOT NULL),
    max(CASE m.status WHEN 'unreliable' THEN 3 WHEN 'estimated' THEN 2
                      WHEN 'provisional' THEN 1 ELSE 0 END),
    min(m.status) FILTER (WHERE m.value IS NULL)
FROM indicator_terms t JOIN measures m ON m.measure = t.measure
WHERE t.term_measures > 1
GROUP BY ALL;

-- Σ over the Gemeinden of every region with more than one, with how many of them have data
-- (a Gemeinde is its own only member: its sums are its term values)
CREATE TEMP TABLE region_sums AS
SELECT s.*, mc.members FROM (
    SELECT tv.indicator_id, tv.role, g.region_code, tv.start_year, tv.sex, tv.nationality,
        sum(tv.value) AS value,
        count(*) FILTER (WHERE tv.numeric) AS members_with_data,
        max(tv.flag_rank) AS flag_rank
    FROM term_values tv
    JOIN gemeinde_members g ON g.member_code = tv.region_code AND g.region_code <> g.member_code
    GROUP BY ALL) s
JOIN (SELECT region_code, count(*) AS members FROM gemeinde_members GROUP BY ALL) mc
  USING (region_code);

CREATE MACRO rate_value(scale, numerator, denominator) AS
    CASE WHEN denominator > 0 THEN scale * numerator / denominator END;
CREATE MACRO rate_status(flag_rank, denominator) AS
    CASE WHEN denominator = 0 THEN 'not_applicable' WHEN flag_rank = 3 THEN 'unreliable'
         WHEN flag_rank = 2 THEN 'estimated' WHEN flag_rank = 1 THEN 'provisional'
         ELSE 'ok' END;

CREATE TABLE indicator_values AS
WITH scales AS (SELECT DISTINCT indicator_id, scale FROM indicator_terms),
-- the terms of keys where some figure is not numeric (usually none)
symbol_terms AS (
    SELECT * FROM term_values
    WHERE (indicator_id, region_code, start_year, sex, nationality) IN (
        SELECT indicator_id, region_code, start_year, sex, nationality FROM term_values
        WHERE NOT numeric)
),
rates AS (
    -- a (current) Gemeinde: its own figures, where both are numeric
    SELECT n.indicator_id, n.region_code, n.start_year, n.sex, n.nationality,
        rate_value(s.scale, n.value, d.value) AS value, n.value AS numerator,
        d.value AS denominator,
        rate_status(greatest(n.flag_rank, d.flag_rank), d.value) AS status
    FROM term_values n
    JOIN term_values d USING (indicator_id, region_code, start_year, sex, nationality)
    JOIN scales s USING (indicator_id)
    WHERE n.role = 'numerator' AND d.role = 'denominator' AND n.numeric AND d.numeric
      AND n.region_code IN (
          SELECT member_code FROM gemeinde_members WHERE region_code = member_code)
    UNION ALL
    -- every other region: Σ over its Gemeinden, where every one of them has numeric figures
    SELECT n.indicator_id, n.region_code, n.start_year, n.sex, n.nationality,
        rate_value(s.scale, n.value, d.value), n.value, d.value,
        rate_status(greatest(n.flag_rank, d.flag_rank), d.value)
    FROM region_sums n
    JOIN region_sums d USING (indicator_id, region_code, start_year, sex, nationality)
    JOIN scales s USING (indicator_id)
    WHERE n.role = 'numerator' AND d.role = 'denominator'
      AND n.members_with_data = n.members AND d.members_with_data = d.members
    UNION ALL
    -- a Gemeinde whose own figure carries a symbol: that status, no value
    SELECT n.indicator_id, n.region_code, n.start_year, n.sex, n.nationality,
        NULL, NULL, NULL, coalesce(n.missing_status, d.missing_status)
    FROM symbol_terms n
    JOIN symbol_terms d USING (indicator_id, region_code, start_year, sex, nationality)
    WHERE n.role = 'numerator' AND d.role = 'denominator' AND NOT (n.numeric AND d.numeric)
      AND coalesce(n.missing_status, d.missing_status) IS NOT NULL
),
gaps AS (
    SELECT g.indicator_id, a.region_code, a.start_year,
        CASE WHEN g.compares = 'sex' THEN 'total' ELSE a.sex END AS sex,
        CASE WHEN g.compares = 'nationality' THEN 'total' ELSE a.nationality END AS nationality,
        a.value - b.value AS value, NULL::DOUBLE AS numerator, NULL::DOUBLE AS denominator,
        CASE WHEN a.value IS NULL OR b.value IS NULL THEN coalesce(
                 nullif(a.status, 'ok'), nullif(b.status, 'ok'), 'not_available')
             WHEN a.status <> 'ok' THEN a.status WHEN b.status <> 'ok' THEN b.status
             ELSE 'ok' END AS status
    FROM indicator_gaps g
    JOIN rates a ON a.indicator_id = g.of_indicator
        AND (g.compares <> 'sex' OR a.sex = g.minuend_value)
        AND (g.compares <> 'nationality' OR a.nationality = g.minuend_value)
    JOIN rates b ON b.indicator_id = g.of_indicator AND b.region_code = a.region_code
        AND b.start_year = a.start_year
        AND (CASE WHEN g.compares = 'sex' THEN b.sex = g.subtrahend_value
                  ELSE b.sex = a.sex END)
        AND (CASE WHEN g.compares = 'nationality' THEN b.nationality = g.subtrahend_value
                  ELSE b.nationality = a.nationality END)
)
SELECT v.indicator_id, v.region_code, r.level AS region_level,
    printf('%d/%02d', v.start_year, (v.start_year + 1) % 100) AS school_year, v.start_year,
    v.sex, v.nationality, v.value, v.numerator, v.denominator, v.status
FROM (SELECT * FROM rates UNION ALL SELECT * FROM gaps) v
JOIN regions r ON r.region_code = v.region_code
ORDER BY v.indicator_id, v.region_code, v.start_year, v.sex, v.nationality;
