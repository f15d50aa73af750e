-- Rows failing each row rule in one file, beside the rows read (the report's rates).
-- Reads the view `incoming` (field, rule, severity, failures).
INSERT INTO rule_results
SELECT $file_id, $feed, field, rule, severity, failures, $rows_read FROM incoming
