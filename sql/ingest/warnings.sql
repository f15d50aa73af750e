-- Every check an accepted row of one file failed (kept, but worth a look).
-- Reads the view `incoming` (line, record_key, field, rule, value, message).
INSERT INTO warnings
SELECT $file_id, $feed, line, record_key, field, rule, value, message FROM incoming
