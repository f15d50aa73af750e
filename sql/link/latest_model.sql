-- The newest linkage model of `link_models`, its settings and summary as JSON text.
SELECT trained_at, records, CAST(settings AS VARCHAR), CAST(summary AS VARCHAR)
FROM link_models
ORDER BY trained_at DESC
LIMIT 1
