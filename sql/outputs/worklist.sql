-- worklist.csv: the open cases (not closed, not yet applied), by place, then category.
SELECT case_id, category, target_system, field, current_value, proposed_value,
       pop_record_id, hosp_delivery_id, police_id_number, duplicate_of, division_code,
       round(confidence, 2) AS confidence, evidence, status
FROM cases
WHERE closed_run IS NULL AND status <> 'applied'
ORDER BY division_code, category, target_system, case_id
