-- Boys and girls among real live births per township and year, by each feed's own sex
-- and by the consensus. township = NULL is the whole county, birth_year = NULL all years
-- (births of unknown place or date count in the totals only).
WITH sexes AS (
    SELECT township, birth_year, 'pop' AS feed, pop_sex AS sex
    FROM report_births WHERE real_birth AND in_pop
    UNION ALL
    SELECT township, birth_year, 'hosp', hosp_sex FROM report_births WHERE real_birth AND in_hosp
    UNION ALL
    SELECT township, birth_year, 'police', police_sex
    FROM report_births WHERE real_birth AND in_police
    UNION ALL
    SELECT township, birth_year, 'consensus', sex FROM report_births WHERE real_birth
)
SELECT township, birth_year, feed,
    count(*) FILTER (WHERE sex = 'M') AS boys,
    count(*) FILTER (WHERE sex = 'F') AS girls
FROM sexes
GROUP BY GROUPING SETS ((township, birth_year, feed), (township, feed), (birth_year, feed), (feed))
HAVING NOT ((grouping(township) = 0 AND township IS NULL)
         OR (grouping(birth_year) = 0 AND birth_year IS NULL))
ORDER BY township NULLS FIRST, birth_year NULLS FIRST, feed
