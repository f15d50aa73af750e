-- The register records a repeat finding names (the repeat and the record it repeats), of
-- part $part or of every part, in the records' order.
WITH repeats AS (
    SELECT uid, duplicate_of FROM link_duplicates
    WHERE $part IS NULL OR duplicate_of IN (SELECT pop_uid FROM link_births WHERE part = $part)
)
SELECT uid, key, division_code, entered_on FROM link_records
WHERE feed = 'pop'
  AND (uid IN (SELECT uid FROM repeats) OR uid IN (SELECT duplicate_of FROM repeats))
