-- The exported cases as stored now (the view `exported_ids`: case_id), each with
-- `opened_on`, the as-of date of the run that opened it.
SELECT c.*, r.as_of AS opened_on
FROM cases AS c
JOIN exported_ids USING (case_id)
LEFT JOIN runs AS r ON r.run_id = c.opened_run
ORDER BY case_id
