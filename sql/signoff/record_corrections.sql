-- Append one ledger row per approved, signed-off case (table `to_apply`: case_id).
-- $applied_at: this apply. A case already in the ledger is never written again.
INSERT INTO corrections
SELECT c.case_id,
       c.target_system,
       CASE
           WHEN c.category = 'misreported' THEN 'update'
           WHEN c.category IN ('fictitious', 'duplicate') THEN 'remove'
           ELSE 'add'
       END AS action,
       CASE c.target_system
           WHEN 'pop' THEN c.pop_record_id
           WHEN 'hosp' THEN c.hosp_delivery_id
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
        FROM signatures AS s WHERE s.case_id = c.case_id) AS signatures
FROM cases AS c
JOIN to_apply USING (case_id)
WHERE c.case_id NOT IN (SELECT case_id FROM corrections)
ORDER BY c.case_id
