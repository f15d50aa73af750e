-- Quarantined rows of the latest extract of each feed: records the reader could not split
-- into the header's fields (recon/ingest.py), and rows that failed a row rule.
WITH latest AS (SELECT feed, max(file_id) AS file_id FROM files GROUP BY feed)
SELECT q.feed,
    CASE WHEN q.reasons LIKE '字段数为%' THEN 'structure' ELSE 'rules' END AS kind,
    count(*) AS rows
FROM quarantine AS q
JOIN latest USING (feed, file_id)
GROUP BY ALL
ORDER BY q.feed, kind
