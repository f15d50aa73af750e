-- The signatures of the worklist's cases $ids (a list of case ids), one row per position,
-- the date as text, as the worklist's sig<n>_* columns show them.
SELECT case_id, position, role, name, CAST(signed_on AS VARCHAR) AS date, decision, reason
FROM signatures
WHERE list_contains($ids, case_id)
