-- Days from birth to entry, per feed, over the real births each feed holds.
SELECT 'pop' AS feed, pop_lag AS lag, count(*) AS records
FROM report_births WHERE real_birth AND in_pop AND pop_lag IS NOT NULL GROUP BY ALL
UNION ALL
SELECT 'police', police_lag, count(*)
FROM report_births WHERE real_birth AND in_police AND police_lag IS NOT NULL GROUP BY ALL
UNION ALL
SELECT 'hosp', hosp_lag, count(*)
FROM report_births WHERE real_birth AND in_hosp AND hosp_lag IS NOT NULL GROUP BY ALL
ORDER BY feed, lag
