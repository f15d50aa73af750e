-- The open cases tonight closes: found no more (not in view `tonight`) and not held (view
-- `held`: their evidence needs a feed never received); applied ones are done, not closed.
SELECT case_id
FROM cases
WHERE closed_run IS NULL
  AND status <> 'applied'
  AND case_id NOT IN (SELECT case_id FROM tonight)
  AND case_id NOT IN (SELECT case_id FROM held)
ORDER BY case_id
