-- Whether this connection holds the link stage's materialised records.
SELECT count(*) > 0 FROM duckdb_tables() WHERE table_name = 'link_records' AND temporary
