-- The ledger rows of the cases $ids (a list of case ids): those this apply just wrote.
SELECT * FROM corrections WHERE list_contains($ids, case_id)
