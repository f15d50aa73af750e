-- The cases a worklist export hands out: not closed, still to sign (open or signing).
-- $prefix: a division code prefix (zeros trimmed), or NULL for every division.
SELECT case_id, category, target_system, field, current_value, proposed_value,
       pop_record_id, hosp_delivery_id, police_id_number, duplicate_of, division_code,
       round(confidence, 2) AS confidence, evidence, status
FROM cases
WHERE closed_run IS NULL
  AND status IN ('open', 'signing')
  AND ($prefix IS NULL OR starts_with(coalesce(division_code, ''), $prefix))
ORDER BY division_code, category, target_system, case_id
