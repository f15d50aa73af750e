-- The corrections ledger as corrections.csv and the notices show it, oldest first.
-- $target: 'pop', 'hosp', 'police', or NULL for every target.
SELECT case_id, category, target_system, action, record_id, field, old_value, new_value,
       CAST(record AS VARCHAR) AS record, evidence, applied_at,
       CAST(signatures AS STRUCT(position INTEGER, role VARCHAR, name VARCHAR,
                                 signed_on DATE, decision VARCHAR, export_id VARCHAR)[])
           AS signatures
FROM corrections
WHERE $target IS NULL OR target_system = $target
ORDER BY applied_at, case_id
