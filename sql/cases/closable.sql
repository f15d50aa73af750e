-- The cases tonight could close (not closed, not applied), with what a hold on findings
-- needing a feed never received looks at (category, target_system, field).
SELECT case_id, category, target_system, field
FROM cases
WHERE closed_run IS NULL AND status <> 'applied'
