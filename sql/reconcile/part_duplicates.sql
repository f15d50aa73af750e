-- The register repeats of one part's births.
WITH placed AS (
    SELECT unnest([pop_uid, hosp_uid, police_uid]) AS uid FROM link_births WHERE part = $part
)
SELECT uid, duplicate_of, method FROM link_duplicates
WHERE duplicate_of IN (SELECT uid FROM placed)
