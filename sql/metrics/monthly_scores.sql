-- The monthly ranking's ingredients per birth month and township, for months whose
-- births are all past every deadline (their figures no longer move).
-- Parameters: $as_of, $pop_days, $police_days.
SELECT birth_month, township,
    count(*) AS births,
    avg(in_pop::INTEGER) AS pop_coverage,
    avg(in_police::INTEGER) AS police_coverage,
    avg((pop_lag <= CAST($pop_days AS INTEGER))::INTEGER) FILTER (WHERE in_pop) AS pop_timely,
    avg((police_lag <= CAST($police_days AS INTEGER))::INTEGER) FILTER (WHERE in_police)
        AS police_timely,
    1 - avg(has_error::INTEGER) AS accuracy
FROM report_births
WHERE real_birth
    AND last_day(birth_date)
        <= CAST($as_of AS DATE) - greatest(CAST($pop_days AS INTEGER), CAST($police_days AS INTEGER))
GROUP BY ALL
ORDER BY birth_month, township
