-- The pass across the parts is linked: its working tables go (DuckDB's memory).
DROP TABLE relink;
DROP TABLE relink_births;
