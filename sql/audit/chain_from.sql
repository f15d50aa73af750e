-- The next $limit entries of the chain from seq $from_seq on (keyset on seq), for
-- `audit verify`: memory stays flat however long the log is.
SELECT seq, "at", run_id, action, subject, details, prev_hash, hash
FROM audit_log
WHERE seq >= $from_seq
ORDER BY seq
LIMIT $limit
