-- How many headline figures a run kept.
SELECT count(*) FROM run_metrics WHERE run_id = $run_id
