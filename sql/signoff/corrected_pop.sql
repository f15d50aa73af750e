-- Rebuild the corrected register from the current pop records and the whole ledger:
-- nothing in it is edited in place, so applying again gives the same register.
DELETE FROM corrected_pop;

INSERT INTO corrected_pop
WITH fixes AS (
    SELECT record_id,
           arg_max(new_value, applied_at) FILTER (WHERE field = 'name') AS name,
           bool_or(field = 'name') AS has_name,
           arg_max(new_value, applied_at) FILTER (WHERE field = 'sex') AS sex,
           bool_or(field = 'sex') AS has_sex,
           arg_max(new_value, applied_at) FILTER (WHERE field = 'birth_date') AS birth_date,
           bool_or(field = 'birth_date') AS has_birth_date,
           arg_max(new_value, applied_at) FILTER (WHERE field = 'id_number') AS id_number,
           bool_or(field = 'id_number') AS has_id_number,
           arg_max(new_value, applied_at) FILTER (WHERE field = 'mother_name') AS mother_name,
           bool_or(field = 'mother_name') AS has_mother_name,
           arg_max(new_value, applied_at) FILTER (WHERE field = 'mother_id') AS mother_id,
           bool_or(field = 'mother_id') AS has_mother_id,
           arg_max(new_value, applied_at) FILTER (WHERE field = 'father_name') AS father_name,
           bool_or(field = 'father_name') AS has_father_name,
           arg_max(new_value, applied_at) FILTER (WHERE field = 'birth_order') AS birth_order,
           bool_or(field = 'birth_order') AS has_birth_order,
           arg_max(new_value, applied_at) FILTER (WHERE field = 'division_code') AS division_code,
           bool_or(field = 'division_code') AS has_division_code,
           string_agg(case_id, ',' ORDER BY case_id) AS case_id,
           max(applied_at) AS applied_at
    FROM corrections
    WHERE target_system = 'pop' AND action = 'update'
    GROUP BY record_id
)
SELECT p.record_id, p.version, p.file_id, p.line, p.row_hash,
       CASE WHEN f.has_name THEN f.name ELSE p.name END,
       CASE WHEN f.has_sex THEN f.sex ELSE p.sex END,
       CASE WHEN f.has_birth_date THEN CAST(f.birth_date AS DATE) ELSE p.birth_date END,
       CASE WHEN f.has_id_number THEN f.id_number ELSE p.id_number END,
       CASE WHEN f.has_mother_name THEN f.mother_name ELSE p.mother_name END,
       CASE WHEN f.has_mother_id THEN f.mother_id ELSE p.mother_id END,
       CASE WHEN f.has_father_name THEN f.father_name ELSE p.father_name END,
       CASE WHEN f.has_birth_order THEN CAST(f.birth_order AS INTEGER) ELSE p.birth_order END,
       CASE WHEN f.has_division_code THEN f.division_code ELSE p.division_code END,
       p.reported_on, p.reporting_unit, p.extra,
       f.case_id, f.applied_at
FROM pop AS p
LEFT JOIN fixes AS f USING (record_id)
WHERE p.record_id NOT IN (
    SELECT record_id FROM corrections
    WHERE target_system = 'pop' AND action = 'remove' AND record_id IS NOT NULL
)
UNION ALL
-- Births found missing, added with the values the signers signed; the case id stands in
-- for a register number until the register assigns one.
SELECT c.record_id, NULL, NULL, NULL, NULL,
       c.record ->> 'name',
       c.record ->> 'sex',
       TRY_CAST(c.record ->> 'birth_date' AS DATE),
       c.record ->> 'id_number',
       c.record ->> 'mother_name',
       c.record ->> 'mother_id',
       c.record ->> 'father_name',
       TRY_CAST(c.record ->> 'birth_order' AS INTEGER),
       c.record ->> 'division_code',
       NULL, NULL, NULL,
       c.case_id, c.applied_at
FROM corrections AS c
WHERE c.target_system = 'pop' AND c.action = 'add'
ORDER BY 1
