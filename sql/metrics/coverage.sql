-- Coverage and timeliness per township and feed, over real births due in that feed.
-- held: the feed holds the birth; timely: its record was entered within the deadline.
-- Parameters: $pop_days, $police_days, $hosp_days.
SELECT township, 'pop' AS feed,
    count(*) FILTER (WHERE due_pop) AS due,
    count(*) FILTER (WHERE due_pop AND in_pop) AS held,
    count(*) FILTER (WHERE due_pop AND in_pop AND pop_lag <= CAST($pop_days AS INTEGER)) AS timely
FROM report_births WHERE real_birth GROUP BY township
UNION ALL
SELECT township, 'police',
    count(*) FILTER (WHERE due_police),
    count(*) FILTER (WHERE due_police AND in_police),
    count(*) FILTER (WHERE due_police AND in_police
        AND police_lag <= CAST($police_days AS INTEGER))
FROM report_births WHERE real_birth GROUP BY township
UNION ALL
SELECT township, 'hosp',
    count(*) FILTER (WHERE due_hosp),
    count(*) FILTER (WHERE due_hosp AND in_hosp),
    count(*) FILTER (WHERE due_hosp AND in_hosp AND hosp_lag <= CAST($hosp_days AS INTEGER))
FROM report_births WHERE real_birth GROUP BY township
UNION ALL
-- 出生医学证明办理率: real births due with the police that carry a certificate number.
SELECT township, 'certificate',
    count(*) FILTER (WHERE due_police),
    count(*) FILTER (WHERE due_police AND has_certificate),
    NULL
FROM report_births WHERE real_birth GROUP BY township
ORDER BY township, feed
