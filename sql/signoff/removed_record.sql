-- The register record $id as it is when a case removes it: kept in the ledger, so the
-- history keeps it. Dates as text, for the ledger's JSON.
SELECT record_id, version, name, sex, CAST(birth_date AS VARCHAR) AS birth_date,
       id_number, mother_name, mother_id, father_name, birth_order, division_code,
       CAST(reported_on AS VARCHAR) AS reported_on, reporting_unit
FROM pop
WHERE record_id = $id
