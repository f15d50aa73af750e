-- 出生上报准确率 and 上报及时率 per township of the register; township = NULL is the county.
-- accurate: register records with no misreported, fictitious or duplicate case on them that
-- the latest run holds (not closed, not rejected) or that was applied; a corrected record was
-- still reported wrong. timely: entered within the deadline, by the record's own dates
-- (the figures a county office sees in the register). Parameters: $pop_days; $month_start
-- and $as_of, the month the county ranks townships by (一月一排名): records reported in it.
WITH flagged AS (
    SELECT DISTINCT pop_record_id AS record_id
    FROM cases
    WHERE ((closed_run IS NULL AND status <> 'rejected') OR status = 'applied')
        AND target_system = 'pop' AND pop_record_id IS NOT NULL
        AND category IN ('misreported', 'fictitious', 'duplicate')
)
SELECT CASE WHEN grouping(township) = 0 THEN township END AS township,
    grouping(township) = 1 AS county,
    count(*) AS records,
    count(*) FILTER (WHERE NOT flagged) AS accurate,
    count(*) FILTER (WHERE reported_on - birth_date <= CAST($pop_days AS INTEGER)) AS timely,
    count(*) FILTER (WHERE in_month) AS records_month,
    count(*) FILTER (WHERE in_month AND NOT flagged) AS accurate_month,
    count(*) FILTER (
        WHERE in_month AND reported_on - birth_date <= CAST($pop_days AS INTEGER)
    ) AS timely_month
FROM (
    SELECT substr(p.division_code, 1, 9) || '000' AS township, p.reported_on, p.birth_date,
        f.record_id IS NOT NULL AS flagged,
        coalesce(p.reported_on BETWEEN CAST($month_start AS DATE) AND CAST($as_of AS DATE), false)
            AS in_month
    FROM pop AS p
    LEFT JOIN flagged AS f USING (record_id)
)
GROUP BY GROUPING SETS ((township), ())
ORDER BY county DESC, township
