-- Append one entry to the audit chain (recon/store/audit.py `append`).
-- $seq, $at, $run_id, $action, $subject: the entry; $details: its canonical JSON text
-- (or NULL); $prev_hash, $hash: the chain's link and the entry's own hash.
INSERT INTO audit_log (seq, "at", run_id, action, subject, details, prev_hash, hash)
VALUES ($seq, $at, $run_id, $action, $subject, $details::JSON, $prev_hash, $hash)
