-- The chain's correction entries (one per applied case, with the ledger row's digest).
SELECT subject AS case_id, details ->> 'digest' AS digest, seq
FROM audit_log
WHERE action = 'correction'
ORDER BY seq
