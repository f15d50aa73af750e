-- The links among the records of part $part (of every part when $part is NULL), in the
-- order the link stage linked them.
WITH placed AS (
    SELECT unnest([pop_uid, hosp_uid, police_uid]) AS uid FROM link_births WHERE part = $part
)
SELECT uid_l, uid_r, method, score FROM links
WHERE $part IS NULL OR uid_l IN (SELECT uid FROM placed)
