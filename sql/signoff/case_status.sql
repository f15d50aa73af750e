-- The status of case $case_id (no row if there is no such case).
SELECT status FROM cases WHERE case_id = $case_id
