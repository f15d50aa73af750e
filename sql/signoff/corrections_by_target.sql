-- Ledger rows per target system (pop, hosp, police).
SELECT target_system, count(*) FROM corrections GROUP BY ALL ORDER BY 1
