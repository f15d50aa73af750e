-- One row per birth for the report and the run's metrics: which feeds witness it, its
-- consensus facts, each feed's own sex and entry lag, and whether it is a real live birth.
-- Parameters: $as_of, $pop_days, $police_days, $hosp_days.
CREATE OR REPLACE TEMP TABLE report_births AS
WITH fictitious AS (
    SELECT pop_record_id, any_value(status) AS status
    FROM cases
    WHERE category = 'fictitious' AND closed_run IS NULL
    GROUP BY pop_record_id
),
-- An open misreport on any of a birth's records makes the birth "with an error".
misreported AS (
    SELECT DISTINCT 'pop' AS feed, pop_record_id AS record_key FROM cases
    WHERE category = 'misreported' AND closed_run IS NULL AND status <> 'applied'
        AND target_system = 'pop' AND pop_record_id IS NOT NULL
    UNION
    SELECT DISTINCT 'hosp', hosp_delivery_id FROM cases
    WHERE category = 'misreported' AND closed_run IS NULL AND status <> 'applied'
        AND target_system = 'hosp' AND hosp_delivery_id IS NOT NULL
    UNION
    SELECT DISTINCT 'police', police_id_number FROM cases
    WHERE category = 'misreported' AND closed_run IS NULL AND status <> 'applied'
        AND target_system = 'police' AND police_id_number IS NOT NULL
)
SELECT
    b.birth_id,
    b.pop_record_id IS NOT NULL AS in_pop,
    b.hosp_delivery_id IS NOT NULL AS in_hosp,
    b.police_id_number IS NOT NULL AS in_police,
    b.sex,
    b.birth_date,
    b.outcome,
    b.division_code,
    substr(b.division_code, 1, 9) || '000' AS township,
    year(b.birth_date) AS birth_year,
    strftime(b.birth_date, '%Y-%m') AS birth_month,
    p.sex AS pop_sex,
    h.sex AS hosp_sex,
    c.sex AS police_sex,
    p.reported_on - b.birth_date AS pop_lag,
    c.registered_on - b.birth_date AS police_lag,
    h.registered_on - CAST(h.delivered_at AS DATE) AS hosp_lag,
    b.birth_date <= CAST($as_of AS DATE) - CAST($pop_days AS INTEGER) AS due_pop,
    b.birth_date <= CAST($as_of AS DATE) - CAST($police_days AS INTEGER) AS due_police,
    b.birth_date <= CAST($as_of AS DATE) - CAST($hosp_days AS INTEGER) AS due_hosp,
    coalesce(h.certificate_no, c.certificate_no) IS NOT NULL AS has_certificate,
    f.status AS fictitious_status,
    (mp.record_key IS NOT NULL OR mh.record_key IS NOT NULL OR mc.record_key IS NOT NULL)
        AS has_error,
    -- Real: a live birth the hospital or the police witness, or a register-only record
    -- whose fictitious case the signers rejected (they found the child).
    coalesce(b.outcome, '活产') = '活产'
        AND (b.hosp_delivery_id IS NOT NULL OR b.police_id_number IS NOT NULL
             OR coalesce(f.status = 'rejected', FALSE)) AS real_birth
FROM births AS b
LEFT JOIN pop AS p ON p.record_id = b.pop_record_id
LEFT JOIN hosp AS h ON h.delivery_id = b.hosp_delivery_id
LEFT JOIN police AS c ON c.id_number = b.police_id_number
LEFT JOIN fictitious AS f ON f.pop_record_id = b.pop_record_id
LEFT JOIN misreported AS mp ON mp.feed = 'pop' AND mp.record_key = b.pop_record_id
LEFT JOIN misreported AS mh ON mh.feed = 'hosp' AND mh.record_key = b.hosp_delivery_id
LEFT JOIN misreported AS mc ON mc.feed = 'police' AND mc.record_key = b.police_id_number
