-- One signature taken in from a worklist: position $position of case $case_id, signed by
-- $name ($role) on $signed_on with $decision and $reason, from export $export_id.
INSERT INTO signatures VALUES (
    $case_id, $position, $role, $name, $signed_on, $decision, $reason, $export_id, $imported_at
)
