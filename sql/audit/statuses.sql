-- Status changes the store holds against the chain's case_status entries, counted per
-- (case, from, to, cause): a row added to or deleted from case_status_log is listed;
-- then each case's status against the last status the chain gave it (open if none).
WITH chain AS (
    SELECT subject AS case_id, details ->> 'from' AS from_status,
           details ->> 'to' AS to_status, details ->> 'cause' AS cause, count(*) AS n,
           min(seq) AS seq
    FROM audit_log WHERE action = 'case_status' GROUP BY ALL
), logged AS (
    SELECT case_id, from_status, to_status, cause, count(*) AS n
    FROM case_status_log GROUP BY ALL
), last AS (
    SELECT subject AS case_id, arg_max(details ->> 'to', seq) AS status
    FROM audit_log WHERE action = 'case_status' GROUP BY ALL
)
SELECT coalesce(c.case_id, l.case_id) AS case_id,
       coalesce(c.from_status, l.from_status) || '→' || coalesce(c.to_status, l.to_status)
           AS change,
       c.seq,
       CASE WHEN c.case_id IS NULL THEN 'not_in_chain' ELSE 'deleted' END AS problem
FROM chain AS c
FULL JOIN logged AS l USING (case_id, from_status, to_status, cause)
WHERE c.n IS DISTINCT FROM l.n
UNION ALL
SELECT k.case_id, k.status, NULL, 'status:' || coalesce(t.status, 'open')
FROM cases AS k LEFT JOIN last AS t USING (case_id)
WHERE k.status <> coalesce(t.status, 'open')
ORDER BY seq NULLS FIRST, case_id
