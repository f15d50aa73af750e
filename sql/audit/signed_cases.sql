-- The cases $ids (a list: those whose signatures' audit entries name a digest), with the
-- columns their digest covers (DIGEST_COLUMNS, recon/signoff/common.py).
SELECT case_id, category, target_system, field, current_value, proposed_value,
       pop_record_id, hosp_delivery_id, police_id_number, duplicate_of
FROM cases
WHERE list_contains($ids, case_id)
ORDER BY case_id
