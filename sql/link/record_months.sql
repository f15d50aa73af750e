-- Records per birth month (yyyymm; NULL: no birth date), to cut a big store's link into
-- parts. Reads the temporary table `link_records` (records.sql, materialised once).
SELECT year(birth_date) * 100 + month(birth_date) AS month, count(*) AS records
FROM link_records
GROUP BY 1
ORDER BY 1 NULLS LAST
