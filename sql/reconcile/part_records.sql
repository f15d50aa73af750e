-- The records of the births of one part of the link, with their register repeats.
-- Reads `link_records` (the link stage's materialised records) or the view of them.
WITH placed AS (
    SELECT unnest([pop_uid, hosp_uid, police_uid]) AS uid FROM link_births WHERE part = $part
)
SELECT * FROM link_records
WHERE uid IN (SELECT uid FROM placed)
   OR uid IN (SELECT uid FROM link_duplicates WHERE duplicate_of IN (SELECT uid FROM placed))
