-- The corrections ledger as stored, by case id: each row against its audit entry's digest
-- (sql/audit/corrections.sql).
SELECT * FROM corrections ORDER BY case_id
