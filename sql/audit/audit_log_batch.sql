-- Append a batch of chained entries (recon/store/audit.py `append_many`), in seq order.
-- Reads the registered view `audit_batch`: the entries with details as JSON text.
INSERT INTO audit_log (seq, "at", run_id, action, subject, details, prev_hash, hash)
SELECT seq, "at", run_id, action, subject, details::JSON, prev_hash, hash
FROM audit_batch
ORDER BY seq
