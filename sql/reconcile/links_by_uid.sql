-- links.sql for links a version before 2026-12-03 wrote, which carry no part: the links
-- among the records of the births of part $part.
WITH placed AS (
    SELECT unnest([pop_uid, hosp_uid, police_uid]) AS uid FROM link_births WHERE part = $part
)
SELECT uid_l, uid_r, method, score FROM links
WHERE $part IS NULL OR uid_l IN (SELECT uid FROM placed)
