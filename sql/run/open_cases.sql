-- The cases still open (not closed, not yet applied), per category.
SELECT category, count(*) AS cases
FROM cases
WHERE closed_run IS NULL AND status <> 'applied'
GROUP BY category
ORDER BY category
