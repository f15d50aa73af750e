-- The closed cohort for multiple-systems estimation: real live births older than the
-- longest deadline, so every source had its chance to record them. Parameters: $as_of,
-- $days (the longest deadline). pop_only_flagged: register-only records flagged
-- fictitious and not yet confirmed either way (the sensitivity analysis keeps them).
SELECT in_hosp, in_police, in_pop, sex, township,
    real_birth,
    coalesce(outcome, '活产') = '活产'
        AND in_pop AND NOT in_hosp AND NOT in_police
        AND coalesce(fictitious_status, 'open') IN ('open', 'signing') AS pop_only_flagged,
    count(*) AS births
FROM report_births
WHERE birth_date <= CAST($as_of AS DATE) - CAST($days AS INTEGER)
GROUP BY ALL
