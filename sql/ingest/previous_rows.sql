-- The rows read from the last file of $feed ingested (no row before its first file): the
-- expectations compare a new file's size with it.
SELECT rows_read FROM files WHERE feed = $feed ORDER BY file_id DESC LIMIT 1
