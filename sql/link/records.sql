-- The current version of every record of the three feeds, in one shape for linking.
-- A column a feed does not have is NULL. `uid` is "<feed>:<key>".
SELECT
    'pop:' || record_id AS uid, 'pop' AS feed, record_id AS key,
    name AS child_name, id_number AS child_id, sex, birth_date,
    mother_name, mother_id, division_code, birth_order,
    NULL::INTEGER AS plurality, NULL::INTEGER AS birth_rank,
    NULL::VARCHAR AS certificate_no, NULL::VARCHAR AS outcome,
    reported_on AS entered_on, NULL::VARCHAR AS registration_type, father_name
FROM pop
UNION ALL
SELECT
    'hosp:' || delivery_id, 'hosp', delivery_id,
    NULL, NULL, sex, CAST(delivered_at AS DATE),
    mother_name, mother_id, division_code, birth_order,
    plurality, birth_rank,
    certificate_no, outcome,
    registered_on, NULL, NULL
FROM hosp
UNION ALL
SELECT
    'police:' || id_number, 'police', id_number,
    name, id_number, sex, birth_date,
    mother_name, mother_id, division_code, NULL,
    NULL, NULL,
    certificate_no, NULL,
    registered_on, registration_type, NULL
FROM police
