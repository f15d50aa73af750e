-- quarantine.csv: every rejected row of the files this run lists (new or skipped).
-- $file_ids: the run's files.
SELECT q.feed, f.file_name AS file, q.line, q.raw, q.reasons
FROM quarantine AS q
JOIN files AS f USING (file_id)
WHERE list_contains($file_ids, q.file_id)
ORDER BY f.file_id, q.line
