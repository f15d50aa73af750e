-- The newest file ingested (0 before the first).
SELECT coalesce(max(file_id), 0) FROM files
