-- Whether $table names a table of the store itself (schema main, not temporary): the one
-- identifier formatted into a statement (replace_table, recon/store/connection.py) must.
SELECT count(*)
FROM duckdb_tables()
WHERE database_name = current_database()
  AND schema_name = 'main'
  AND NOT temporary
  AND table_name = $table
