-- Every case by category and where it stands; a finding that went away is "closed".
SELECT category,
    CASE WHEN closed_run IS NOT NULL AND status IN ('open', 'signing') THEN 'closed'
         ELSE status END AS status,
    count(*) AS cases
FROM cases
GROUP BY ALL
ORDER BY category, status
