-- The links among one part's records.
WITH placed AS (
    SELECT unnest([pop_uid, hosp_uid, police_uid]) AS uid FROM link_births WHERE part = $part
)
SELECT uid_l, uid_r, method, score FROM links WHERE uid_l IN (SELECT uid FROM placed)
