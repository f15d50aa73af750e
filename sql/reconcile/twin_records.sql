-- The hospital records with a plurality, of part $part or of every part, in the records'
-- order: a rank beyond the plurality is put right by the delivery's other babies.
SELECT key, mother_id, birth_date, plurality, birth_rank, division_code FROM link_records
WHERE feed = 'hosp' AND plurality >= 1
  AND ($part IS NULL OR uid IN (SELECT hosp_uid FROM link_births WHERE part = $part))
