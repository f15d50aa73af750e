-- The cases apply may apply: approved, not closed, and signed off by the store's own
-- signatures (the view `signed_off`, sql/signoff/signed_off.sql). The columns are
-- DIGEST_COLUMNS (recon/signoff/common.py), what each signature's digest covers.
SELECT case_id, category, target_system, field, current_value, proposed_value,
       pop_record_id, hosp_delivery_id, police_id_number, duplicate_of
FROM cases
WHERE status = 'approved'
  AND closed_run IS NULL
  AND case_id IN (SELECT case_id FROM signed_off)
ORDER BY case_id
