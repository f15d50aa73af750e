-- Open cases by category, target feed and township.
SELECT substr(division_code, 1, 9) || '000' AS township, category, target_system,
    count(*) AS cases
FROM cases
WHERE closed_run IS NULL AND status NOT IN ('applied', 'rejected')
GROUP BY ALL
ORDER BY township, category, target_system
