-- Tonight's cases (view `tonight`) that are not open now: opened or reopened tonight.
SELECT case_id, category, target_system
FROM tonight
WHERE case_id NOT IN (SELECT case_id FROM cases WHERE closed_run IS NULL)
ORDER BY case_id
