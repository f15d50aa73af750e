-- Each row rule's failures per feed over the files of the latest extract of each feed.
WITH latest AS (SELECT feed, max(file_id) AS file_id FROM files GROUP BY feed)
SELECT r.feed, r.field, r.rule, r.severity, sum(r.failures)::BIGINT AS failures, max(r.rows) AS rows
FROM rule_results AS r
JOIN latest USING (feed, file_id)
GROUP BY ALL
ORDER BY r.feed, failures DESC, r.field, r.rule
