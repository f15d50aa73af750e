-- The audit head (seq, hash as text) the latest run that recorded one kept in its summary.
SELECT json_extract_string(summary, '$.audit_head.seq'),
       json_extract_string(summary, '$.audit_head.hash')
FROM runs
WHERE json_extract(summary, '$.audit_head') IS NOT NULL
ORDER BY run_id DESC
LIMIT 1
