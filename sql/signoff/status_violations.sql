-- Cases whose status the log and the signatures do not bear out (for `audit verify`), one
-- line of text each: the last logged status differs, or an approved or applied case is not
-- signed off. Reads the view `signed_off` (sql/signoff/signed_off.sql).
WITH last AS (
    SELECT case_id, arg_max(to_status, changed_at) AS logged
    FROM case_status_log GROUP BY case_id
)
SELECT c.case_id || ': ' || c.status || ' (log: ' || coalesce(l.logged, 'open') || ')'
FROM cases AS c LEFT JOIN last AS l USING (case_id)
WHERE c.status <> coalesce(l.logged, 'open')
   OR (c.status IN ('approved', 'applied')
       AND c.case_id NOT IN (SELECT case_id FROM signed_off))
ORDER BY c.case_id
