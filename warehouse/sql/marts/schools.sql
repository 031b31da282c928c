-- marts.schools: the NRW school directory with municipality, Ruhr membership and social index.
CREATE OR REPLACE TABLE marts.schools AS
SELECT
    d.school_number,
    -- the directory wraps names into three 40-character fields, hyphenating words ("Schu-" /
    -- "le"): joined with spaces, except where a hyphen ends a part and a word continues
    regexp_replace(
        trim(concat_ws(' ', nullif(d.name_1, ''), nullif(d.name_2, ''), nullif(d.name_3, ''))),
        '-\s([a-zäöüß])', '\1', 'g') AS name,
    d.short_name,
    d.school_form_key,
    f.label AS school_form,
    f.category AS school_category,
    CASE d.legal_form_key WHEN '1' THEN 'öffentlich' WHEN '2' THEN 'privat' END AS legal_form,
    d.region_code,
    r.name AS municipality,
    r.kreis_code,
    coalesce(r.in_ruhr, false) AS in_ruhr,
    d.postcode, d.town, d.street,
    nullif(d.epsg, 'null') AS epsg,
    TRY_CAST(d.utm_east AS INTEGER) AS utm_east,
    TRY_CAST(d.utm_north AS INTEGER) AS utm_north,
    TRY_CAST(s.social_index AS INTEGER) AS social_index,
    s.social_index AS social_index_label,
    s.school_year AS social_index_school_year,
    d.delivery_id AS directory_delivery_id
FROM staging.school_directory d
LEFT JOIN core.school_forms f ON f.school_form_key = d.school_form_key
LEFT JOIN core.regions r ON r.region_code = d.region_code
LEFT JOIN staging.school_social_index s ON s.school_number = d.school_number
ORDER BY d.school_number;
