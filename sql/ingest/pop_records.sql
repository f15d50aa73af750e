-- New pop records, and new versions of records whose values changed, from one file.
-- Reads the view `staged` (the file's accepted rows, canonical columns plus line and extra).
-- A row identical to the current version of its key adds nothing.
-- $file_id: the file being ingested.
INSERT INTO pop_records
SELECT
    s.record_id,
    coalesce(c.version, 0) + 1 AS version,
    $file_id AS file_id,
    s.line,
    s.row_hash,
    s.name,
    s.sex,
    s.birth_date,
    s.id_number,
    s.mother_name,
    s.mother_id,
    s.father_name,
    s.birth_order,
    s.division_code,
    s.reported_on,
    s.reporting_unit,
    s.extra
FROM (
    SELECT *, md5(CAST(ROW(name, sex, birth_date, id_number, mother_name, mother_id, father_name, birth_order, division_code, reported_on, reporting_unit, extra) AS VARCHAR)) AS row_hash FROM staged
) AS s
-- The current version of this file's keys only: the view `pop` would rank every stored
-- version once per chunk, which grows with the store.
-- Only earlier files' versions: a key's rows of this file are all in one chunk, so the
-- chunks stored before hold none of this one's keys (and their row groups are skipped).
LEFT JOIN (
    SELECT record_id, max(version) AS version, arg_max(row_hash, version) AS row_hash
    FROM pop_records
    WHERE record_id IN (SELECT record_id FROM staged) AND file_id < $file_id
    GROUP BY record_id
) AS c USING (record_id)
WHERE c.record_id IS NULL OR c.row_hash <> s.row_hash;
