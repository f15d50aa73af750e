-- Whether the store has a `link_models` table at all (1 or 0).
SELECT count(*) FROM duckdb_tables() WHERE table_name = 'link_models'
