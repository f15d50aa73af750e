-- Signatures the store holds against the signature entries of the audit chain: a row
-- edited, added or deleted in `signatures` (or an entry without its row) is listed.
-- Entries written before signatures carried their content (no `name`) are compared on
-- position, role, decision and export only.
WITH chain AS (
    SELECT subject AS case_id,
           CAST(details ->> 'position' AS INTEGER) AS position,
           details ->> 'role' AS role,
           details ->> 'name' AS name,
           TRY_CAST(details ->> 'signed_on' AS DATE) AS signed_on,
           details ->> 'decision' AS decision,
           details ->> 'reason' AS reason,
           details ->> 'export_id' AS export_id,
           json_exists(details, '$.name') AS complete,
           seq
    FROM audit_log
    WHERE action = 'signature'
), twice AS (
    SELECT case_id, position, min(seq) AS seq FROM chain GROUP BY ALL HAVING count(*) > 1
)
SELECT coalesce(c.case_id, s.case_id) AS case_id,
       coalesce(c.position, s.position) AS position,
       c.seq,
       CASE
           WHEN c.case_id IS NULL THEN 'not_in_chain'
           WHEN s.case_id IS NULL THEN 'deleted'
           WHEN c.role IS DISTINCT FROM s.role THEN 'role'
           WHEN c.decision IS DISTINCT FROM s.decision THEN 'decision'
           WHEN c.export_id IS DISTINCT FROM s.export_id THEN 'export_id'
           WHEN c.complete AND c.name IS DISTINCT FROM s.name THEN 'name'
           WHEN c.complete AND c.signed_on IS DISTINCT FROM s.signed_on THEN 'signed_on'
           WHEN c.complete AND coalesce(c.reason, '') <> coalesce(s.reason, '') THEN 'reason'
       END AS problem
FROM chain AS c
FULL JOIN signatures AS s USING (case_id, position)
WHERE problem IS NOT NULL
UNION ALL
SELECT case_id, position, seq, 'twice' FROM twice
ORDER BY seq NULLS FIRST, case_id, position
