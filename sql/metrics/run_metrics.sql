-- Keep run $run_id's headline figures (view `incoming_metrics`: metric, scope, value).
INSERT INTO run_metrics SELECT $run_id, metric, scope, value FROM incoming_metrics
