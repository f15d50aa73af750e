-- The births the link stage wrote (of part $part, or of every part when $part is NULL).
SELECT birth, pop_uid, hosp_uid, police_uid FROM link_births
WHERE $part IS NULL OR part = $part
ORDER BY birth
