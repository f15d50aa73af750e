-- New hosp records, and new versions of records whose values changed, from one file.
-- Reads the view `staged` (the file's accepted rows, canonical columns plus line and extra).
-- A row identical to the current version of its key adds nothing.
-- $file_id: the file being ingested.
INSERT INTO hosp_records
SELECT
    s.delivery_id,
    coalesce(c.version, 0) + 1 AS version,
    $file_id AS file_id,
    s.line,
    s.row_hash,
    s.facility_code,
    s.facility_name,
    s.mother_name,
    s.mother_id,
    s.delivered_at,
    s.sex,
    s.plurality,
    s.birth_rank,
    s.birth_order,
    s.birth_weight_g,
    s.gestation_weeks,
    s.outcome,
    s.certificate_no,
    s.division_code,
    s.registered_on,
    s.extra
FROM (
    SELECT *, md5(CAST(ROW(facility_code, facility_name, mother_name, mother_id, delivered_at, sex, plurality, birth_rank, birth_order, birth_weight_g, gestation_weeks, outcome, certificate_no, division_code, registered_on, extra) AS VARCHAR)) AS row_hash FROM staged
) AS s
-- The current version of this file's keys only: the view `hosp` would rank every stored
-- version once per chunk, which grows with the store.
-- Only earlier files' versions: a key's rows of this file are all in one chunk, so the
-- chunks stored before hold none of this one's keys (and their row groups are skipped).
LEFT JOIN (
    SELECT delivery_id, max(version) AS version, arg_max(row_hash, version) AS row_hash
    FROM hosp_records
    WHERE delivery_id IN (SELECT delivery_id FROM staged) AND file_id < $file_id
    GROUP BY delivery_id
) AS c USING (delivery_id)
WHERE c.delivery_id IS NULL OR c.row_hash <> s.row_hash;
