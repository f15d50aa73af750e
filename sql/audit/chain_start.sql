-- The first $limit entries of the chain from the very lowest seq, so a forged seq 0 shows
-- (`audit verify` reads the chain in chunks; audit/chain_from.sql reads the next ones).
SELECT seq, "at", run_id, action, subject, details, prev_hash, hash
FROM audit_log
ORDER BY seq
LIMIT $limit
