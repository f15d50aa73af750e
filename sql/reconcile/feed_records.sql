-- One feed's records (of the births of part $part, or of every part when $part is NULL),
-- only the columns reconcile reads. Reads `link_records` (the link stage's materialised
-- records, or the view of them).
WITH placed AS (
    SELECT unnest([pop_uid, hosp_uid, police_uid]) AS uid FROM link_births WHERE part = $part
)
SELECT
    uid, key, child_name, child_id, sex, birth_date, mother_name, mother_id, division_code,
    birth_order, certificate_no, outcome, father_name
FROM link_records
WHERE feed = $feed AND ($part IS NULL OR uid IN (SELECT uid FROM placed))
