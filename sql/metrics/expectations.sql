-- Great Expectations results of the latest extract of each feed.
WITH latest AS (SELECT feed, max(file_id) AS file_id FROM files GROUP BY feed)
SELECT e.feed, fl.file_name, e.expectation, e.label, e."column", e.success,
    e.observed_value, e.unexpected_count, e.unexpected_percent, e.element_count
FROM expectation_results AS e
JOIN latest USING (feed, file_id)
JOIN files AS fl USING (file_id)
ORDER BY e.feed, e.success, e.expectation, e."column"
