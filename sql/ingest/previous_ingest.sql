-- The file already ingested with these bytes, if any: it is not read again.
SELECT file_id, feed, file_name, rows_read, rows_accepted, rows_quarantined, format, encoding
FROM files
WHERE sha256 = $sha256
