-- Corrections applied to date, from the ledger, by the township the case is routed to,
-- category and target system.
SELECT substr(c.division_code, 1, 9) || '000' AS township, c.category, k.target_system,
    count(*) AS corrections,
    min(k.applied_at)::DATE AS first_applied, max(k.applied_at)::DATE AS last_applied
FROM corrections AS k
JOIN cases AS c USING (case_id)
GROUP BY ALL
ORDER BY township, c.category, k.target_system
