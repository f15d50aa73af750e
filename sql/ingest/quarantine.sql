-- Every row of one file that validation rejected, with its raw text and reasons.
-- Reads the view `incoming` (line, raw, reasons). $file_id, $feed: the file ingested.
INSERT INTO quarantine SELECT $file_id, $feed, line, raw, reasons FROM incoming
