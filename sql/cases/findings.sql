-- Tonight's findings, as the reconcile stage wrote them, in the worklist's columns.
SELECT category, target_system, field, current_value, proposed_value, pop_record_id,
       hosp_delivery_id, police_id_number, duplicate_of, division_code, confidence, evidence
FROM findings
