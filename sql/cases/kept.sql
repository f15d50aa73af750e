-- How many of tonight's findings (view `tonight`, with case_id) are cases already known.
SELECT count(*) FROM tonight WHERE case_id IN (SELECT case_id FROM cases)
