-- How many rows the corrections ledger holds.
SELECT count(*) FROM corrections
