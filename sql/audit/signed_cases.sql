-- The cases of the registered frame `wanted` (its case_id column: those whose
-- signatures' audit entries name a digest), with the columns their digest covers
-- (DIGEST_COLUMNS, recon/signoff/common.py). A join, not a bound list: a list of every
-- signed case of a big store takes seconds to bind (outputs/worklist_signatures.sql).
SELECT c.case_id, c.category, c.target_system, c.field, c.current_value,
       c.proposed_value, c.pop_record_id, c.hosp_delivery_id, c.police_id_number,
       c.duplicate_of
FROM cases AS c
SEMI JOIN wanted AS w ON c.case_id = w.case_id
ORDER BY c.case_id
