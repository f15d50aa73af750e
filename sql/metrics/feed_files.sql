-- Every file ever ingested, with its run and counts (rows read = accepted + quarantined).
SELECT f.run_id, r.as_of, f.feed, f.file_name, f.format, f.encoding,
    f.rows_read, f.rows_accepted, f.rows_quarantined, f.rows_new, f.rows_unchanged
FROM files AS f
JOIN runs AS r USING (run_id)
ORDER BY f.run_id, f.feed, f.file_id
