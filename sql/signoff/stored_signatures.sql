-- The signatures the store holds for the cases $ids (a list of case ids), in order.
SELECT case_id, position, role, name, signed_on, decision, reason
FROM signatures
WHERE list_contains($ids, case_id)
ORDER BY case_id, position
