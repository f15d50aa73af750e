-- A run begins: its row in `runs`, finished (and summarised) by run/finish.sql.
INSERT INTO runs (run_id, started_at, as_of, inbox, tool_version)
VALUES ($run_id, $started_at, $as_of, $inbox, $tool_version)
