-- One status change of case $case_id, from $from_status to $to_status at $changed_at,
-- for $cause (an export id, or 'apply'). The log row is written first: its CHECK refuses
-- a pair that is not an allowed transition, whatever the code around it does.
INSERT INTO case_status_log VALUES ($case_id, $from_status, $to_status, $changed_at, $cause);

UPDATE cases SET status = $to_status WHERE case_id = $case_id AND status = $from_status;
