-- The register repeats of the births of part $part (of every part when $part is NULL).
SELECT uid, duplicate_of, method FROM link_duplicates
WHERE $part IS NULL OR duplicate_of IN (SELECT pop_uid FROM link_births WHERE part = $part)
