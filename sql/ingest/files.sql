-- One row per file ingested: what it was, and how its rows were split.
INSERT INTO files VALUES (
    $file_id, $run_id, $feed, $file_name, $sha256, $size_bytes, $format, $encoding,
    $header, $rows_read, $rows_accepted, $rows_quarantined, $rows_new, $rows_unchanged
)
