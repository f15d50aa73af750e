-- The decisions signed on case $case_id so far, by position.
SELECT decision FROM signatures WHERE case_id = $case_id ORDER BY position
