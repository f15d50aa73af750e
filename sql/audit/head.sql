-- The chain's last entry (seq, hash); no row for an empty log.
SELECT seq, hash
FROM audit_log
WHERE seq = (SELECT max(seq) FROM audit_log)
