-- Every finished run, oldest first: the report is of the last one.
SELECT run_id, as_of, finished_at FROM runs WHERE finished_at IS NOT NULL ORDER BY run_id
