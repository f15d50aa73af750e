-- The corrected register as corrected_pop.csv has it, by record id.
SELECT * FROM corrected_pop ORDER BY record_id
