-- Every run's headline figures, oldest first.
SELECT m.run_id, r.as_of, m.metric, m.scope, m.value
FROM run_metrics AS m
JOIN runs AS r USING (run_id)
ORDER BY m.metric, m.scope, m.run_id
