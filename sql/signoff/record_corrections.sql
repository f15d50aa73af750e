-- Append one ledger row per case about to be applied (table `to_apply`: case_id and
-- record, the JSON of the record added or removed). $applied_at: this apply.
-- A case already in the ledger is never written again.
INSERT INTO corrections (
    case_id, target_system, action, record_id, field, old_value, new_value, evidence,
    applied_at, signatures, category, record
)
SELECT c.case_id,
       c.target_system,
       CASE
           WHEN c.category = 'misreported' THEN 'update'
           WHEN c.category IN ('fictitious', 'duplicate') THEN 'remove'
           ELSE 'add'
       END AS action,
       -- An added birth has no record in its target yet: it is known by its case id.
       CASE
           WHEN c.category = 'missing' THEN c.case_id
           WHEN c.target_system = 'pop' THEN c.pop_record_id
           WHEN c.target_system = 'hosp' THEN c.hosp_delivery_id
           ELSE c.police_id_number
       END AS record_id,
       c.field,
       c.current_value AS old_value,
       CASE
           WHEN c.category = 'duplicate' THEN 'duplicate_of:' || coalesce(c.duplicate_of, '')
           WHEN c.category = 'fictitious' THEN NULL
           ELSE c.proposed_value
       END AS new_value,
       c.evidence,
       $applied_at,
       (SELECT to_json(list({'position': s.position, 'role': s.role, 'name': s.name,
                             'signed_on': s.signed_on, 'decision': s.decision,
                             'export_id': s.export_id} ORDER BY s.position))
        FROM signatures AS s WHERE s.case_id = c.case_id) AS signatures,
       c.category,
       a.record::JSON
FROM cases AS c
JOIN to_apply AS a USING (case_id)
WHERE c.case_id NOT IN (SELECT case_id FROM corrections)
ORDER BY c.case_id
