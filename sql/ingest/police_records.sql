-- New police records, and new versions of records whose values changed, from one file.
-- Reads the view `staged` (the file's accepted rows, canonical columns plus line and extra).
-- A row identical to the current version of its key adds nothing.
-- $file_id: the file being ingested.
INSERT INTO police_records
SELECT
    s.id_number,
    coalesce(c.version, 0) + 1 AS version,
    $file_id AS file_id,
    s.line,
    s.row_hash,
    s.name,
    s.sex,
    s.birth_date,
    s.certificate_no,
    s.mother_name,
    s.mother_id,
    s.household_no,
    s.division_code,
    s.registered_on,
    s.registration_type,
    s.extra
FROM (
    SELECT *, md5(CAST(ROW(name, sex, birth_date, certificate_no, mother_name, mother_id, household_no, division_code, registered_on, registration_type, extra) AS VARCHAR)) AS row_hash FROM staged
) AS s
-- The current version of this file's keys only: the view `police` would rank every stored
-- version once per chunk, which grows with the store.
-- Only earlier files' versions: a key's rows of this file are all in one chunk, so the
-- chunks stored before hold none of this one's keys (and their row groups are skipped).
LEFT JOIN (
    SELECT id_number, max(version) AS version, arg_max(row_hash, version) AS row_hash
    FROM police_records
    WHERE id_number IN (SELECT id_number FROM staged) AND file_id < $file_id
    GROUP BY id_number
) AS c USING (id_number)
WHERE c.id_number IS NULL OR c.row_hash <> s.row_hash;
