-- quality.source_health: one row per source — how it did in the latest run that checked
-- anything, since when it has been failing, how often it failed, and its last good delivery.
-- Answers "which sources failed last night, and since when?". A run in which none of a
-- source's checks was evaluated (no new delivery) says nothing about its health and is
-- skipped. A view over quality.check_results, meta.deliveries and meta.sources of the
-- published file.
CREATE OR REPLACE VIEW quality.source_health AS
WITH evaluated AS (
    SELECT * FROM quality.check_results WHERE outcome <> 'NOT_EVALUATED'
),
per_run AS (
    SELECT source_id, run_id,
        min(checked_at) AS checked_at,
        count(*) FILTER (WHERE outcome = 'FAIL') AS failed_checks,
        count(*) FILTER (WHERE outcome = 'WARNING') AS warned_checks,
        CASE WHEN count(*) FILTER (WHERE outcome = 'FAIL') > 0 THEN 'FAIL'
             WHEN count(*) FILTER (WHERE outcome = 'WARNING') > 0 THEN 'WARNING'
             ELSE 'PASS' END AS outcome,
        string_agg(DISTINCT check_name, ', ' ORDER BY check_name)
            FILTER (WHERE outcome = 'FAIL') AS failing,
        string_agg(DISTINCT message, ' | ') FILTER (WHERE outcome = 'FAIL') AS failure_messages
    FROM evaluated
    WHERE source_id IS NOT NULL
    GROUP BY source_id, run_id
),
latest AS (
    SELECT * FROM per_run
    QUALIFY row_number() OVER (PARTITION BY source_id ORDER BY checked_at DESC) = 1
),
last_without_failure AS (
    SELECT source_id, max(checked_at) AS at FROM per_run WHERE outcome <> 'FAIL' GROUP BY 1
),
failing_streak AS (
    SELECT p.source_id, min(p.checked_at) AS since, count(*) AS runs
    FROM per_run p LEFT JOIN last_without_failure w USING (source_id)
    WHERE p.outcome = 'FAIL' AND p.checked_at > coalesce(w.at, TIMESTAMP '1900-01-01')
    GROUP BY 1
),
history AS (
    SELECT source_id, count(*) AS runs_checked,
        count(*) FILTER (WHERE outcome = 'FAIL') AS runs_failed,
        count(*) FILTER (WHERE outcome = 'FAIL'
                         AND checked_at >= (SELECT max(checked_at) FROM per_run)
                                           - INTERVAL 30 DAY) AS runs_failed_last_30_days,
        max(checked_at) FILTER (WHERE outcome = 'FAIL') AS last_failure_at
    FROM per_run GROUP BY 1
),
good AS (
    SELECT source_id,
        arg_max(file_name, delivery_seq) AS last_good_file,
        max(received_at) AS last_good_received_at,
        arg_max(delivery_id, delivery_seq) AS last_good_delivery_id
    FROM meta.deliveries WHERE state IN ('loaded', 'loaded_with_quarantine') GROUP BY 1
),
rejected AS (
    SELECT source_id, arg_max(file_name, delivery_seq) AS last_rejected_file,
        max(received_at) AS last_rejected_at
    FROM meta.deliveries WHERE state = 'rejected' GROUP BY 1
)
SELECT
    s.source_id, s.title, s.partner, s.kind, s.synthetic,
    l.run_id AS latest_run_id, l.checked_at AS latest_checked_at,
    coalesce(l.outcome, 'NOT RUN') AS latest_outcome,
    l.failing AS latest_failing_checks, l.failure_messages AS latest_failure_messages,
    l.warned_checks AS latest_warnings,
    CASE WHEN l.outcome = 'FAIL' THEN f.since END AS failing_since,
    CASE WHEN l.outcome = 'FAIL' THEN f.runs ELSE 0 END AS consecutive_failed_runs,
    h.runs_checked, h.runs_failed, h.runs_failed_last_30_days, h.last_failure_at,
    g.last_good_file, g.last_good_received_at, g.last_good_delivery_id,
    r.last_rejected_file, r.last_rejected_at
FROM meta.sources s
LEFT JOIN latest l USING (source_id)
LEFT JOIN failing_streak f USING (source_id)
LEFT JOIN history h USING (source_id)
LEFT JOIN good g USING (source_id)
LEFT JOIN rejected r USING (source_id)
ORDER BY (l.outcome = 'FAIL') DESC, s.source_id;
