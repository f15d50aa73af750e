-- The links among the records of part $part (of every part when $part is NULL), in the
-- order the link stage linked them.
SELECT uid_l, uid_r, method, score FROM links
WHERE $part IS NULL OR part = $part
