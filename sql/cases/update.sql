-- Fold tonight's findings (view `tonight`, with case_id) into the cases.
-- $run_id: this run. Kept cases refresh their evidence; signatures live elsewhere and stay.
-- What a signature is about (values and records) is kept once signing began, so what was
-- signed is what apply applies; an open case takes tonight's.
UPDATE cases SET
    current_value = CASE WHEN cases.status = 'open' THEN t.current_value ELSE cases.current_value END,
    proposed_value = CASE WHEN cases.status = 'open' THEN t.proposed_value ELSE cases.proposed_value END,
    pop_record_id = CASE WHEN cases.status = 'open' THEN t.pop_record_id ELSE cases.pop_record_id END,
    hosp_delivery_id = CASE WHEN cases.status = 'open' THEN t.hosp_delivery_id ELSE cases.hosp_delivery_id END,
    police_id_number = CASE WHEN cases.status = 'open' THEN t.police_id_number ELSE cases.police_id_number END,
    duplicate_of = CASE WHEN cases.status = 'open' THEN t.duplicate_of ELSE cases.duplicate_of END,
    division_code = t.division_code,
    confidence = t.confidence,
    evidence = t.evidence,
    last_seen_run = $run_id,
    closed_run = NULL
FROM tonight AS t
WHERE cases.case_id = t.case_id;

INSERT INTO cases
SELECT t.case_id, t.category, t.target_system, t.field, t.current_value, t.proposed_value,
       t.pop_record_id, t.hosp_delivery_id, t.police_id_number, t.duplicate_of,
       t.division_code, t.confidence, t.evidence, 'open', $run_id, $run_id, NULL
FROM tonight AS t
WHERE t.case_id NOT IN (SELECT case_id FROM cases);

-- A finding that is gone (a source was corrected) closes its case; applied ones are done;
-- held ones (view `held`: their evidence needs a feed never received) wait for it.
UPDATE cases SET closed_run = $run_id
WHERE closed_run IS NULL
  AND status <> 'applied'
  AND case_id NOT IN (SELECT case_id FROM tonight)
  AND case_id NOT IN (SELECT case_id FROM held);
