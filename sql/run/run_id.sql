-- The next run's id.
SELECT nextval('run_ids')
